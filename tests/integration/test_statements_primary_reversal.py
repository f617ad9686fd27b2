"""The primary payer reverses and reprocesses a claim after the secondary has paid it
(real PostgreSQL, the bill waiting for the secondary as by default): the secondary's
payment stays on the claim, the patient's share is recomputed from the primary's new
answer (what it leaves less what the secondary paid), and what follows is correct: a
larger share billed at once (not held for a secondary that has already answered), a
smaller one leaving the patient's own payment as a credit on the account, a QMB
patient's share written off."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

import pytest

from rcm.cli_payers import DEMO_PAYERS
from runtime.service import Service
from runtime.settings import Settings
from schemas.common import Adjustment
from schemas.events import AdjudicationStatus, ClaimAdjudicated
from services.statements import app
from services.statements.config import StatementSettings
from tests.integration.statements_world import Feed, decision, visit
from tests.integration.test_statements_cob import MEDICAID, MEDICARE, QMB, statements_for
from tests.integration.test_statements_handlers import payment
from tests.throwaway import throwaway_service

pytestmark = pytest.mark.integration


@pytest.fixture
async def svc(live_stack: Settings) -> AsyncIterator[Service]:
    cfg = StatementSettings(secondary_wait_days=45, min_balance_cents=0, payers_file=DEMO_PAYERS)
    wire = partial(app.register, cfg=cfg)
    async with throwaway_service("statements", app.MIGRATIONS, wire, live_stack) as svc:
        yield svc


def reversal(of: ClaimAdjudicated) -> ClaimAdjudicated:
    """The payer's CLP02 22 of an earlier answer: every amount negated."""
    return of.model_copy(
        update={
            "trace_number": of.trace_number + "R",
            "status": AdjudicationStatus.reversed,
            "claim_status_code": "22",
            "charge_cents": -of.charge_cents,
            "paid_cents": -of.paid_cents,
            "patient_responsibility_cents": -of.patient_responsibility_cents,
            "adjustments": [
                Adjustment(group=a.group, reason=a.reason, amount_cents=-a.amount_cents)
                for a in of.adjustments
            ],
        }
    )


async def insurance_paid(f: Feed, cid: str) -> dict[str, int]:
    rows = await f.fetch(
        "SELECT payer_id, -sum(amount_cents) AS paid FROM ledger WHERE claim_id = $1"
        " AND kind = 'insurance_payment' GROUP BY payer_id ORDER BY payer_id",
        cid,
    )
    return {r["payer_id"]: r["paid"] for r in rows}


async def account_credit(f: Feed, guarantor: str) -> int:
    got = await f.val(
        "SELECT coalesce(-sum(amount_cents), 0) FROM ledger WHERE guarantor_id = $1"
        " AND claim_id IS NULL",
        guarantor,
    )
    return int(got)


async def test_the_primary_paying_less_after_the_secondary_paid_bills_the_new_share_at_once(
    svc: Service,
) -> None:
    f = Feed(svc)
    enc, cid = visit(11, guarantor="G-REV1", coverages=[MEDICARE, MEDICAID])
    first = decision(cid, 12000, 5000, 3000, payer="MCR01")
    await f.send(enc, first)
    await f.send(decision(cid, 1000, 0, 2000, payer="MCD01", status_code="2"))
    assert await statements_for(f, cid) == [2000]  # what Medicaid left

    # Medicare takes its payment back and pays 10.00 less: the patient's coinsurance grows
    await f.send(reversal(first), decision(cid, 11000, 5000, 4000, payer="MCR01"))
    assert await insurance_paid(f, cid) == {"MCD01": 1000, "MCR01": 11000}
    # 40.00 Medicare left, less Medicaid's 10.00: billed now, not held for Medicaid again
    assert await f.claim_balance(cid) == 3000
    assert await statements_for(f, cid) == [2000, 3000]


async def test_the_primary_paying_more_leaves_the_patients_payment_as_credit(
    svc: Service,
) -> None:
    f = Feed(svc)
    enc, cid = visit(12, guarantor="G-REV2", coverages=[MEDICARE, MEDICAID])
    first = decision(cid, 12000, 5000, 3000, payer="MCR01")
    await f.send(enc, first)
    await f.send(decision(cid, 1000, 0, 2000, payer="MCD01", status_code="2"))
    await f.send(payment("G-REV2", 2000, "PAY-REV2", cid))  # the patient pays the bill
    assert await f.claim_balance(cid) == 0

    # Medicare pays 20.00 more: its 10.00 coinsurance is what Medicaid already paid
    await f.send(reversal(first), decision(cid, 14000, 5000, 1000, payer="MCR01"))
    assert await insurance_paid(f, cid) == {"MCD01": 1000, "MCR01": 14000}
    assert await f.claim_balance(cid) == 0
    assert await account_credit(f, "G-REV2") == 2000  # the patient's 20.00, theirs again


async def test_a_qmb_patients_recomputed_share_is_written_off_not_billed(
    svc: Service,
) -> None:
    f = Feed(svc)
    enc, cid = visit(13, guarantor="G-REV3", coverages=[MEDICARE, QMB])
    first = decision(cid, 12000, 5000, 3000, payer="MCR01")
    await f.send(enc, first)
    await f.send(decision(cid, 1000, 0, 2000, payer="MCD01", status_code="2"))
    await f.send(reversal(first), decision(cid, 11000, 5000, 4000, payer="MCR01"))
    assert await insurance_paid(f, cid) == {"MCD01": 1000, "MCR01": 11000}
    assert await f.claim_balance(cid) == 0
    assert await statements_for(f, cid) == []
    written = await f.val(
        "SELECT -sum(amount_cents) FROM ledger WHERE claim_id = $1 AND reason = 'QMB'", cid
    )
    assert written == 3000  # all Medicare left (40.00) less what Medicaid paid (10.00)
