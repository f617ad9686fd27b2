"""The clearinghouse's answers come as files (999, 277CA) the connector announces
(x12.file-received); claims reads them into claim.acknowledged per claim: a 999 that
rejects the 837's set sends each of its claims to the rejection queue with the 999's
errors in words, a 277CA gives each claim its own verdict, and a file naming an
interchange this tenant never sent is dead-lettered with the reason and counted."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator

import orjson
import pytest
from prometheus_client import CollectorRegistry

from runtime.context import Reject
from runtime.settings import Settings
from runtime.x12 import Envelope, segment, transaction, wrap
from schemas.events import ClaimAcknowledged
from schemas.events_transport import X12FileReceived
from services.claims import acks
from services.claims.config import ClaimsSettings
from tests.integration.claims_world import Claims, claims_service, coded

pytestmark = pytest.mark.integration

AT = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
async def claims(live_stack: Settings) -> AsyncIterator[Claims]:
    async with claims_service(live_stack, ClaimsSettings(batch_window_s=0), http_port=6195) as c:
        yield c


def env(kind: str, version: str, icn: int = 5001) -> Envelope:
    return Envelope("ZZ", "CLEARHOUSE", "ZZ", "RCMPIPELINE", kind, version, icn, icn, at=AT)


def file_received(text: str, kind: str) -> X12FileReceived:
    return X12FileReceived(
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        kind=kind,
        interchange_control_number="5001",
        sender_id="CLEARHOUSE",
        receiver_id="RCMPIPELINE",
        transactions=1,
        source="sftp:local/answer",
        x12=text,
    )


def rejecting_999(gcn: str) -> str:
    body = [
        segment("AK1", "HC", gcn, "005010X222A1"),
        segment("AK2", "837", "0001", "005010X222A1"),
        segment("IK3", "NM1", "12", "2010", "8"),
        segment("IK4", "9", "", "7"),
        segment("IK5", "R", "5"),
        segment("AK9", "R", "1", "1", "0"),
    ]
    return wrap(env("FA", "005010X231A1"), [transaction("999", "0001", body, "005010X231A1")])


def answer_277ca(batch: str, accepted: str, rejected: str) -> str:
    body = [
        segment("BHT", "0085", "08", "R1", "20261207", "0930", "TH"),
        segment("HL", "1", "", "20", "1"),
        segment("HL", "2", "1", "21", "1"),
        segment("TRN", "2", batch),
        segment("HL", "3", "2", "19", "1"),
        segment("HL", "4", "3", "PT"),
        segment("TRN", "2", accepted),
        segment("STC", "A1:20", "20261207", "WQ", "100"),
        segment("HL", "5", "3", "PT"),
        segment("TRN", "2", rejected),
        segment("STC", "A7:21:IL", "20261207", "U", "100"),
    ]
    return wrap(env("HN", "005010X214"), [transaction("277", "0001", body, "005010X214")])


async def acknowledged(claims: Claims) -> list[ClaimAcknowledged]:
    """What the reader emitted, delivered back to claims as Kafka would."""
    sent = list(await claims.outbox("claim.acknowledged"))
    await claims.send(*sent)
    return sent


async def test_a_999_rejecting_the_set_sends_its_claims_to_rejection_with_the_errors_in_words(
    claims: Claims,
) -> None:
    one, two = coded(11), coded(12)
    await claims.send(one, two)
    await claims.send_batches()
    gcn = await claims.pool.fetchval("SELECT group_control_number FROM interchanges")
    await claims.send(file_received(rejecting_999(str(gcn)), "999"))
    acks = await acknowledged(claims)
    assert sorted(a.claim_id for a in acks) == sorted([one.claim_id, two.claim_id])
    for c in (one, two):
        row = await claims.state(c.claim_id)
        assert row["state"] == "REJECTED"
        detail = orjson.loads((await claims.timeline(c.claim_id))[-1]["detail"])
        [reason] = detail["errors"] if "errors" in detail else detail["reasons"]
        assert reason["code"] == "999-R"
        assert reason["message"] == (
            "999 rejected transaction set 0001: segment NM1 (position 12): segment has data"
            " element errors; segment NM1 (position 12) element 9: invalid code value;"
            " one or more segments in error"
        )


async def test_a_277ca_gives_each_claim_its_own_verdict(claims: Claims) -> None:
    good, bad = coded(21), coded(22)
    await claims.send(good, bad)
    await claims.send_batches()
    icn = await claims.pool.fetchval("SELECT interchange_control_number FROM interchanges")
    text = answer_277ca(f"{icn:09d}", good.patient_control_number, bad.patient_control_number)
    await claims.send(file_received(text, "277CA"))
    await acknowledged(claims)
    assert (await claims.state(good.claim_id))["state"] == "ACCEPTED"
    assert (await claims.state(bad.claim_id))["state"] == "REJECTED"
    detail = orjson.loads((await claims.timeline(bad.claim_id))[-1]["detail"])
    [reason] = detail["errors"] if "errors" in detail else detail["reasons"]
    assert reason["code"] == "277CA:A7:21:IL"
    assert reason["message"] == "rejected for invalid information (status code 21, entity IL)"


async def test_an_answer_naming_an_interchange_never_sent_is_dead_lettered_and_counted(
    claims: Claims,
) -> None:
    stranger = file_received(rejecting_999("777777"), "999")
    metrics = acks.AckMetrics(CollectorRegistry())
    assert claims.svc.pool is not None
    async with claims.svc.pool.acquire() as conn, conn.transaction():
        ctx = claims.svc.context(conn, tenant=claims.tenant, correlation_id="t")
        with pytest.raises(Reject) as refused:
            await acks.on_file_received(ctx, stranger, cfg=claims.cfg, metrics=metrics)
    assert refused.value.reason == "unknown-interchange"
    assert "a 999 answers group 777777, which this tenant never sent" in refused.value.detail
    assert metrics.files.labels("999", "unknown-interchange")._value.get() == 1
    # through the service: dead-lettered, nothing acknowledged
    await claims.send(stranger)
    assert await claims.outbox("claim.acknowledged") == []


async def test_an_answer_that_overtakes_its_upload_report_proves_the_upload(
    claims: Claims,
) -> None:
    """The clearinghouse reads an 837 once it is renamed in the mailbox, which can be
    before claims applies the upload's x12.file-sent: its 277CA proves the upload, so the
    claims are SUBMITTED then and read at once (never a retried batch that would hold the
    report back behind it); the report, when it comes, is a late note: no second
    claim.submitted, no anomaly."""
    good, bad = coded(31), coded(32)
    await claims.send(good, bad)
    await claims.send_batches(uploaded=False)  # handed to the connector, not reported yet
    icn = await claims.pool.fetchval("SELECT interchange_control_number FROM interchanges")
    early = file_received(
        answer_277ca(f"{icn:09d}", good.patient_control_number, bad.patient_control_number),
        "277CA",
    )
    await claims.send(early)
    await acknowledged(claims)
    assert (await claims.state(good.claim_id))["state"] == "ACCEPTED"
    assert (await claims.state(bad.claim_id))["state"] == "REJECTED"
    first = await claims.submitted(uploaded=False)
    assert sorted(s.claim_id for s in first) == sorted([good.claim_id, bad.claim_id])
    await claims.uploaded()  # the report comes after all
    assert len(await claims.submitted(uploaded=False)) == 2  # not sent again
    assert (await claims.state(good.claim_id))["state"] == "ACCEPTED"
    kinds = [t["kind"] for c in (good, bad) for t in await claims.timeline(c.claim_id)]
    assert "anomaly" not in kinds
    assert "late" in kinds  # the report, recorded after the answer
