"""The statements service's handlers on the real PostgreSQL, through Service.process."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import AsyncIterator
from decimal import Decimal
from functools import partial
from typing import Any

import orjson
import pytest

from runtime.service import Service
from runtime.settings import Settings
from schemas.events import (
    AdjudicationStatus,
    ClaimAdjudicated,
    StatementIssued,
)
from schemas.events_payments import ClaimBalanceZero, PatientPaymentReceived, PaymentMethod
from services.statements import app, billing, domain, timers
from services.statements.config import StatementSettings
from tests.integration.statements_world import Feed, decision, visit
from tests.throwaway import throwaway_service
from tests.unit.factories import billing_provider, claim, coverage

pytestmark = pytest.mark.integration


@pytest.fixture
def cfg() -> StatementSettings:
    return StatementSettings(
        self_pay_discount_percent=Decimal("20"),
        secondary_wait_days=45,
        cycle_days=30,
        min_balance_cents=0,
        collections_after_days=120,
        hold_for_secondary=False,
    )


@pytest.fixture
async def svc(live_stack: Settings, cfg: StatementSettings) -> AsyncIterator[Service]:
    wire = partial(app.register, cfg=cfg)
    async with throwaway_service("statements", app.MIGRATIONS, wire, live_stack) as svc:
        yield svc


def payment(
    guarantor: str, cents: int, pid: str, claim_id: str | None = None
) -> PatientPaymentReceived:
    return PatientPaymentReceived(
        payment_id=pid,
        guarantor_id=guarantor,
        amount_cents=cents,
        method=PaymentMethod.card,
        received_at=dt.datetime.now(dt.UTC),
        claim_id=claim_id,
    )


async def test_a_patient_share_is_billed_once_and_the_statement_matches_the_ledger(
    svc: Service,
) -> None:
    f = Feed(svc)
    enc, cid = visit(1, billing_provider=billing_provider(name="LAKESIDE FAMILY CLINIC"))
    adj = decision(cid, 12000, 5000, 3000)
    rec = f.record(adj)
    await f.send(enc)
    await svc.process(adj.TOPIC, [rec, rec])  # delivered twice
    await svc.process(adj.TOPIC, [rec])
    assert await f.claim_balance(cid) == 3000
    rows = await f.fetch("SELECT claim_ids, balance_cents, body FROM statements")
    assert len(rows) == 1
    assert rows[0]["claim_ids"] == [cid]
    assert rows[0]["balance_cents"] == 3000
    body = orjson.loads(rows[0]["body"])
    ledger = await f.fetch("SELECT kind, amount_cents FROM ledger WHERE claim_id = $1", cid)
    t = domain.totals((r["kind"], r["amount_cents"]) for r in ledger)
    assert body["totals"]["charges_cents"] == t.charges_cents == 20000
    assert body["totals"]["insurance_paid_cents"] == t.insurance_paid_cents == 12000
    assert body["totals"]["adjustments_cents"] == t.adjustments_cents == 5000
    assert body["amount_due_cents"] == 3000
    assert [ln["description"] for ln in body["claims"][0]["lines"]] == [
        "Office visit, established patient, low complexity",
        "Vitamin B12 injection",
    ]
    # the practice the visit was billed under, with nothing made up for what it lacks
    assert body["practice"]["name"] == "LAKESIDE FAMILY CLINIC"
    assert body["practice"]["street"] == "500 CLINIC WAY"
    assert body["practice"]["phone"] is None
    events = await f.emitted()
    assert len(events) == 1
    issued, correlation = events[0]
    assert isinstance(issued, StatementIssued)
    assert issued.claim_ids == [cid]
    assert issued.balance_cents == 3000
    assert issued.aging_bucket == "0-30"
    assert correlation == cid


async def test_an_adjudication_before_its_encounter_waits_and_then_bills(svc: Service) -> None:
    f = Feed(svc)
    enc, cid = visit(2)
    await f.send(decision(cid, 12000, 5000, 3000))
    assert await f.val("SELECT count(*) FROM statements") == 0
    await f.send(enc)
    assert await f.claim_balance(cid) == 3000
    assert await f.val("SELECT count(*) FROM statements") == 1


async def test_insurance_paying_everything_sends_no_statement(svc: Service) -> None:
    f = Feed(svc)
    enc, cid = visit(3)
    await f.send(enc, decision(cid, 15000, 5000, 0))
    assert await f.claim_balance(cid) == 0
    assert await f.val("SELECT count(*) FROM statements") == 0
    assert await f.emitted() == []


async def test_payments_post_once_close_the_claim_and_keep_the_overpayment(svc: Service) -> None:
    f = Feed(svc)
    enc, cid = visit(4, guarantor="G-PAY")
    await f.send(enc, decision(cid, 12000, 5000, 3000))
    await f.svc.pool.execute("DELETE FROM outbox")  # type: ignore[union-attr]
    await f.send(payment("G-PAY", 1000, "P1"))
    await f.send(payment("G-PAY", 1000, "P1"))  # the gateway sent it again, new message id
    assert await f.claim_balance(cid) == 2000
    assert await f.emitted() == []
    await f.send(payment("G-PAY", 2500, "P2"))  # 500 more than owed
    assert await f.claim_balance(cid) == 0
    events = await f.emitted()
    assert len(events) == 1
    zero, correlation = events[0]
    assert isinstance(zero, ClaimBalanceZero)
    assert (zero.claim_id, zero.closed_by, correlation) == (cid, "patient_payment", cid)
    credit = await f.val(
        "SELECT sum(amount_cents) FROM ledger WHERE guarantor_id = 'G-PAY' AND claim_id IS NULL"
    )
    assert credit == -500
    flags = await f.fetch("SELECT payment_id, amount_cents, status FROM refund_flags")
    assert [tuple(r) for r in flags] == [("P2", 500, "open")]
    paid = await f.fetch(
        "SELECT payment_id, applied_cents, unapplied_cents FROM patient_payments ORDER BY 1"
    )
    assert [tuple(r) for r in paid] == [("P1", 1000, 0), ("P2", 2000, 500)]


async def test_a_credit_pays_the_next_visit(svc: Service) -> None:
    f = Feed(svc)
    await f.send(payment("G-CR", 4000, "P-ADV"))  # paid ahead, nothing owed yet
    enc, cid = visit(5, guarantor="G-CR")
    await f.svc.pool.execute("DELETE FROM outbox")  # type: ignore[union-attr]
    await f.send(enc, decision(cid, 12000, 5000, 3000))
    assert await f.claim_balance(cid) == 0
    events = await f.emitted()
    assert [(type(e).__name__, getattr(e, "closed_by", None)) for e, _ in events] == [
        ("ClaimBalanceZero", "credit")
    ]
    assert await f.val("SELECT count(*) FROM statements") == 0
    assert await f.val("SELECT sum(amount_cents) FROM ledger WHERE guarantor_id = 'G-CR'") == -1000


async def test_payments_go_to_the_oldest_balance_or_the_claim_named(svc: Service) -> None:
    f = Feed(svc)
    old, c_old = visit(6, guarantor="G-OLD", date_of_service=dt.date(2025, 3, 1))
    new, c_new = visit(7, guarantor="G-OLD", date_of_service=dt.date(2025, 3, 20))
    await f.send(old, new, decision(c_new, 12000, 5000, 3000), decision(c_old, 12000, 4000, 4000))
    # Two visits on one account: the second statement carries both.
    statements = await f.fetch("SELECT claim_ids FROM statements ORDER BY created_at")
    assert [sorted(s["claim_ids"]) for s in statements] == [[c_new], sorted([c_old, c_new])]
    await f.send(payment("G-OLD", 1000, "P-A"))
    assert (await f.claim_balance(c_old), await f.claim_balance(c_new)) == (3000, 3000)
    await f.send(payment("G-OLD", 1000, "P-B", claim_id=c_new))
    assert (await f.claim_balance(c_old), await f.claim_balance(c_new)) == (3000, 2000)


async def test_a_self_pay_visit_is_billed_at_once_with_the_discount(
    svc: Service, cfg: StatementSettings
) -> None:
    f = Feed(svc)
    enc, cid = visit(8, guarantor="G-SELF", coverages=[])
    coded = claim(claim_id=cid, encounter_id=enc.encounter_id, self_pay=True, payer_id=None)
    insured = claim(claim_id="C-INSURED", self_pay=False)
    await f.send(insured, coded, enc)  # coded before the encounter reached statements
    total = coded.total_charge_cents
    discount = int((total * cfg.self_pay_discount_percent / 100).to_integral_value())
    assert await f.claim_balance(cid) == total - discount
    rows = await f.fetch("SELECT claim_ids, balance_cents, body FROM statements")
    assert len(rows) == 1
    assert rows[0]["balance_cents"] == total - discount
    assert orjson.loads(rows[0]["body"])["claims"][0]["self_pay"] is True
    assert await f.val("SELECT count(*) FROM claim_charges WHERE claim_id = 'C-INSURED'") == 0


async def test_a_crossover_holds_the_bill_until_the_secondary_decides(svc: Service) -> None:
    f = Feed(svc)
    covs = [
        coverage(payer_id="MCR01", priority=1),
        coverage(payer_id="MCD01", priority=2, member_id="MCD000111"),
    ]
    enc, cid = visit(9, guarantor="G-COB", coverages=covs)
    await f.send(enc, decision(cid, 12000, 5000, 3000, payer="MCR01", status_code="19"))
    assert await f.claim_balance(cid) == 3000
    assert await f.val("SELECT count(*) FROM statements") == 0
    await f.send(decision(cid, 2000, 0, 1000, payer="MCD01", status_code="2"))
    assert await f.claim_balance(cid) == 1000
    assert await f.val("SELECT sum(amount_cents) FROM ledger WHERE kind = 'charge'") == 20000
    rows = await f.fetch("SELECT balance_cents FROM statements")
    assert [r["balance_cents"] for r in rows] == [1000]


async def test_a_held_claim_is_billed_when_the_wait_is_over(
    svc: Service, cfg: StatementSettings
) -> None:
    f = Feed(svc)
    covs = [coverage(payer_id="MCR01", priority=1), coverage(payer_id="MCD01", priority=2)]
    enc, cid = visit(10, guarantor="G-WAIT", coverages=covs)
    await f.send(enc, decision(cid, 12000, 5000, 3000, payer="MCR01", status_code="19"))
    today = billing.utc_today()
    assert await timers.run_cycle(svc, today + dt.timedelta(days=10), cfg=cfg) == 0
    assert await f.val("SELECT count(*) FROM statements") == 0
    wait = cfg.secondary_wait_days
    assert await timers.run_cycle(svc, today + dt.timedelta(days=wait), cfg=cfg) >= 1
    rows = await f.fetch("SELECT claim_ids, balance_cents FROM statements")
    assert [(r["claim_ids"], r["balance_cents"]) for r in rows] == [([cid], 3000)]


async def test_the_cycle_rebills_with_firmer_words_and_flags_collections(
    svc: Service, cfg: StatementSettings
) -> None:
    f = Feed(svc)
    enc, cid = visit(11, guarantor="G-AGE")
    await f.send(enc, decision(cid, 12000, 5000, 3000))
    today = billing.utc_today()
    assert await timers.run_cycle(svc, today + dt.timedelta(days=29), cfg=cfg) == 0
    for days in (30, 60, 90, 120, 150):
        await timers.run_cycle(svc, today + dt.timedelta(days=days), cfg=cfg)
    rows = await f.fetch("SELECT aging_bucket, body FROM statements ORDER BY statement_date")
    assert [r["aging_bucket"] for r in rows] == ["0-30", "0-30", "31-60", "61-90", "91-120", "120+"]
    bodies = [orjson.loads(r["body"]) for r in rows]
    assert [b["collections"] for b in bodies] == [False] * 5 + [True]
    assert "collection agency" in bodies[-1]["message"]
    assert all(b["amount_due_cents"] == 3000 for b in bodies)
    flagged = await f.val(
        "SELECT collections_flagged_on FROM accounts WHERE guarantor_id = 'G-AGE'"
    )
    assert flagged == today + dt.timedelta(days=150)
    # Paid in full: no more statements.
    await f.send(payment("G-AGE", 3000, "P-AGE"))
    assert await timers.run_cycle(svc, today + dt.timedelta(days=400), cfg=cfg) == 0
    assert await f.val("SELECT count(*) FROM statements") == 6


async def test_the_ledger_balances_under_a_random_day_of_postings(svc: Service) -> None:
    f = Feed(svc)
    rng = random.Random(8)
    guarantors = ["G-R1", "G-R2", "G-R3"]
    claims: dict[str, str] = {}
    received = 0
    for n in range(12):
        g = rng.choice(guarantors)
        enc, cid = visit(100 + n, guarantor=g)
        claims[cid] = g
        paid = rng.randint(0, 20000)
        co = rng.randint(0, 20000 - paid)
        await f.send(enc, decision(cid, paid, co, 20000 - paid - co))
        for _ in range(rng.randint(0, 2)):
            cents = rng.randint(1, 6000)
            pid = f"P{rng.randint(0, 30)}"  # some ids repeat: those must post once
            before = await f.val("SELECT count(*) FROM patient_payments WHERE payment_id = $1", pid)
            await f.send(payment(g, cents, pid, rng.choice([None, cid])))
            if not before:
                received += cents
    ledger = await f.fetch("SELECT guarantor_id, claim_id, kind, amount_cents FROM ledger")
    for g in guarantors:
        mine = [r for r in ledger if r["guarantor_id"] == g]
        t = domain.totals((r["kind"], r["amount_cents"]) for r in mine)
        assert t.balance_cents == t.charges_cents - t.payments_cents - t.adjustments_cents
        by_claim = sum(r["amount_cents"] for r in mine if r["claim_id"] is not None)
        unapplied = sum(r["amount_cents"] for r in mine if r["claim_id"] is None)
        assert t.balance_cents == by_claim + unapplied
        assert unapplied <= 0
    for cid in claims:
        assert await f.claim_balance(cid) >= 0  # payments never push a claim below zero
    patient = [r for r in ledger if r["kind"] == "patient_payment"]
    assert -sum(r["amount_cents"] for r in patient) == received
    assert await f.val("SELECT sum(amount_cents) FROM patient_payments") == received


async def _world(f: Feed, w: str, *, one_run: bool) -> dict[str, Any]:
    """Seven decisions for six guarantors: paid in full, a patient share, two claims of
    one account, a share an account credit pays, one that arrives before its visit, and
    a reversal of a claim the patient had paid (the payment moves to the account).
    Returns what a billing team sees, with ids replaced by labels."""
    labels: dict[str, str] = {}
    visits = {}
    pairs = [("v1", "a"), ("v2", "b"), ("v3", "c"), ("v4", "c"), ("v5", "d"), ("v6", "e")]
    for label, g in [*pairs, ("v7", "f")]:
        enc, cid = visit(int(label[1:]), guarantor=f"G-{g}-{w}")
        visits[label] = (enc, cid)
        labels[cid] = label
        labels[f"G-{g}-{w}"] = f"G-{g}"
    labels[f"P-{w}"] = "P"
    labels[f"P7-{w}"] = "P7"
    for label in ("v1", "v2", "v3", "v4", "v5"):
        await f.send(visits[label][0])
    await f.send(payment(f"G-d-{w}", 5000, f"P-{w}"))  # a credit, no claim open yet
    cid = {label: c for label, (_, c) in visits.items()}
    # v7: billed 3,000 and paid by the patient before the run; the run reverses it
    await f.send(visits["v7"][0], decision(cid["v7"], 12000, 5000, 3000))
    await f.send(payment(f"G-f-{w}", 3000, f"P7-{w}", cid["v7"]))
    reversal = decision(
        cid["v7"], -12000, -5000, -3000, status_code="22", charge=-20000
    ).model_copy(update={"status": AdjudicationStatus.reversed})
    decisions = [
        decision(cid["v1"], 15000, 5000, 0),
        decision(cid["v2"], 12000, 5000, 3000),
        decision(cid["v3"], 13000, 5000, 2000),
        decision(cid["v4"], 11000, 5000, 4000),
        decision(cid["v5"], 12000, 5000, 3000),
        decision(cid["v6"], 14000, 5000, 1000),
        reversal,
    ]
    if one_run:
        await f.svc.process(ClaimAdjudicated.TOPIC, [f.record(d) for d in decisions])
    else:
        await f.send(*decisions)
    await f.send(visits["v6"][0])

    def name(text: str) -> str:
        for raw, label in labels.items():
            text = text.replace(raw, label)
        return text

    mine = [*cid.values()]
    gs = [g for g in labels if g.startswith("G-")]
    ledger = await f.fetch(
        "SELECT guarantor_id, claim_id, kind, reason, amount_cents FROM ledger"
        " WHERE guarantor_id = ANY($1::text[]) ORDER BY guarantor_id, claim_id, id",
        gs,
    )
    charges = await f.fetch(
        "SELECT claim_id, insurance_final, closed_at IS NOT NULL AS closed,"
        " first_billed_on IS NOT NULL AS billed, patient_responsibility_cents, payers"
        " FROM claim_charges WHERE claim_id = ANY($1::text[]) ORDER BY claim_id",
        mine,
    )
    statements = await f.fetch(
        "SELECT guarantor_id, claim_ids, balance_cents, aging_bucket, reason FROM statements"
        " WHERE guarantor_id = ANY($1::text[])",
        gs,
    )
    events = [
        (type(e).__name__, name(orjson.dumps(e.model_dump(mode="json", exclude={"at"})).decode()))
        for e, _ in await f.emitted()
        if getattr(e, "guarantor_id", None) in gs
    ]
    return {
        "ledger": sorted(name(str(tuple(r.values()))) for r in ledger),
        "charges": sorted(name(str(tuple(r.values()))) for r in charges),
        "statements": sorted(name(str(tuple(r.values()))) for r in statements),
        "events": sorted(events),
    }


async def test_a_run_of_decisions_posts_as_the_same_decisions_one_by_one(svc: Service) -> None:
    """The set-based posting of a run and the one-by-one posting agree to the cent:
    ledger rows, claim states, statements and the events billing sends."""
    f = Feed(svc)
    one_by_one = await _world(f, "1", one_run=False)
    in_one_run = await _world(f, "2", one_run=True)
    assert in_one_run == one_by_one
    # and the figures: v1 paid in full bills nothing; v5 is paid from the account's credit;
    # the two visits of one account are billed together once both are final
    assert [st.split(", '0-30'")[0] for st in in_one_run["statements"]] == [
        "('G-b', ['v2'], 3000",
        "('G-c', ['v3'], 2000",
        "('G-c', ['v4', 'v3'], 6000",
        "('G-e', ['v6'], 1000",
        "('G-f', ['v7'], 3000",
    ]
    assert "('G-f', None, 'credit_applied', 'from v7', -3000)" in in_one_run["ledger"]
    assert (
        "ClaimBalanceZero",
        '{"claim_id":"v5","guarantor_id":"G-d","closed_by":"credit"}',
    ) in in_one_run["events"]
