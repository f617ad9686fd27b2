"""Issue 29 parts 6 and 7 on the real PostgreSQL: credit balances refunded (with approval)
or applied by the patient's choice, the credit-balance report; accounts past the threshold
placed with a collection agency, and the agency's payments posted with its fee."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from functools import partial

import pytest

from runtime.service import Service
from runtime.settings import Settings
from schemas.events_payments import ClaimBalanceZero
from services.statements import app, billing, collections, timers
from services.statements.config import StatementSettings
from tests.integration.ledger_world import account_balance, command, request
from tests.integration.statements_world import TENANT, Feed, decision, visit
from tests.integration.test_statements_handlers import payment
from tests.throwaway import throwaway_service

pytestmark = pytest.mark.integration


@pytest.fixture
def cfg() -> StatementSettings:
    return StatementSettings(
        hold_for_secondary=False,
        approval_limits_cents={"work": 2000, "admin": 100_000},
        collections_min_cents={TENANT: 1000},
        collections_grace_days=14,
    )


@pytest.fixture
async def svc(live_stack: Settings, cfg: StatementSettings) -> AsyncIterator[Service]:
    wire = partial(app.register, cfg=cfg)
    async with throwaway_service("statements", app.MIGRATIONS, wire, live_stack) as svc:
        yield svc


async def credits(f: Feed) -> dict[str, int]:
    rows = await f.fetch("SELECT guarantor_id, credit_cents FROM credit_balance_v1 ORDER BY 1")
    return {r["guarantor_id"]: r["credit_cents"] for r in rows}


async def test_a_credit_is_refunded_once_approved_and_leaves_the_ledger(svc: Service) -> None:
    f = Feed(svc)
    enc, cid = visit(1, guarantor="G-RF")
    await f.send(enc, decision(cid, 12000, 5000, 3000), payment("G-RF", 8000, "P-RF"))
    assert await credits(f) == {"G-RF": 5000}  # the report: 5,000 the practice holds
    refund = command("refund", "G-RF", amount=5000, reason="OVERPAID")
    too_much = command("refund", "G-RF", amount=6000, reason="OVERPAID", role="admin")
    await f.send(refund, too_much)
    assert (await request(f, refund.command_id))["status"] == "pending"  # over 2,000
    assert (await request(f, too_much.command_id))["detail"] == (
        "refund 6000 is more than the credit 5000"
    )
    ok = command("approve", "G-RF", by="k_manager", role="admin", request_id=refund.command_id)
    await f.send(ok, ok)
    assert await credits(f) == {}
    rows = await f.fetch(
        "SELECT claim_id, kind, reason, amount_cents FROM ledger WHERE kind = 'refund'"
    )
    assert [tuple(r) for r in rows] == [(None, "refund", "OVERPAID", 5000)]
    assert await account_balance(f, "G-RF") == 0
    flags = await f.fetch("SELECT status FROM refund_flags WHERE guarantor_id = 'G-RF'")
    assert [r["status"] for r in flags] == ["refunded"]


async def test_a_credit_goes_to_the_claim_the_patient_chooses(svc: Service) -> None:
    f = Feed(svc)
    old, c_old = visit(2, guarantor="G-AP", date_of_service=dt.date(2026, 3, 1))
    new, c_new = visit(3, guarantor="G-AP", date_of_service=dt.date(2026, 3, 9))
    await f.send(old, new, decision(c_old, 12000, 5000, 3000))
    await f.send(payment("G-AP", 3000, "P-AP", c_old))  # paid; closed
    await f.send(decision(c_new, 11000, 5000, 4000))  # billed 4,000
    # the first visit's payer paid 2,000 more on a corrected claim: the patient's 2,000
    # on it goes to the account (the account owes 4,000 and holds 2,000 at once)
    await f.send(decision(c_old, 2000, 0, -2000, charge=0).model_copy(update={"adjustments": []}))
    assert (await f.claim_balance(c_old), await f.claim_balance(c_new)) == (0, 4000)
    assert await credits(f) == {"G-AP": 2000}
    await svc.pool.execute("DELETE FROM outbox")  # type: ignore[union-attr]
    choice = command("apply_credit", "G-AP", claim_id=c_new, reason="PATIENT-CHOICE")
    await f.send(choice)
    assert (await f.claim_balance(c_new), await credits(f)) == (2000, {})
    assert await account_balance(f, "G-AP") == 2000
    nothing = command("apply_credit", "G-AP", reason="PATIENT-CHOICE")
    await f.send(nothing)
    assert (await request(f, nothing.command_id))["detail"] == "the account has no credit"


async def test_an_account_past_the_threshold_is_placed_and_the_agencys_payment_posts(
    svc: Service, cfg: StatementSettings
) -> None:
    f = Feed(svc)
    today = billing.utc_today()
    enc, cid = visit(4, guarantor="G-COL", date_of_service=today - dt.timedelta(days=10))
    small, c_small = visit(5, guarantor="G-LOW")
    await f.send(enc, small, decision(cid, 12000, 5000, 3000), decision(c_small, 14500, 5000, 500))
    assert await f.val("SELECT count(*) FROM statements") == 2
    late = today + dt.timedelta(days=150)  # unpaid for five months: the final notice
    await timers.run_cycle(svc, late, cfg=cfg)
    assert await f.val("SELECT count(*) FROM statements WHERE guarantor_id = 'G-COL'") == 2
    assert svc.pool is not None
    async with svc.pool.acquire() as conn:
        early = await collections.export(conn, TENANT, "ACME", late, cfg=cfg)  # in its grace
        placed = await collections.export(
            conn, TENANT, "ACME", late + dt.timedelta(days=14), cfg=cfg
        )
        again = await collections.export(
            conn, TENANT, "ACME", late + dt.timedelta(days=15), cfg=cfg
        )
    assert (early.rows, again.rows) == ([], [])
    [row] = list(csv.DictReader(io.StringIO(placed.csv())))  # G-LOW owes under 10.00
    assert row["account"] == "G-COL"
    assert row["balance"] == "30.00"
    assert row["birth_date"] == enc.patient.birth_date.isoformat()
    assert row["guarantor_last_name"] == enc.patient.last_name
    assert row["address_line1"] == enc.patient.address.line1
    assert row["first_service_date"] == row["last_service_date"] == enc.date_of_service.isoformat()
    assert row["last_statement_date"] == late.isoformat()
    assert row["last_payment_date"] == ""
    # placed: no more statements
    await timers.run_cycle(svc, late + dt.timedelta(days=60), cfg=cfg)
    assert await f.val("SELECT count(*) FROM statements WHERE guarantor_id = 'G-COL'") == 2
    # a visit after the placement is billed as any other, the placed visit left out
    new, c_new = visit(6, guarantor="G-COL")
    await f.send(new, decision(c_new, 12000, 5000, 3000))
    [last] = await f.fetch(
        "SELECT claim_ids, balance_cents FROM statements WHERE guarantor_id = 'G-COL'"
        " ORDER BY created_at DESC LIMIT 1"
    )
    assert (last["claim_ids"], last["balance_cents"]) == ([c_new], 3000)
    await svc.pool.execute("DELETE FROM outbox")
    paid = command(
        "agency_payment", "G-COL", amount=3000, agency="ACME", fee_cents=900, role="agency"
    )
    stray = command("agency_payment", "G-LOW", amount=500, agency="ACME", role="agency")
    await f.send(paid, paid, stray)
    assert (await f.claim_balance(cid), await f.claim_balance(c_new)) == (0, 3000)
    events = [
        (e.claim_id, e.closed_by) for e, _ in await f.emitted() if isinstance(e, ClaimBalanceZero)
    ]
    assert events == [(cid, "patient_payment")]
    fees = await f.fetch("SELECT guarantor_id, collected_cents, fee_cents FROM agency_payments")
    assert [tuple(r) for r in fees] == [("G-COL", 3000, 900)]
    assert (await request(f, stray.command_id))[
        "detail"
    ] == "the account is not placed with an agency"
    assert await f.claim_balance(c_small) == 500
