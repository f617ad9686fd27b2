"""The reporting service on the real Kafka: live KPIs from claim events, per tenant,
rebuilt from its changelog topics after a restart, bad records dead-lettered."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from rcm.processes import fleet_env
from runtime.kafka import client_config, producer_config
from runtime.settings import REPO_ROOT, Settings
from schemas.codec import encode, new_meta
from schemas.events import AckKind, AdjudicationStatus, Event
from schemas.topics import PARTITIONS
from services.reporting.app import PORT
from tests.integration.browser import Cells, chromium, login_link, money, serving
from tests.integration.ops_data import A, B, ops_env
from tests.reporting_data import ack, adjudicated, submitted

pytestmark = pytest.mark.integration

OFFSET = 50  # clear of the fleet's ports (instances add 100s)
KINDS = ("claim.submitted", "claim.acknowledged", "claim.adjudicated")


@pytest.fixture(scope="module")
async def topics(live_stack: Settings) -> AsyncIterator[dict[str, str]]:
    run = uuid.uuid4().hex[:8]
    names = {kind: f"it-{run}.{kind}" for kind in KINDS}
    admin = AIOKafkaAdminClient(**client_config(live_stack))
    await admin.start()
    all_topics = [n for t in names.values() for n in (t, f"{t}.dlq")]
    await admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in all_topics])
    for _ in range(100):  # every partition has its leader before anyone reads or writes
        described = await admin.describe_topics(all_topics)
        if all(p["leader"] >= 0 for t in described for p in t["partitions"]):
            break
        await asyncio.sleep(0.1)
    try:
        yield names | {"app_id": f"it-rep-{run}"}
    finally:
        existing = set(await admin.list_topics())
        ours = [t for t in existing if t in all_topics or t.startswith(f"it-rep-{run}")]
        await admin.delete_topics(ours)
        await admin.close()
        # faust makes its data folder (empty with tables in memory) where it runs
        shutil.rmtree(REPO_ROOT / f"it-rep-{run}-data", ignore_errors=True)


class Reporting:
    """``python -m services.reporting`` as a process, started and stopped by the test."""

    def __init__(self, s: Settings, topics: dict[str, str], log: Path) -> None:
        self.port = PORT + s.http_port_offset + OFFSET
        self.env = {
            **os.environ,
            **fleet_env(s),
            "RCM_HTTP_PORT_OFFSET": str(s.http_port_offset + OFFSET),
            "RCM_REPORTING_APP_ID": topics["app_id"],
            "RCM_REPORTING_SOURCE_TOPICS": "[" + ",".join(f'"{topics[k]}"' for k in KINDS) + "]",
            # commits fall often between an event's table writes and their send to Kafka,
            # where faust's own exactly-once commit lost counts (services/reporting/commits.py)
            "RCM_REPORTING_COMMIT_INTERVAL_S": "0.02",
            # a partition faust stops reading is read again soon (watchdog.py)
            "RCM_REPORTING_STALL_CHECK_S": "3",
        }
        self.token = s.ops_token.get_secret_value()
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "services.reporting"],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def wait_healthy(self, seconds: float = 120) -> None:
        """Until the worker has its partitions and has restored its tables."""
        for _ in range(int(seconds * 4)):
            try:
                async with httpx.AsyncClient(timeout=2) as client:
                    r = await client.get(f"http://127.0.0.1:{self.port}/healthz")
                if r.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.25)
        raise AssertionError(f"reporting not healthy after {seconds} s (see {self.log})")

    def stop(self, hard: bool = False) -> None:
        """SIGTERM (faust stops in order), or with ``hard`` SIGKILL, as a crash would."""
        if self.proc is not None:
            self.proc.kill() if hard else self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None

    async def kpis(self, tenant: str, headers: dict[str, str] | None = None) -> httpx.Response:
        """The tenant's last two days, with the ops token unless ``headers`` say otherwise."""
        if headers is None:
            headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(timeout=5) as client:
            return await client.get(
                f"http://127.0.0.1:{self.port}/v1/kpis/live",
                params={"tenant": tenant, "window": "day", "last": "2"},
                headers=headers,
            )

    async def wait_total(self, tenant: str, seconds: float = 120, **want: Any) -> Any:
        """Polls until the tenant's totals have the ``want`` values; returns the report."""
        body: Any = None
        for _ in range(int(seconds * 4)):
            try:
                r = await self.kpis(tenant)
                body = r.json() if r.status_code == 200 else body
            except httpx.HTTPError:
                pass
            if body is not None and all(body["total"][k] == v for k, v in want.items()):
                return body
            await asyncio.sleep(0.25)
        raise AssertionError(f"never reached {want}: {body and body['total']}")


