"""The settled day against the practice's contracts (rcm/demo_contracts.csv, loaded by
`publish` as the demo does): the PPO prices its established office visits from last
year's schedule, so those lines, and only lines paid below contract, are underpayments
naming expected and paid; the day still reconciles."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from rcm import readmodel
from runtime.settings import Settings
from services.remittance.domain.contracts import cents
from services.simulator.payers import MEDICARE_FEES
from tests.e2e.conftest import fetch

pytestmark = pytest.mark.e2e


def test_the_ppos_stale_fees_are_underpaid_lines_and_the_day_reconciles(  # type: ignore[no-untyped-def]
    settled_day, live_stack: Settings
) -> None:
    day, claim_ids = settled_day
    rows = asyncio.run(
        fetch(
            live_stack,
            "SELECT u.payer_id, u.procedure, u.expected_cents, u.allowed_cents,"
            " u.paid_cents, u.shortfall_cents FROM remittance.underpayment_v1 u"
            " WHERE u.claim_id = ANY($1::text[])",
            claim_ids,
        )
    )
    assert rows, "the day should have a PPO office visit priced from last year's schedule"
    for r in rows:
        assert r["payer_id"] == "PPO01"
        assert r["procedure"] in {"99213", "99214", "99215"}
        fee = Decimal(MEDICARE_FEES[r["procedure"]])
        assert r["expected_cents"] == cents(fee * Decimal("1.30"), Decimal(1))
        assert r["allowed_cents"] == cents(fee * Decimal("1.25"), Decimal(1))
        assert r["shortfall_cents"] == r["expected_cents"] - r["allowed_cents"] > 100
        assert r["paid_cents"] <= r["allowed_cents"]

    async def read() -> dict[str, Any]:
        conn = await asyncpg.connect(live_stack.database_url)
        try:
            return await readmodel.summary(conn, readmodel.charges(claim_ids, day), len(day))
        finally:
            await conn.close()

    result = asyncio.run(read())
    assert result["underpaid_lines"] == len(rows)
    assert result["unreconciled_cents"] == 0
