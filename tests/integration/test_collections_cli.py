"""`rcm collections import` on the real Kafka and PostgreSQL: the agency's file becomes
commands on the ledger.command topic, and the statements service posts each payment once
with the agency's fee, however often the file is imported."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from functools import partial

import pytest
from aiokafka import AIOKafkaConsumer

from rcm.cli_collections import publish_payments
from runtime.service import Record, Service
from runtime.settings import Settings
from schemas.codec import decode
from schemas.events_ledger import LedgerCommand
from services.statements import app, billing, collections, timers
from services.statements.config import StatementSettings
from tests.integration.statements_world import TENANT, Feed, decision, visit
from tests.throwaway import throwaway_service

pytestmark = pytest.mark.integration


@pytest.fixture
def cfg() -> StatementSettings:
    return StatementSettings(hold_for_secondary=False, collections_grace_days=0)


@pytest.fixture
async def svc(live_stack: Settings, cfg: StatementSettings) -> AsyncIterator[Service]:
    wire = partial(app.register, cfg=cfg)
    async with throwaway_service("statements", app.MIGRATIONS, wire, live_stack) as svc:
        yield svc


async def agency_commands(s: Settings, refs: set[str], want: int) -> list[Record]:
    """This test's commands on ledger.command, as the statements service consumes them."""
    consumer = AIOKafkaConsumer(
        LedgerCommand.TOPIC,
        bootstrap_servers=s.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    out: list[Record] = []
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while len(out) < want and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    msg = decode(r.value, list(r.headers))
                    ev = msg.event
                    if isinstance(ev, LedgerCommand) and ev.command_id.split(":")[-1] in refs:
                        out.append(
                            Record(r.topic, r.partition, r.offset, r.key, r.value, list(r.headers))
                        )
    finally:
        await consumer.stop()
    return out


async def test_an_agency_file_imported_twice_posts_each_payment_once_with_its_fee(
    svc: Service, cfg: StatementSettings, live_stack: Settings
) -> None:
    f = Feed(svc)
    guarantor = f"G-AG-{uuid.uuid4().hex[:6]}"
    enc, cid = visit(1, guarantor=guarantor)
    await f.send(enc, decision(cid, 12000, 5000, 3000))
    late = billing.utc_today() + dt.timedelta(days=150)
    await timers.run_cycle(svc, late, cfg=cfg)  # the final notice
    assert svc.pool is not None
    async with svc.pool.acquire() as conn:
        placed = await collections.export(conn, TENANT, "ACME", late, cfg=cfg)
    assert [r["account"] for r in placed.rows] == [guarantor]
    refs = {f"R{uuid.uuid4().hex[:8]}", f"R{uuid.uuid4().hex[:8]}"}
    r1, r2 = sorted(refs)
    text = (
        "account,payment_ref,collected,fee,received_on\n"
        f"{guarantor},{r1},20.00,6.00,{late}\n"
        f"{guarantor},{r2},10.00,3.00,{late}\n"
    )
    assert await publish_payments(live_stack, TENANT, "ACME", text) == 2
    assert await publish_payments(live_stack, TENANT, "ACME", text) == 2  # imported again
    records = await agency_commands(live_stack, refs, 4)
    assert len(records) == 4
    await svc.process(LedgerCommand.TOPIC, records)
    assert await f.claim_balance(cid) == 0
    fees = await f.fetch(
        "SELECT collected_cents, fee_cents FROM agency_payments ORDER BY collected_cents"
    )
    assert [tuple(r) for r in fees] == [(1000, 300), (2000, 600)]
    paid = await f.fetch(
        "SELECT amount_cents FROM ledger WHERE kind = 'patient_payment' ORDER BY amount_cents"
    )
    assert [r["amount_cents"] for r in paid] == [-2000, -1000]