@pytest.fixture(scope="module")
async def reporting(live_stack: Settings, topics: dict[str, str]) -> AsyncIterator[Reporting]:
    rep = Reporting(live_stack, topics, REPO_ROOT / "test-artifacts" / "reporting-it.log")
    rep.start()
    await rep.wait_healthy()
    try:
        yield rep
    finally:
        rep.stop()


async def publish(s: Settings, topics: dict[str, str], tenant: str, events: list[Event]) -> None:
    producer = AIOKafkaProducer(**producer_config(s))
    await producer.start()
    try:
        for ev in events:
            key = ev.key()
            enc = encode(ev, new_meta(ev, source="it", tenant=tenant, correlation_id=key))
            await producer.send_and_wait(
                topics[ev.TOPIC], enc.value, key=enc.key, headers=enc.headers
            )
    finally:
        await producer.stop()


def the_day() -> list[Event]:
    """Three claims to MCR01 and one to PPO01, as a biller would tell it."""
    return [
        submitted("C1", "MCR01", 15000),
        submitted("C2", "MCR01", 9000),
        submitted("C3", "MCR01", 4000),
        submitted("C4", "PPO01", 20000),
        ack("C1", AckKind.ack_999, True),
        ack("C1", AckKind.ack_277ca, True),
        ack("C2", AckKind.ack_999, False),  # rejected: its first pass failed
        submitted("C2", "MCR01", 9000),  # fixed and sent again
        ack("C2", AckKind.ack_277ca, True),
        ack("C3", AckKind.ack_277ca, True),
        ack("C4", AckKind.ack_277ca, True),
        adjudicated("C1", "MCR01", AdjudicationStatus.paid, charge=15000, paid=9600, patient=2400),
        adjudicated(
            "C2",
            "MCR01",
            AdjudicationStatus.denied,
            charge=9000,
            paid=0,
            line_adjustments=(("CO", "197", 9000),),
        ),
        adjudicated("C4", "PPO01", AdjudicationStatus.partially_paid, charge=20000, paid=12000),
    ]


async def test_a_days_claim_events_become_the_tenants_live_kpis(
    live_stack: Settings, topics: dict[str, str], reporting: Reporting
) -> None:
    tenant, other = f"t-{uuid.uuid4().hex[:6]}", f"u-{uuid.uuid4().hex[:6]}"
    await publish(live_stack, topics, tenant, the_day())
    await publish(live_stack, topics, other, [submitted("X1", "MCR01", 777)])

    body = await reporting.wait_total(tenant, decisions=3, first_verdicts=4)
    total = body["total"]
    assert total["claims_submitted"] == 5
    assert total["charges_submitted_cents"] == 57000
    assert total["first_verdicts"] == 4
    assert total["first_pass_acceptance_rate"] == "0.7500"
    assert total["rejections"] == 1
    assert total["denial_rate"] == "0.3333"
    assert total["denials_by_carc"] == [{"carc": "197", "claims": 1, "rate": "0.3333"}]
    assert total["paid_cents"] == 21600
    assert total["patient_responsibility_cents"] == 2400
    assert total["by_payer"]["PPO01"]["paid_cents"] == 12000
    assert total["by_payer"]["MCR01"]["first_pass_acceptance_rate"] == "0.6667"
    assert len(body["windows"]) == 1  # all today
    # the other tenant's claim is its own
    assert (await reporting.wait_total(other, charges_submitted_cents=777))["total"][
        "claims_submitted"
    ] == 1
    assert (await reporting.kpis(tenant, headers={})).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert (await reporting.kpis(tenant, headers=wrong)).status_code == 401


