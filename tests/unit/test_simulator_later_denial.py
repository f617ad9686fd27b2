"""A later payer's denial in the simulated payer: it denies the patient's share the
prior payers left, never the whole charge again."""

from __future__ import annotations

from random import Random

import pytest

from services.simulator.adjudicate import adjudicate, check_balance
from services.simulator.model import DENIED, Accumulators, Cas
from tests.unit.test_simulator_adjudicate import TODAY, claim, later, line

pytestmark = pytest.mark.unit


def test_a_secondary_that_denies_denies_only_what_the_primary_left() -> None:
    """The Medigap denying a claim Medicare paid (here at random, CO-50) adjusts the
    patient's share Medicare left, not the whole charge: the rest stays Medicare's
    (OA-23), so the claim's adjustments never exceed its charge (a demo day posted
    $345.00 twice when the secondary denied the whole charge)."""
    c = later(
        "MGP01", line("99214", 22000), line("36415", 2500, 2), left=(13000, 300), prior=(0, 0)
    )
    r = adjudicate(c, Accumulators(2025), TODAY, rng=Random(0), denial_rate=1.0,
                   denials=[("CO", "50", ("N115",))])  # fmt: skip
    check_balance(r)
    assert r.status == DENIED
    assert r.paid_cents == 0
    assert r.lines[0].adjustments == (Cas("OA", "23", 22000 - 13000), Cas("CO", "50", 13000))
    assert r.lines[1].adjustments == (Cas("OA", "23", 2500 - 300), Cas("CO", "50", 300))
    primary = adjudicate(claim("MCR01", line("99214", 22000)), Accumulators(2025), TODAY,
                         rng=Random(0), denial_rate=1.0, denials=[("CO", "50", ("N115",))])  # fmt: skip
    assert primary.lines[0].adjustments == (Cas("CO", "50", 22000),)  # a primary: the whole
