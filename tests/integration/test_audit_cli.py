"""`rcm` commands that read or replay PHI write their own rows to the gateway's audit log
(real Kafka and PostgreSQL): `rcm coverage import`, `rcm dlq list`, `rcm dlq replay`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from typer.testing import CliRunner

from rcm.cli_coverage import app as coverage_app
from rcm.cli_keys import verify_chain
from rcm.cli_ops import dlq_app
from runtime.db import create_pool, migrate
from runtime.kafka import producer_config
from runtime.settings import REPO_ROOT, Settings
from tests.integration.gateway_env import drop_topics

pytestmark = pytest.mark.integration

HEADER = "patient_id,payer_id,payer_name,member_id,plan,effective_date,termination_date,priority\n"


@pytest.fixture
def audit_schema(live_stack: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    schema = f"it_auditcli_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("RCM_GATEWAY_SCHEMA_NAME", schema)
    yield schema

    async def drop() -> None:
        conn = await asyncpg.connect(live_stack.database_url)
        try:
            await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        finally:
            await conn.close()

    import asyncio

    asyncio.run(drop())


async def rows(s: Settings, schema: str, action: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(s.database_url, server_settings={"search_path": schema})
    try:
        return await conn.fetch(
            "SELECT tenant, actor, resource, patient_ids, claim_ids FROM audit_log"
            " WHERE action = $1 ORDER BY seq",
            action,
        )
    finally:
        await conn.close()


def test_a_coverage_import_names_every_patient_it_wrote(
    live_stack: Settings, audit_schema: str, tmp_path: Path
) -> None:
    import asyncio

    async def eligibility() -> None:  # as the service does when it starts
        pool = await create_pool(live_stack, "eligibility", max_size=1)
        try:
            await migrate(pool, "eligibility", REPO_ROOT / "services/eligibility/migrations")
        finally:
            await pool.close()

    asyncio.run(eligibility())
    tenant = f"audit-{uuid.uuid4().hex[:6]}"
    f = tmp_path / "coverages.csv"
    f.write_text(
        HEADER
        + "".join(f"PAT-{n},PPO01,BLUE MEADOW PPO,BMP{n},PPO,2026-01-01,,1\n" for n in range(12))
    )
    r = CliRunner().invoke(coverage_app, [str(f), "--tenant", tenant])
    assert r.exit_code == 0, r.output
    found = asyncio.run(rows(live_stack, audit_schema, "coverage.import"))
    assert len(found) == 1
    assert found[0]["tenant"] == tenant
    assert found[0]["actor"].startswith("cli:")
    assert sorted(found[0]["patient_ids"]) == sorted(f"PAT-{n}" for n in range(12))
    assert asyncio.run(verify_chain(audit_schema))["ok"]


async def dead_letter(s: Settings, topic: str, service: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1), NewTopic(topic[: -len(".dlq")], 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(**producer_config(s))
    await producer.start()
    try:
        body = {"encounter_id": "E-DLQ-1", "patient": {"id": "PAT-DLQ-1", "last_name": "X"}}
        await producer.send_and_wait(
            topic,
            orjson.dumps(body),
            key=b"E-DLQ-1",
            headers=[
                ("ce_id", uuid.uuid4().hex.encode()),
                ("ce_tenantid", b"tenant-dlq"),
                ("ce_correlationid", b"C-DLQ-1"),
                ("dlq_reason", b"handler-error"),
                ("dlq_service", f"rcm/{service}".encode()),
            ],
        )
    finally:
        await producer.stop()


def test_listing_and_replaying_dead_letters_each_leave_a_row(
    live_stack: Settings, audit_schema: str
) -> None:
    import asyncio

    topic = f"it-audit-{uuid.uuid4().hex[:8]}.encounter.created.dlq"
    service = "it_dlqsvc_" + "".join(chr(97 + int(c, 16)) for c in uuid.uuid4().hex[:8])

    async def setup() -> None:
        conn = await asyncpg.connect(live_stack.database_url)
        try:
            await conn.execute(f"CREATE SCHEMA {service}")
            await conn.execute(f"CREATE TABLE {service}.processed_messages (message_id text)")
        finally:
            await conn.close()
        await dead_letter(live_stack, topic, service)

    asyncio.run(setup())
    try:
        r = CliRunner().invoke(dlq_app, ["list", "--json", "--topic", topic])
        assert r.exit_code == 0, r.output
        assert [d["ce_type"] for d in orjson.loads(r.output)] == [None]
        r = CliRunner().invoke(dlq_app, ["replay", topic, "--offset", "0"])
        assert r.exit_code == 0, r.output
        for action in ("dlq.list", "dlq.replay"):
            (row,) = asyncio.run(rows(live_stack, audit_schema, action))
            assert (row["tenant"], row["resource"]) == ("tenant-dlq", f"{topic}:0:0")
            assert (row["claim_ids"], row["patient_ids"]) == (["C-DLQ-1"], ["PAT-DLQ-1"])
    finally:

        async def drop() -> None:
            conn = await asyncpg.connect(live_stack.database_url)
            try:
                await conn.execute(f"DROP SCHEMA IF EXISTS {service} CASCADE")
            finally:
                await conn.close()
            await drop_topics(live_stack, topic.removesuffix("encounter.created.dlq"))

        asyncio.run(drop())
