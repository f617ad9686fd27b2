"""Claim states follow the files: a claim the batcher put in an interchange stays CODED
(no longer waiting to be batched) until the connector reports the file in the
clearinghouse's mailbox (x12.file-sent); only then is it SUBMITTED, its claim.submitted
sent and its timers started. A report that comes twice or names an interchange this
room never built moves nothing. A failed upload is a note on each claim's timeline with
the connector's reason; the claim stays CODED."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from runtime.settings import Settings
from schemas.events import AdjudicationStatus
from schemas.events_payments import ClaimBalanceZero
from schemas.events_transport import X12FileSendFailed, X12FileSent, X12InterchangeReady
from services.claims.config import ClaimsSettings
from tests.integration.claims_world import Claims, adjudicated, claims_service, clm, coded

pytestmark = pytest.mark.integration


@pytest.fixture
async def claims(live_stack: Settings) -> AsyncIterator[Claims]:
    async with claims_service(live_stack, ClaimsSettings(batch_window_s=0), http_port=6196) as c:
        yield c


async def test_a_claim_is_submitted_only_once_its_interchange_is_uploaded(claims: Claims) -> None:
    one, two = coded(1), coded(2)
    await claims.send(one, two)
    assert await claims.send_batches(uploaded=False) == 2
    [ready] = await claims.outbox(X12InterchangeReady.TOPIC)
    assert ready.claims == 2
    for c in (one, two):
        assert clm(ready.x12, c.patient_control_number)  # the 837 carries both claims
        row = await claims.state(c.claim_id)
        assert (row["state"], row["outgoing_frequency"]) == ("CODED", None)
    assert await claims.submitted(uploaded=False) == []
    assert await claims.send_batches(uploaded=False) == 0  # handed over once, not again
    timers = await claims.pool.fetchval("SELECT count(*) FROM claim_timers WHERE kind = 'ack'")
    assert timers == 0  # nothing to wait for while the file is not there

    assert await claims.uploaded() == [ready.interchange_control_number]
    sent = await claims.submitted(uploaded=False)
    assert sorted(s.claim_id for s in sent) == sorted([one.claim_id, two.claim_id])
    assert {s.interchange_control_number for s in sent} == {ready.interchange_control_number}
    for c in (one, two):
        assert (await claims.state(c.claim_id))["state"] == "SUBMITTED"
        last = (await claims.timeline(c.claim_id))[-1]
        assert (last["from_state"], last["to_state"]) == ("CODED", "SUBMITTED")
        assert f'"file": "{ready.interchange_control_number}.837"' in last["detail"]
    timers = await claims.pool.fetchval("SELECT count(*) FROM claim_timers WHERE kind = 'ack'")
    assert timers == 2

    # the connector's report again (another message id): no second claim.submitted
    again = X12FileSent(
        interchange_control_number=ready.interchange_control_number,
        account="test",
        name="again.837",
        sha256="0" * 64,
        attempts=2,
    )
    await claims.send(again)
    assert len(await claims.submitted(uploaded=False)) == 2


async def test_a_report_naming_an_interchange_never_built_moves_nothing(claims: Claims) -> None:
    waiting = coded(3)
    await claims.send(waiting)
    await claims.send_batches(uploaded=False)
    stranger = X12FileSent(
        interchange_control_number="987654321",
        account="test",
        name="stranger.837",
        sha256="1" * 64,
        attempts=1,
    )
    await claims.send(stranger)
    assert await claims.submitted(uploaded=False) == []
    assert (await claims.state(waiting.claim_id))["state"] == "CODED"


async def test_a_failed_upload_shows_its_reason_on_each_claims_timeline(claims: Claims) -> None:
    one, two = coded(4), coded(5)
    await claims.send(one, two)
    await claims.send_batches(uploaded=False)
    [ready] = await claims.outbox(X12InterchangeReady.TOPIC)
    failed = X12FileSendFailed(
        interchange_control_number=ready.interchange_control_number,
        account="local",
        name=f"{ready.interchange_control_number}.837",
        reason="sftp 127.0.0.1:1: the mailbox is unreachable (ConnectionRefusedError)",
        attempts=1,
        retry_in_s=2.0,
    )
    await claims.send(failed)
    for c in (one, two):
        row = await claims.state(c.claim_id)
        assert row["state"] == "CODED"
        last = (await claims.timeline(c.claim_id))[-1]
        assert (last["event_type"], last["kind"]) == (X12FileSendFailed.TYPE, "note")
        assert "the mailbox is unreachable" in last["detail"]
        assert f"interchange {ready.interchange_control_number}" in last["detail"]
        assert "next try in 2 s" in last["detail"]
    assert await claims.submitted(uploaded=False) == []


async def test_an_835_that_overtakes_the_upload_report_proves_the_upload(claims: Claims) -> None:
    """The payer answered the 837 before claims applied its x12.file-sent: the 835 proves
    the upload, so the claim is SUBMITTED and paid at once (not an impossible step in
    CODED, not a retried batch), and the report, when it comes, sends nothing again."""
    one = coded(5)
    await claims.send(one)
    await claims.send_batches(uploaded=False)
    paid = adjudicated(one, AdjudicationStatus.paid, paid=one.total_charge_cents)
    await claims.send(paid)
    assert (await claims.state(one.claim_id))["state"] in ("PAID", "CLOSED")
    assert [s.claim_id for s in await claims.submitted(uploaded=False)] == [one.claim_id]
    await claims.uploaded()
    assert len(await claims.submitted(uploaded=False)) == 1
    assert (await claims.state(one.claim_id))["state"] in ("PAID", "CLOSED")
    assert "anomaly" not in [t["kind"] for t in await claims.timeline(one.claim_id)]


async def test_a_payers_balance_zero_before_the_upload_report_closes_the_claim(
    claims: Claims,
) -> None:
    """Statements read the payer's 835 and closed the balance before claims applied the
    upload report (seen in a benchmark: a secondary claim stayed PAID for ever, its
    balance_zero an impossible step in CODED). The payment proves the upload: the claim
    is SUBMITTED, then CLOSED; the report that follows sends nothing again."""
    one = coded(6)
    await claims.send(one)
    await claims.send_batches(uploaded=False)
    zero = ClaimBalanceZero(
        claim_id=one.claim_id, guarantor_id="G1", closed_by="insurance", at=dt.datetime.now(dt.UTC)
    )
    await claims.send(zero)
    assert (await claims.state(one.claim_id))["state"] == "CLOSED"
    await claims.uploaded()
    assert [s.claim_id for s in await claims.submitted(uploaded=False)] == [one.claim_id]
    assert "anomaly" not in [t["kind"] for t in await claims.timeline(one.claim_id)]
