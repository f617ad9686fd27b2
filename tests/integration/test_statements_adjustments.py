"""Issue 29 part 4 on the real PostgreSQL: write-offs with reasons and approval above a
role's limit, transfers between payer and patient responsibility, small balances written
off by the cycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

import pytest

from runtime.service import Service
from runtime.settings import Settings
from schemas.events import StatementIssued
from schemas.events_payments import ClaimBalanceZero
from services.statements import app
from services.statements.config import StatementSettings
from tests.integration.ledger_world import account_balance, command, request
from tests.integration.statements_world import Feed, decision, visit
from tests.throwaway import throwaway_service

pytestmark = pytest.mark.integration


@pytest.fixture
def cfg() -> StatementSettings:
    return StatementSettings(
        hold_for_secondary=False,
        approval_limits_cents={"work": 2000, "admin": 100_000},
        small_balance_cents={"it-clinic": 500},
    )


@pytest.fixture
async def svc(live_stack: Settings, cfg: StatementSettings) -> AsyncIterator[Service]:
    wire = partial(app.register, cfg=cfg)
    async with throwaway_service("statements", app.MIGRATIONS, wire, live_stack) as svc:
        yield svc


async def closed(f: Feed) -> list[tuple[str, str]]:
    return [
        (e.claim_id, e.closed_by) for e, _ in await f.emitted() if isinstance(e, ClaimBalanceZero)
    ]


async def test_a_write_off_within_the_clerks_limit_posts_once_and_closes_the_claim(
    svc: Service,
) -> None:
    f = Feed(svc)
    enc, cid = visit(1, guarantor="G-WO")
    await f.send(enc, decision(cid, 13500, 5000, 1500))
    wo = command("write_off", "G-WO", claim_id=cid, amount=1500, reason="CHARITY")
    rec = f.record(wo)
    await svc.process(wo.TOPIC, [rec, rec])
    await f.send(wo)  # sent again under a new message id: still once (its command id)
    assert await f.claim_balance(cid) == 0
    rows = await f.fetch("SELECT kind, reason, amount_cents FROM ledger WHERE kind = 'write_off'")
    assert [tuple(r) for r in rows] == [("write_off", "CHARITY", -1500)]
    assert await request(f, wo.command_id) == {
        "status": "posted",
        "detail": None,
        "requested_by": "k_clerk",
        "decided_by": None,
    }
    assert await closed(f) == [(cid, "write_off")]


async def test_a_write_off_above_the_limit_waits_for_someone_elses_approval(svc: Service) -> None:
    f = Feed(svc)
    enc, cid = visit(2, guarantor="G-BIG")
    await f.send(enc, decision(cid, 10000, 5000, 5000))
    wo = command("write_off", "G-BIG", claim_id=cid, amount=4000, reason="BAD-DEBT")
    await f.send(wo)
    assert await f.claim_balance(cid) == 5000  # nothing posted yet
    assert (await request(f, wo.command_id))["status"] == "pending"
    own = command("approve", "G-BIG", request_id=wo.command_id)  # the requester, again
    peer = command("approve", "G-BIG", by="k_other", request_id=wo.command_id)  # limit 2000
    await f.send(own, peer)
    assert (await request(f, own.command_id))["detail"] == (
        "a request is approved by someone other than its requester"
    )
    assert (await request(f, peer.command_id))["detail"] == "role work may approve at most 2000"
    assert await f.claim_balance(cid) == 5000
    boss = command("approve", "G-BIG", by="k_manager", role="admin", request_id=wo.command_id)
    await f.send(boss, boss)
    assert await f.claim_balance(cid) == 1000
    assert await request(f, wo.command_id) == {
        "status": "posted",
        "detail": None,
        "requested_by": "k_clerk",
        "decided_by": "k_manager",
    }


async def test_a_write_off_past_the_balance_or_on_another_account_is_refused(
    svc: Service,
) -> None:
    f = Feed(svc)
    enc, cid = visit(3, guarantor="G-R")
    await f.send(enc, decision(cid, 13500, 5000, 1500))
    too_much = command("write_off", "G-R", claim_id=cid, amount=1600, reason="ADMIN")
    elsewhere = command("write_off", "G-OTHER", claim_id=cid, amount=100, reason="ADMIN")
    waiting, c_waiting = visit(7, guarantor="G-R")  # no payer has answered yet
    early = command("write_off", "G-R", claim_id=c_waiting, amount=100, reason="ADMIN")
    await f.send(waiting, too_much, elsewhere, early)
    assert (await request(f, early.command_id))["detail"] == (
        "insurance is not done with the claim yet"
    )
    assert (await request(f, too_much.command_id))["detail"] == (
        "write-off 1600 is more than the balance 1500"
    )
    assert (await request(f, elsewhere.command_id))["detail"] == "the claim is not on this account"
    assert await f.claim_balance(cid) == 1500


async def test_a_transfer_moves_a_balance_between_payer_and_patient(svc: Service) -> None:
    f = Feed(svc)
    enc, cid = visit(4, guarantor="G-TR")
    await f.send(enc, decision(cid, 13500, 5000, 1500))
    await svc.pool.execute("DELETE FROM outbox")  # type: ignore[union-attr]
    # the payer's adjustment was really the patient's (a non-covered service)
    to_patient = command(
        "transfer", "G-TR", claim_id=cid, amount=1000, direction="to_patient", reason="NONCOVERED"
    )
    await f.send(to_patient)
    assert await f.claim_balance(cid) == 2500
    [(issued, _)] = await f.emitted()
    assert isinstance(issued, StatementIssued)
    assert issued.balance_cents == 2500
    too_much = command(
        "transfer",
        "G-TR",
        claim_id=cid,
        amount=4500,
        direction="to_patient",
        reason="X1",
        role="admin",
    )
    back = command("transfer", "G-TR", claim_id=cid, amount=2000, direction="to_payer", reason="RB")
    await f.send(too_much, back)
    assert (await request(f, too_much.command_id))["detail"] == (
        "transfer 4500 is more than the payers adjusted (4000)"
    )
    assert await f.claim_balance(cid) == 500
    rows = await f.fetch(
        "SELECT reason, amount_cents FROM ledger WHERE kind = 'transfer' ORDER BY id"
    )
    assert [tuple(r) for r in rows] == [("TO-PATIENT NONCOVERED", 1000), ("TO-PAYER RB", -2000)]


async def test_a_balance_below_the_tenants_threshold_is_written_off_not_billed(
    svc: Service,
) -> None:
    f = Feed(svc)
    small, c_small = visit(5, guarantor="G-SMALL")
    large, c_large = visit(6, guarantor="G-LARGE")
    await f.send(
        small, large, decision(c_small, 14600, 5000, 400), decision(c_large, 12000, 5000, 3000)
    )
    assert await f.claim_balance(c_small) == 0
    assert await f.claim_balance(c_large) == 3000
    rows = await f.fetch(
        "SELECT claim_id, reason, amount_cents FROM ledger WHERE kind = 'write_off'"
    )
    assert [tuple(r) for r in rows] == [(c_small, "SMALL-BALANCE", -400)]
    statements = await f.fetch("SELECT guarantor_id FROM statements")
    assert [r["guarantor_id"] for r in statements] == ["G-LARGE"]
    assert await closed(f) == [(c_small, "write_off")]
    assert await account_balance(f, "G-SMALL") == 0
