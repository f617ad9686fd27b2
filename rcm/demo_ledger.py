"""The demo day's patient money (issue 29 parts 4 and 6): some patients pay a copay at
check-in, before their insurance has answered; what the payers leave them less than that
is a credit, refunded once the day has settled; the practice writes off balances under
$10.00 instead of mailing a statement for them."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import time

import asyncpg
from aiokafka import AIOKafkaProducer

from runtime.kafka import producer_config
from runtime.settings import Settings
from schemas.codec import encode, new_meta
from schemas.events import EncounterCreated, Event
from schemas.events_ledger import LedgerAction, LedgerCommand
from schemas.events_payments import PatientPaymentReceived, PaymentMethod

#: One in this many visits' guarantors pays a copay at check-in.
COPAY_EVERY = 6
COPAY_CENTS = 2500
#: The demo practice's small-balance threshold: a balance under it is written off.
SMALL_BALANCE_CENTS = 1000


def ledger_env(tenant: str) -> dict[str, str]:
    """The demo practice's small-balance threshold, unless the user set their own."""
    name = "RCM_STATEMENTS_SMALL_BALANCE_CENTS"
    if name in os.environ or "RCM_STATEMENTS_SMALL_BALANCE_DEFAULT_CENTS" in os.environ:
        return {}
    return {name: json.dumps({tenant: SMALL_BALANCE_CENTS})}


def copays(day: list[EncounterCreated]) -> list[PatientPaymentReceived]:
    now = dt.datetime.now(dt.UTC)
    return [
        PatientPaymentReceived(
            payment_id=f"copay-{enc.encounter_id}"[:64],
            guarantor_id=(enc.guarantor or enc.patient).id,
            amount_cents=COPAY_CENTS,
            method=PaymentMethod.card,
            received_at=now,
            reference="check-in copay",
        )
        for n, enc in enumerate(day)
        if n % COPAY_EVERY == COPAY_EVERY - 1
    ]


async def send(s: Settings, tenant: str, events: list[Event], source: str) -> None:
    producer = AIOKafkaProducer(**producer_config(s))
    await producer.start()
    try:
        for ev in events:
            meta = new_meta(ev, source=source, tenant=tenant, correlation_id=ev.key())
            x = encode(ev, meta)
            await producer.send_and_wait(x.topic, x.value, key=x.key, headers=x.headers)
    finally:
        await producer.stop()


_CREDITS = (
    "SELECT b.guarantor_id, b.credit_cents FROM statements.credit_balance_v1 b"
    " WHERE b.tenant = $1 AND b.guarantor_id IN (SELECT guarantor_id"
    "   FROM statements.claim_charge_v1 WHERE claim_id = ANY($2::text[]))"
)


async def refund_credits(
    s: Settings, tenant: str, claim_ids: list[str], run: str, timeout: float = 120
) -> int:
    """The billing office refunds every credit the day's accounts hold (a manager's key:
    within its approval limit); returns once the ledger shows none left."""
    conn = await asyncpg.connect(s.database_url)
    try:
        credits = await conn.fetch(_CREDITS, tenant, claim_ids)
        refunds: list[Event] = [
            LedgerCommand(
                command_id=f"refund-{run}-{r['guarantor_id']}"[:64],
                guarantor_id=r["guarantor_id"],
                action=LedgerAction.refund,
                amount_cents=r["credit_cents"],
                reason="OVERPAID",
                requested_by="demo:billing-manager",
                role="admin",
                at=dt.datetime.now(dt.UTC),
            )
            for r in credits
        ]
        await send(s, tenant, refunds, "rcm/demo-billing-office")
        deadline = time.monotonic() + timeout
        while await conn.fetch(_CREDITS, tenant, claim_ids):
            if time.monotonic() > deadline:
                raise TimeoutError("the day's refunds did not post")
            await asyncio.sleep(0.5)
        return len(refunds)
    finally:
        await conn.close()
