"""Underpayments on a secondary payer's answer (issue 29 part 5) on the real stack: with
the tenant's contract with Medicaid, Medicaid's 835 as the secondary is checked line by
line against what it owes, min(the share Medicare left, its rate less what Medicare
paid); a line paid short by more than the threshold is a work item naming what was owed
and paid, a line paid right is not, and without a contract nothing is checked."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from runtime.service import Service
from runtime.settings import Settings
from runtime.x12 import segment
from schemas.events import RemitReceived
from services.remittance import contract_store
from services.remittance.contract_file import parse_contracts
from tests.integration.remittance_world import (
    TENANT,
    clp,
    deliver,
    line,
    remit,
    remittance_service,
    submitted,
    x835,
)
from tests.integration.test_contracts import HEADER, underpaid

pytestmark = pytest.mark.integration

# Medicaid allows 85.00 for 99213 and 3.00 for 36415
MEDICAID = HEADER + "MCD01,99213,,,2025-01-01,,8500,,\nMCD01,36415,,,2025-01-01,,300,,\n"


@pytest.fixture
async def svc(live_stack: Settings) -> AsyncIterator[Service]:
    async with remittance_service(live_stack) as service:
        yield service


async def _medicare_then_medicaid(svc: Service, n: int) -> None:
    pcn, cid = f"L{n}", f"CLAIM-L{n}"
    await deliver(svc, submitted(cid, pcn, 17500))
    # Medicare allows 90.00 and 3.00: pays 72.00 and 2.40, leaves 18.00 and 0.60
    primary = clp(
        pcn, "1", "175", "74.40", "18.60", f"MCR-{n}",
        *line("99213", "150", "72", segment("CAS", "CO", "45", "60"),
              segment("CAS", "PR", "2", "18"), allowed="90"),
        *line("36415", "25", "2.40", segment("CAS", "CO", "45", "22"),
              segment("CAS", "PR", "2", "0.60"), allowed="3"),
    )  # fmt: skip
    await remit(svc, x835("74.40", f"TR-M{n}", primary), f"TR-M{n}")
    await deliver(svc, submitted(cid, pcn, 17500).model_copy(update={"payer_id": "MCD01"}))
    # Medicaid owes min(18.00, 85.00 - 72.00) = 13.00 but pays 5.00; on 36415 it owes
    # min(0.60, 3.00 - 2.40) = 0.60 and pays it
    secondary = clp(
        pcn, "2", "175", "5.60", "13", f"MCD-{n}",
        *line("99213", "150", "5", segment("CAS", "OA", "23", "132"),
              segment("CAS", "PR", "2", "13")),
        *line("36415", "25", "0.60", segment("CAS", "OA", "23", "24.40")),
    )  # fmt: skip
    text = x835("5.60", f"TR-D{n}", secondary)
    await deliver(
        svc, RemitReceived(trace_number=f"TR-D{n}", payer_id="MCD01", source="t", x12=text)
    )


async def test_a_secondary_paying_short_of_its_contract_is_an_underpayment(svc: Service) -> None:
    assert svc.pool is not None
    async with svc.pool.acquire() as conn:
        await contract_store.import_contracts(conn, TENANT, parse_contracts(MEDICAID))
    await _medicare_then_medicaid(svc, 1)
    assert await underpaid(svc) == [
        {
            "claim_id": "CLAIM-L1",
            "line_number": 1,
            "procedure": "99213",
            "service_date": dt.date(2025, 3, 14),
            "expected_cents": 1300,
            "allowed_cents": 500,
            "paid_cents": 500,
            "shortfall_cents": 800,
            "basis": "allowed 85.00 from 2025-01-01, as a later payer",
        }
    ]


async def test_without_the_secondarys_contract_nothing_is_checked(svc: Service) -> None:
    await _medicare_then_medicaid(svc, 2)
    assert await underpaid(svc) == []
