"""Claims reads the clearinghouse's 999 and 277CA: checked against what the simulator's
clearinghouse writes (a different room's writer, so the two meet on the standard)."""

from __future__ import annotations

import datetime as dt

import pytest

from runtime.x12 import Envelope
from services.claims.x12_acks import claims_by_set, read_277ca, read_999
from services.simulator.adjudicate import adjudicate
from services.simulator.clearinghouse import front_end_edits
from services.simulator.model import Accumulators
from services.simulator.payers import PAYERS
from services.simulator.samples import Claim837 as C
from services.simulator.samples import Line837 as L
from services.simulator.samples import build_set, interchange
from services.simulator.x12_277ca import ClaimAck, write_277ca
from services.simulator.x12_837 import read_837, triage_837
from services.simulator.x12_999 import write_999

pytestmark = pytest.mark.unit

TODAY = dt.date(2025, 3, 11)


def env_back() -> Envelope:
    return Envelope("ZZ", "SIMCH", "ZZ", "SUB01", "", "", 9001, 9001)


def test_a_999_gives_each_set_its_verdict_and_a_rejected_sets_errors_in_words() -> None:
    good = build_set([C("PCN-A", [L("99214", "150")])], st02="0001")
    bad = build_set([C("PCN-B", [L("99213", "95")])], st02="0002")
    bad = [s.replace("CLM*PCN-B*95*", "CLM*PCN-B*9X5*") for s in bad]
    text = interchange(good, bad)
    [group] = read_999(write_999(triage_837(text), envelope=env_back()))
    assert group.control_number == "17"  # the 837's GS06
    assert [(s.control_number, s.accepted) for s in group.sets] == [
        ("0001", True),
        ("0002", False),
    ]
    assert group.sets[1].errors == [
        "segment CLM (position 18): segment has data element errors",
        "segment CLM (position 18) element 2: invalid character in data element",
        "one or more segments in error",
    ]
    assert "9X5" not in " ".join(group.sets[1].errors)  # the bad value is not repeated
    assert claims_by_set(text) == {"0001": ["PCN-A"], "0002": ["PCN-B"]}


def test_a_277ca_names_our_interchange_and_each_claims_verdict() -> None:
    text = interchange(
        build_set(
            [
                C("PCN-A", [L("99214", "150")]),
                C("PCN-C", [L("99213", "95")], member="", charge="100"),
            ]
        )
    )
    received = read_837(text)
    acks = []
    for claim in received.claims():
        reasons = front_end_edits(claim, PAYERS)
        number = None if reasons else adjudicate(claim, Accumulators(2025), TODAY)
        acks.append(ClaimAck(claim, reasons, number.payer_claim_number if number else None))
    out = write_277ca(
        acks,
        envelope=env_back(),
        source_name="RCM SIM CLEARINGHOUSE",
        source_id="SIMCH",
        receiver_name="FAMILY CLINIC",
        receiver_id="SUB01",
        received=TODAY,
        processed=TODAY,
        batch_reference="000000042",
        receipt_trace="R000001",
    )
    batch, claims = read_277ca(out)
    assert batch == "000000042"
    assert [(c.patient_control_number, c.accepted) for c in claims] == [
        ("PCN-A", True),
        ("PCN-C", False),
    ]
    assert claims[1].errors == [
        ("A3:164:IL", "returned as unprocessable claim (status code 164, entity IL)"),
        ("A3:178", "returned as unprocessable claim (status code 178)"),
    ]
