"""Coordination of benefits on the patient ledger (real PostgreSQL, default settings: the
bill waits for the secondary): a Medigap payment leaves the patient nothing to pay, and
a qualified Medicare beneficiary (QMB) never gets a statement for Medicare's cost
sharing: it is written off with the reason QMB, whether Medicaid answers or not."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from functools import partial

import pytest

from rcm.cli_payers import DEMO_PAYERS
from runtime.service import Service
from runtime.settings import Settings
from schemas.events_payments import ClaimBalanceZero
from services.statements import app, billing, timers
from services.statements.config import StatementSettings
from tests.integration.statements_world import Feed, decision, visit
from tests.throwaway import throwaway_service
from tests.unit.factories import coverage

pytestmark = pytest.mark.integration

# As an EHR sends them: no filing indicator; statements knows Medicare (MB) and Medicaid
# (MC) from its payer directory file, the demo's (never from the ids' spelling).
MEDICARE = coverage(payer_id="MCR01", priority=1, plan="MEDICARE PART B", filing_indicator=None)
MEDIGAP = coverage(
    payer_id="MGP01", priority=2, plan="MEDIGAP PLAN F", member_id="MG0001", filing_indicator=None
)
QMB = coverage(
    payer_id="MCD01",
    priority=2,
    plan="STATE MEDICAID QMB",
    member_id="MCD0001",
    filing_indicator=None,
)
MEDICAID = coverage(
    payer_id="MCD01", priority=2, plan="STATE MEDICAID", member_id="MCD0002", filing_indicator=None
)


@pytest.fixture
def cfg() -> StatementSettings:
    return StatementSettings(secondary_wait_days=45, min_balance_cents=0, payers_file=DEMO_PAYERS)


@pytest.fixture
async def svc(live_stack: Settings, cfg: StatementSettings) -> AsyncIterator[Service]:
    wire = partial(app.register, cfg=cfg)
    async with throwaway_service("statements", app.MIGRATIONS, wire, live_stack) as svc:
        yield svc


async def statements_for(f: Feed, cid: str) -> list[int]:
    rows = await f.fetch("SELECT balance_cents FROM statements WHERE $1 = ANY(claim_ids)", cid)
    return [r["balance_cents"] for r in rows]


async def test_medigap_pays_medicares_coinsurance_and_the_patient_owes_nothing(
    svc: Service,
) -> None:
    f = Feed(svc)
    enc, cid = visit(1, guarantor="G-GAP", coverages=[MEDICARE, MEDIGAP])
    await f.send(enc, decision(cid, 12000, 5000, 3000, payer="MCR01"))
    assert await statements_for(f, cid) == []  # waiting for Medigap, not billed
    await f.send(decision(cid, 3000, 0, 0, payer="MGP01", status_code="2"))
    await one_charge_and_medigap_paid_the_rest(f, cid)


async def test_a_qmb_patient_is_never_billed_medicare_cost_sharing(svc: Service) -> None:
    f = Feed(svc)
    enc, cid = visit(2, guarantor="G-QMB", coverages=[MEDICARE, QMB])
    await f.send(enc, decision(cid, 12000, 5000, 3000, payer="MCR01"))
    # Medicaid pays 10.00 of the 30.00 cost sharing (its fee is lower); 20.00 is left
    await f.send(decision(cid, 1000, 0, 2000, payer="MCD01", status_code="2"))
    assert await f.claim_balance(cid) == 0
    rows = await f.fetch(
        "SELECT kind, reason, amount_cents FROM ledger WHERE claim_id = $1 AND reason = 'QMB'", cid
    )
    assert [(r["kind"], r["amount_cents"]) for r in rows] == [("adjustment", -2000)]
    assert await statements_for(f, cid) == []
    # the claim's balance reached zero: the claims service is told so it closes
    closed = [e for e, _ in await f.emitted() if isinstance(e, ClaimBalanceZero)]
    assert [e.claim_id for e in closed] == [cid]


async def test_a_qmb_claim_medicaid_never_answers_is_written_off_not_billed(
    svc: Service, cfg: StatementSettings
) -> None:
    f = Feed(svc)
    enc, cid = visit(3, guarantor="G-QMB2", coverages=[MEDICARE, QMB])
    await f.send(enc, decision(cid, 12000, 5000, 3000, payer="MCR01"))
    later = billing.utc_today() + dt.timedelta(days=cfg.secondary_wait_days)
    await timers.run_cycle(svc, later, cfg=cfg)
    assert await f.claim_balance(cid) == 0
    assert await statements_for(f, cid) == []


async def test_a_medicaid_patient_who_is_not_qmb_is_billed_what_is_left(svc: Service) -> None:
    f = Feed(svc)
    enc, cid = visit(4, guarantor="G-DUAL", coverages=[MEDICARE, MEDICAID])
    await f.send(enc, decision(cid, 12000, 5000, 3000, payer="MCR01"))
    await f.send(decision(cid, 1000, 0, 2000, payer="MCD01", status_code="2"))
    assert await statements_for(f, cid) == [2000]


async def one_charge_and_medigap_paid_the_rest(f: Feed, cid: str) -> None:
    charges = await f.val(
        "SELECT count(*) FROM ledger WHERE claim_id = $1 AND kind = 'charge'", cid
    )
    assert charges == 1  # the visit charged once, whatever order the 835s came in
    assert await f.claim_balance(cid) == 0
    paid = await f.val(
        "SELECT -sum(amount_cents) FROM ledger WHERE claim_id = $1 AND kind = 'insurance_payment'",
        cid,
    )
    assert paid == 15000
    assert await statements_for(f, cid) == []


async def test_medigaps_835_before_medicares_waits_for_it(svc: Service) -> None:
    f = Feed(svc)
    enc, cid = visit(5, guarantor="G-EARLY", coverages=[MEDICARE, MEDIGAP])
    await f.send(enc, decision(cid, 3000, 0, 0, payer="MGP01", status_code="2"))
    assert await f.claim_balance(cid) == 0  # nothing posted: it waits for Medicare's
    await f.send(decision(cid, 12000, 5000, 3000, payer="MCR01"))
    await one_charge_and_medigap_paid_the_rest(f, cid)


async def test_both_835s_before_the_encounter_post_in_payer_order(svc: Service) -> None:
    f = Feed(svc)
    enc, cid = visit(6, guarantor="G-BEFORE", coverages=[MEDICARE, MEDIGAP])
    await f.send(
        decision(cid, 12000, 5000, 3000, payer="MCR01"),
        decision(cid, 3000, 0, 0, payer="MGP01", status_code="2"),
    )
    await f.send(enc)
    await one_charge_and_medigap_paid_the_rest(f, cid)


async def test_both_835s_in_one_run_later_payer_first(svc: Service) -> None:
    f = Feed(svc)
    enc, cid = visit(7, guarantor="G-RUN", coverages=[MEDICARE, MEDIGAP])
    await f.send(enc)
    medigap = decision(cid, 3000, 0, 0, payer="MGP01", status_code="2")
    medicare = decision(cid, 12000, 5000, 3000, payer="MCR01")
    await svc.process(medigap.TOPIC, [f.record(medigap), f.record(medicare)])
    await one_charge_and_medigap_paid_the_rest(f, cid)
