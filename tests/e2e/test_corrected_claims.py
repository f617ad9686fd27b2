"""A corrected claim through the whole pipeline (issue 29): a biller corrects a claim the
payer paid (a partly paid one when the day has one); it goes out as a replacement
(frequency 7, REF*F8), the simulated payer reverses its payment and pays the
replacement, and the claim ends with its money once: remittance's postings net to the
replacement's payment, the patient ledger holds one charge, insurance's payment once
and exactly the replacement's patient share, and the day still reconciles to the cent.

A day of its own (not the shared settled day, whose tests count one posting per claim
and payer)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from rcm import readmodel
from rcm.demo import publish, wait_settled
from runtime.kafka import producer_config
from runtime.settings import Settings
from schemas.codec import encode, new_meta
from schemas.events import EncounterCreated
from schemas.events_workqueue import ClaimFixed, Reentry
from schemas.ids import claim_id_for
from tests.e2e.conftest import TENANT, fetch, fresh_day

pytestmark = pytest.mark.e2e


async def _paid_once(s: Settings, claim_ids: list[str]) -> list[asyncpg.Record]:
    """The day's claims one payer posted once with a payment, partly paid first."""
    return await fetch(
        s,
        "SELECT p.claim_id, p.paid_cents,"
        " EXISTS (SELECT 1 FROM remittance.line_denial_v1 d WHERE d.claim_id = p.claim_id)"
        "   AS line_denied"
        " FROM remittance.claim_postings p JOIN claims.claims c ON c.claim_id = p.claim_id"
        " WHERE p.claim_id = ANY($1::text[]) AND p.paid_cents > 0"
        " AND c.state IN ('CLOSED', 'PATIENT_BILLED') AND coalesce(c.cob_level, 1) = 1"
        " AND (SELECT count(*) FROM remittance.claim_postings q WHERE q.claim_id = p.claim_id) = 1"
        " ORDER BY line_denied DESC, p.claim_id",
        claim_ids,
    )


async def _fix(s: Settings, enc: EncounterCreated, claim_id: str) -> None:
    """As the gateway sends a biller's correction."""
    ev = ClaimFixed(
        claim_id=claim_id,
        encounter_id=enc.encounter_id,
        reenter=Reentry.coding,
        fixed_by="e2e-biller",
        fixed_at=dt.datetime.now(dt.UTC),
        note="corrected after the payer's answer",
        encounter=enc,
        changed=["lines"],
    )
    producer = AIOKafkaProducer(**producer_config(s))
    await producer.start()
    try:
        x = encode(
            ev, new_meta(ev, source="rcm/e2e-biller", tenant=TENANT, correlation_id=claim_id)
        )
        await producer.send_and_wait(x.topic, x.value, key=x.key, headers=x.headers)
    finally:
        await producer.stop()


async def _postings(s: Settings, claim_id: str, want: int, timeout: float) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        rows = await fetch(
            s,
            "SELECT status_code, paid_cents, patient_responsibility_cents, charge_cents"
            " FROM remittance.claim_postings WHERE claim_id = $1 ORDER BY id",
            claim_id,
        )
        if len(rows) >= want or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.5)


def test_a_corrected_claim_ends_with_its_money_once(fleet: object, live_stack: Settings) -> None:
    day = fresh_day(20, seed=29)
    by_claim = {claim_id_for(TENANT, e.encounter_id): e for e in day}
    claim_ids = list(by_claim)
    asyncio.run(publish(live_stack, day, TENANT))
    asyncio.run(wait_settled(live_stack, claim_ids, timeout=240, progress=False))
    candidates = asyncio.run(_paid_once(live_stack, claim_ids))
    assert candidates, "the day should have a claim its payer paid"
    cid = candidates[0]["claim_id"]

    asyncio.run(_fix(live_stack, by_claim[cid], cid))
    postings = asyncio.run(_postings(live_stack, cid, 3, timeout=120))
    asyncio.run(wait_settled(live_stack, claim_ids, timeout=120, progress=False))
    original, reversal, replacement = postings
    assert (original["status_code"], reversal["status_code"]) == ("1", "22")
    assert replacement["status_code"] == "1"
    assert reversal["paid_cents"] == -original["paid_cents"]
    # the payer's money on the claim is the replacement's, once
    assert sum(p["paid_cents"] for p in postings) == replacement["paid_cents"]

    [ledger] = asyncio.run(
        fetch(
            live_stack,
            "SELECT coalesce(sum(amount_cents) FILTER (WHERE kind = 'charge'), 0) AS charged,"
            " coalesce(-sum(amount_cents) FILTER (WHERE kind = 'insurance_payment'), 0) AS paid,"
            " coalesce(sum(amount_cents), 0) AS balance"
            " FROM statements.ledger WHERE claim_id = $1",
            cid,
        )
    )
    assert ledger["charged"] == replacement["charge_cents"]  # one charge, however often posted
    assert ledger["paid"] == replacement["paid_cents"]
    assert ledger["balance"] == replacement["patient_responsibility_cents"]
    [claim] = asyncio.run(
        fetch(
            live_stack,
            "SELECT frequency_code, paid_cents, patient_responsibility_cents FROM claims.claims"
            " WHERE claim_id = $1",
            cid,
        )
    )
    assert claim["frequency_code"] == "7"
    assert (claim["paid_cents"], claim["patient_responsibility_cents"]) == (
        replacement["paid_cents"],
        replacement["patient_responsibility_cents"],
    )

    async def summary() -> dict[str, Any]:
        conn = await asyncpg.connect(live_stack.database_url)
        try:
            charges = readmodel.charges(claim_ids, day)
            return await readmodel.summary(conn, charges, len(day))
        finally:
            await conn.close()

    result = asyncio.run(summary())
    assert result["unreconciled_cents"] == 0
    assert result["patient_money_unreconciled_cents"] == 0
