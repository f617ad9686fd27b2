"""A payer's overpayment recovery tied back to its claim and line (issue 29 part 6), on the
real database: a PLB WO naming the claim's payer claim number, and a claim reversal."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from runtime.service import Service
from runtime.settings import Settings
from runtime.x12 import segment
from tests.integration.remittance_world import (
    PAID_835_CLAIM,
    clp,
    line,
    remit,
    remittance_service,
    rows,
    submit,
    x835,
)

pytestmark = pytest.mark.integration

COLUMNS = "source, reason, reference, claim_id, line_number, procedure, amount_cents"


@pytest.fixture
async def svc(live_stack: Settings) -> AsyncIterator[Service]:
    async with remittance_service(live_stack) as service:
        yield service


async def test_a_plb_overpayment_recovery_is_tied_to_the_claim_it_names(svc: Service) -> None:
    await submit(svc, "CLAIM-1", "C1", 15000)
    await remit(svc, x835("61.60", "TR1", PAID_835_CLAIM), "TR1")
    # a later payment: the payer takes 25.00 back for claim PCN-A, and 5.00 for one no
    # posting knows; an interest payment (L6) is no recovery
    plb = [
        segment("PLB", "1234567893", "20251231", "WO:PCN-A", "25", "WO:PCN-ZZZ", "5"),
        segment("PLB", "1234567893", "20251231", "L6", "-1.25"),
    ]
    await remit(svc, x835("-28.75", "TR2", plb=plb), "TR2")
    got = await rows(svc, f"SELECT {COLUMNS} FROM recoupment_v1 ORDER BY amount_cents DESC")
    assert got == [
        {
            "source": "plb",
            "reason": "WO",
            "reference": "PCN-A",
            "claim_id": "CLAIM-1",
            "line_number": None,
            "procedure": None,
            "amount_cents": 2500,
        },
        {
            "source": "plb",
            "reason": "WO",
            "reference": "PCN-ZZZ",
            "claim_id": None,  # a person ties it
            "line_number": None,
            "procedure": None,
            "amount_cents": 500,
        },
    ]


async def test_a_reversal_takes_back_each_lines_payment(svc: Service) -> None:
    await submit(svc, "CLAIM-2", "C2", 15000)
    original = clp(
        "C2", "1", "150", "120", "0", "PCN-B",
        *line("99213", "100", "80", segment("CAS", "CO", "45", "20")),
        *line("36415", "50", "40", segment("CAS", "CO", "45", "10")),
    )  # fmt: skip
    await remit(svc, x835("120", "TR-A", original), "TR-A")
    reversal = clp(
        "C2", "22", "-150", "-120", "0", "PCN-B",
        *line("99213", "-100", "-80", segment("CAS", "CO", "45", "-20")),
        *line("36415", "-50", "-40", segment("CAS", "CO", "45", "-10")),
    )  # fmt: skip
    await remit(svc, x835("-120", "TR-B", reversal), "TR-B")
    [orig] = await rows(svc, "SELECT id FROM claim_postings WHERE status_code = '1'")
    got = await rows(
        svc,
        f"SELECT {COLUMNS}, posting_id FROM recoupment_v1 ORDER BY line_number",
    )
    assert [
        (r["source"], r["claim_id"], r["line_number"], r["procedure"], r["amount_cents"])
        for r in got
    ] == [("reversal", "CLAIM-2", 1, "99213", 8000), ("reversal", "CLAIM-2", 2, "36415", 4000)]
    assert {r["posting_id"] for r in got} == {orig["id"]}