async def test_acknowledgements_read_before_their_claims_count_for_the_claims_payers(
    live_stack: Settings, topics: dict[str, str], reporting: Reporting
) -> None:
    """The worker reads its three topics each at its own pace: here every acknowledgement
    is in Kafka before any submission, and the day's figures per payer are the same."""
    tenant = f"t-{uuid.uuid4().hex[:6]}"
    order = {"claim.acknowledged": 0, "claim.submitted": 1, "claim.adjudicated": 2}
    await publish(live_stack, topics, tenant, sorted(the_day(), key=lambda e: order[e.TOPIC]))
    body = await reporting.wait_total(tenant, decisions=3, first_verdicts=4, claims_submitted=5)
    mcr = body["total"]["by_payer"]["MCR01"]
    assert (mcr["first_verdicts"], mcr["first_pass_acceptance_rate"]) == (3, "0.6667")
    assert mcr["rejections"] == 1
    assert body["total"]["by_payer"]["PPO01"]["first_pass_acceptance_rate"] == "1.0000"
    assert "" not in body["total"]["by_payer"]


async def test_a_restart_rebuilds_the_tables_from_kafka_without_counting_twice(
    live_stack: Settings, topics: dict[str, str], reporting: Reporting
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:6]}"
    await publish(live_stack, topics, tenant, the_day())
    await reporting.wait_total(tenant, decisions=3, first_verdicts=4, claims_submitted=5)
    reporting.stop()
    reporting.start()
    await reporting.wait_healthy()
    await publish(live_stack, topics, tenant, [submitted("C5", "PPO01", 1000)])
    total = (await reporting.wait_total(tenant, claims_submitted=6, first_verdicts=4))["total"]
    assert total["charges_submitted_cents"] == 58000
    assert total["decisions"] == 3
    assert total["first_pass_acceptance_rate"] == "0.7500"


async def test_a_worker_killed_mid_stream_counts_each_claim_once_after_its_restart(
    live_stack: Settings, topics: dict[str, str], reporting: Reporting
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:6]}"
    claims = [submitted(f"K{i}", "MCR01", 100 + i) for i in range(600)]
    sending = asyncio.create_task(publish(live_stack, topics, tenant, claims))
    seen = 0
    for _ in range(600):  # kill it while it counts: some claims in, some to come
        r = await reporting.kpis(tenant)
        seen = r.json()["total"]["claims_submitted"] if r.status_code == 200 else 0
        if seen > 0:
            break
        await asyncio.sleep(0.05)
    reporting.stop(hard=True)
    await sending
    assert 0 < seen < len(claims)
    reporting.start()
    await reporting.wait_healthy()
    # it gets the partitions once Kafka gives up on the killed member (its session)
    total = (await reporting.wait_total(tenant, 300, claims_submitted=len(claims)))["total"]
    assert total["charges_submitted_cents"] == sum(100 + i for i in range(600))
    await asyncio.sleep(3)  # nothing more trickles in: each claim was counted once
    again = (await reporting.kpis(tenant)).json()["total"]
    assert again["claims_submitted"] == len(claims)


