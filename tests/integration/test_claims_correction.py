"""Issue 29 part 2 on the real PostgreSQL: a claim the payer paid in part (a line denied,
CO-197) can be corrected; the correction goes out as a replacement (frequency 7) naming
the payer's claim number (REF*F8), through the saga table, once however often the fix is
delivered. A denial whose category the payer's directory row takes resubmitted goes out
again by itself, once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from runtime.settings import Settings
from schemas.events import AckKind, AdjudicationStatus
from schemas.events_workqueue import Reentry
from services.claims.config import ClaimsSettings
from services.claims.directory import import_payers
from services.claims.payers import parse
from tests.integration.claims_world import (
    TENANT,
    Claims,
    ack,
    adjudicated,
    claims_service,
    coded,
    fixed,
    settings_for,
    submit,
)

pytestmark = pytest.mark.integration

RESUBMITTING = """payer_id,name,filing_indicator,timely_filing_days,days_to_pay,auto_resubmit
ACME1,ACME HEALTH,CI,180,21,correctable
BETA2,BETA HEALTH,12,180,21,
"""


@pytest.fixture
def cfg(request: pytest.FixtureRequest) -> ClaimsSettings:
    return settings_for(request)


@pytest.fixture
async def claims(live_stack: Settings, cfg: ClaimsSettings) -> AsyncIterator[Claims]:
    async with claims_service(live_stack, cfg) as service:
        yield service


def _clm_and_next(x12: str, pcn: str) -> tuple[list[str], list[str]]:
    segs = [s.split("*") for s in x12.split("~")]
    i = next(k for k, s in enumerate(segs) if s[0] == "CLM" and s[1] == pcn)
    return segs[i], segs[i + 1]


async def test_a_partly_paid_claim_is_corrected_as_a_replacement_with_the_payer_number(
    claims: Claims,
) -> None:
    claim = coded(29)
    await submit(claims, claim)
    await claims.send(
        ack(claim, AckKind.ack_277ca, True),
        adjudicated(
            claim, AdjudicationStatus.partially_paid, paid=9200, payer_claim_number="PAYER29"
        ),
    )
    # insurance paid what it will and the patient owes nothing: the claim closed
    assert (await claims.state(claim.claim_id))["state"] == "CLOSED"

    fix = claims.record(fixed(claim, Reentry.coding))
    await claims.svc.process(fix.topic, [fix])
    await claims.svc.process(fix.topic, [replace(fix, offset=fix.offset + 1)])  # redelivered
    row = await claims.state(claim.claim_id)
    assert (row["state"], row["payer_claim_number"]) == ("ELIGIBLE", "PAYER29")
    await submit(claims, claim)  # coding codes the corrected claim again

    row = await claims.state(claim.claim_id)
    assert (row["state"], row["frequency_code"]) == ("SUBMITTED", "7")
    first, replacement = await claims.submitted()
    assert (first.frequency_code, replacement.frequency_code) == ("1", "7")
    clm, ref = _clm_and_next(replacement.x12, claim.patient_control_number)
    assert clm[5] == "11:B:7"
    assert ref == ["REF", "F8", "PAYER29"]
    # every move went through the saga table, the fix once
    moves = [
        (t["event_type"], t["from_state"], t["to_state"])
        for t in await claims.timeline(claim.claim_id)
        if t["kind"] == "transition"
    ]
    assert moves[-4:] == [
        ("rcm.claims.balance-zero", "PARTIALLY_PAID", "CLOSED"),
        ("rcm.claim.fixed.v1", "CLOSED", "ELIGIBLE"),
        ("rcm.claim.coded.v1", "ELIGIBLE", "CODED"),
        ("rcm.claim.submitted.v1", "CODED", "SUBMITTED"),
    ]


async def test_a_closed_claim_never_sent_to_a_payer_is_not_corrected(claims: Claims) -> None:
    claim = coded(30)
    await submit(claims, claim)
    await claims.send(
        ack(claim, AckKind.ack_277ca, True),
        adjudicated(claim, AdjudicationStatus.paid, paid=claim.total_charge_cents),
    )
    await claims.pool.execute(  # as a self-pay claim closes: no payer's number
        "UPDATE claims SET payer_claim_number = NULL WHERE claim_id = $1", claim.claim_id
    )
    await claims.send(fixed(claim))
    assert (await claims.state(claim.claim_id))["state"] == "CLOSED"
    [last] = (await claims.timeline(claim.claim_id))[-1:]
    assert (last["event_type"], last["kind"]) == ("rcm.claim.fixed.v1", "anomaly")


async def test_a_denial_the_payer_takes_resubmitted_goes_out_again_once(claims: Claims) -> None:
    async with claims.pool.acquire() as conn:  # ACME1 takes correctable denials resubmitted
        await import_payers(conn, TENANT, parse(RESUBMITTING))
    claim, other = coded(31), coded(32, payer="BETA2")
    await submit(claims, claim, other)
    for c in (claim, other):
        await claims.send(
            ack(c, AckKind.ack_277ca, True),
            adjudicated(
                c, AdjudicationStatus.denied, paid=0, payer_claim_number=f"ICN-{c.claim_id}"
            ),
        )
    assert (await claims.state(other.claim_id))["state"] == "DENIED"  # BETA2 does not
    assert (await claims.state(claim.claim_id))["state"] == "CODED"
    await claims.send_batches()
    row = await claims.state(claim.claim_id)
    assert (row["state"], row["frequency_code"]) == ("SUBMITTED", "7")
    replacement = (await claims.submitted())[-1]
    _, ref = _clm_and_next(replacement.x12, claim.patient_control_number)
    assert ref == ["REF", "F8", f"ICN-{claim.claim_id}"]

    # denied again: it stays denied for a person (one automatic resubmission)
    await claims.send(
        adjudicated(claim, AdjudicationStatus.denied, paid=0, payer_claim_number="ICN-2")
    )
    assert (await claims.state(claim.claim_id))["state"] == "DENIED"
    steps = [t["event_type"] for t in await claims.timeline(claim.claim_id)]
    assert steps.count("rcm.claims.auto-resubmit") == 1