async def test_a_record_that_is_not_an_event_goes_to_the_dlq_and_the_rest_flows(
    live_stack: Settings, topics: dict[str, str], reporting: Reporting
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:6]}"
    producer = AIOKafkaProducer(**producer_config(live_stack))
    await producer.start()
    try:
        ev = submitted("B1", "MCR01", 100)
        enc = encode(ev, new_meta(ev, source="it", tenant=tenant, correlation_id="B1"))
        # same partition as the good record after it: it must not stop the partition
        await producer.send_and_wait(
            topics["claim.submitted"], b"{not json", key=enc.key, headers=enc.headers
        )
    finally:
        await producer.stop()
    await publish(live_stack, topics, tenant, [submitted("B1", "MCR01", 100)])
    await reporting.wait_total(tenant, claims_submitted=1)

    consumer = AIOKafkaConsumer(
        topics["claim.submitted"] + ".dlq",
        **client_config(live_stack),
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10_000)
    finally:
        await consumer.stop()
    records = [r for rs in batch.values() for r in rs]
    assert len(records) == 1
    headers = {k: v.decode() for k, v in records[0].headers}
    assert records[0].value == b"{not json"
    assert headers["dlq_reason"] == "not-json"
    assert headers["dlq_service"] == "rcm/reporting"
    assert headers["dlq_source"].startswith(topics["claim.submitted"] + ":")


async def test_the_gateway_serves_the_callers_tenants_live_kpis_from_reporting(
    live_stack: Settings, topics: dict[str, str], reporting: Reporting
) -> None:
    uid = uuid.uuid4().hex[:8]
    url = f"http://127.0.0.1:{reporting.port}"
    await publish(live_stack, topics, A, the_day())
    await publish(live_stack, topics, B, [submitted("X1", "MCR01", 777)])
    await reporting.wait_total(A, decisions=3, first_verdicts=4)
    async with ops_env(live_stack, uid, reporting_url=url) as env:
        r = await env.client.get("/v1/ops/kpis/live?window=day&last=2", headers=env.auth("a_ops"))
        assert r.status_code == 200
        body = r.json()
        assert body["tenant"] == A
        assert body["total"]["first_pass_acceptance_rate"] == "0.7500"
        assert body["total"]["paid_cents"] == 21600
        assert body["total"]["by_payer"]["PPO01"]["claims_submitted"] == 1
        b = await env.client.get("/v1/ops/kpis/live?window=day", headers=env.auth("b_ops"))
        assert b.json()["total"]["charges_submitted_cents"] == 777  # B's alone
        no_key = await env.client.get("/v1/ops/kpis/live")
        assert no_key.status_code == 401
    async with ops_env(live_stack, uid + "d", reporting_url="http://127.0.0.1:9") as env:
        down = await env.client.get("/v1/ops/kpis/live", headers=env.auth("a_ops"))
        assert down.status_code == 503
        assert "reporting service did not answer" in down.json()["error"]
        assert down.headers["Retry-After"] == "5"


async def test_the_ops_dashboard_shows_the_live_kpis_reporting_computed(
    live_stack: Settings, topics: dict[str, str], reporting: Reporting
) -> None:
    """In Chromium, as the billing office's ops person sees it: today's hour and payers."""
    url = f"http://127.0.0.1:{reporting.port}"
    async with ops_env(live_stack, uuid.uuid4().hex[:8], reporting_url=url) as env:
        before = (await reporting.kpis(A)).json()["total"]["decisions"]  # A's day sent already?
        await publish(live_stack, topics, A, the_day())
        await reporting.wait_total(A, decisions=before + 3, first_verdicts=4)
        api = await env.client.get(
            "/v1/ops/kpis/live?window=hour&last=24", headers=env.auth("a_ops")
        )
        total = api.json()["total"]
        profile = Path(tempfile.mkdtemp(prefix="rcm-chromium-"))
        try:
            async with serving(env) as base:
                link = await login_link(env, base)
                dom = (await chromium("--dump-dom", link, profile=profile)).decode()
        finally:
            shutil.rmtree(profile, ignore_errors=True)
    page = Cells()
    page.feed(dom)
    day = page.rows[("data-hour", "total")]
    assert day["submitted"] == str(total["claims_submitted"])
    assert day["first-pass"] == "75.0%"  # tenant A's day, however often it was sent
    assert day["paid"] == money(total["paid_cents"])
    ppo = total["by_payer"]["PPO01"]
    assert page.rows[("data-payer", "PPO01")]["paid"] == money(ppo["paid_cents"])
    assert ppo["paid_cents"] % 12000 == 0  # $120.00 for each time the day was sent
    assert "Top denial reasons: 197" in page.ids["live-sub"]
