"""The ops routes' test world: a gateway in schemas and topics of its own, a consumer
group with known lag, and claims, postings and ledger rows for two tenants with the
figures tenant A must see (used by test_ops_routes.py and test_dashboard.py)."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from fastapi import FastAPI

from rcm.cli_keys import create_key
from runtime.db import create_pool, migrate
from runtime.kafka import client_config, producer_config
from runtime.settings import REPO_ROOT, Settings
from services.gateway.app import create_app
from services.gateway.config import GatewaySettings

MIGRATIONS = {
    "claims": REPO_ROOT / "services" / "claims" / "migrations",
    "remittance": REPO_ROOT / "services" / "remittance" / "migrations",
    "statements": REPO_ROOT / "services" / "statements" / "migrations",
}
A, B = "ops-tenant-a", "ops-tenant-b"


@dataclass
class OpsEnv:
    s: Settings
    g: GatewaySettings
    app: FastAPI
    client: httpx.AsyncClient
    db: asyncpg.Pool
    tokens: dict[str, str]
    lag_group: str
    lag_topic: str

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


def settings_for(uid: str, **overrides: Any) -> GatewaySettings:
    fields: dict[str, Any] = {
        "schema_name": f"it_ogw_{uid}",
        "claims_schema": f"it_ogc_{uid}",
        "remittance_schema": f"it_ogr_{uid}",
        "statements_schema": f"it_ogs_{uid}",
        "topic_prefix": f"it-ops-{uid}.",
        "ops_lag_group_prefix": f"it-ops-{uid}-",
        "ops_cache_s": 0,
        "kafka_timeout_s": 5.0,
    }
    fields.update(overrides)
    return GatewaySettings(**fields)


async def lag_fixture(s: Settings, topic: str, group: str, produced: int, committed: int) -> None:
    """A topic with ``produced`` messages and a consumer group that committed ``committed``."""
    admin = AIOKafkaAdminClient(**client_config(s))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(**producer_config(s))
    await producer.start()
    try:
        for i in range(produced):
            await producer.send_and_wait(topic, b"x", partition=0, key=str(i).encode())
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(group_id=group, enable_auto_commit=False, **client_config(s))
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.commit({tp: committed})
    finally:
        await consumer.stop()


async def drop_topic(s: Settings, topic: str) -> None:
    admin = AIOKafkaAdminClient(**client_config(s))
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def ops_env(s: Settings, uid: str, **overrides: Any) -> AsyncIterator[OpsEnv]:
    g = settings_for(uid, **overrides)
    db = await create_pool(s, g.claims_schema, max_size=2)
    schemas = {
        "claims": g.claims_schema,
        "remittance": g.remittance_schema,
        "statements": g.statements_schema,
    }
    for name, schema in schemas.items():
        await migrate(db, schema, MIGRATIONS[name])
    lag_topic, lag_group = f"it-ops-{uid}.claim.coded", f"it-ops-{uid}-claims"
    await lag_fixture(s, lag_topic, lag_group, produced=7, committed=2)
    app = create_app(s, g)
    try:
        async with app.router.lifespan_context(app):
            tokens = {}
            for name, tenant, scopes in [
                ("a_ops", A, ["ops"]),
                ("b_ops", B, ["ops"]),
                ("a_read", A, ["read", "work", "intake"]),
                ("a_admin", A, ["admin"]),
            ]:
                key = await create_key(tenant, scopes, name, 100_000, schema=g.schema_name)
                tokens[name] = key["token"]
                tokens[name + "_id"] = key["key_id"]
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                yield OpsEnv(s, g, app, client, db, tokens, lag_group, lag_topic)
    finally:
        for schema in (*schemas.values(), g.schema_name):
            await db.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await db.close()
        await drop_topic(s, lag_topic)


def csrf_of(html: str) -> str:
    """The CSRF token a sign-in or sign-out form carries (its cookie is in the client)."""
    found = re.search(r"name=['\"]csrf['\"] value=['\"]([^'\"]+)['\"]", html)
    assert found, html[:500]
    return found.group(1)


# --- seeded data and what it must show --------------------------------------------------

TODAY = dt.datetime.now(dt.UTC).date()


async def seed(env: OpsEnv) -> dict[str, Any]:
    """Claims, postings and ledger rows for tenants A and B; returns A's expected figures."""
    c, r, st = env.g.claims_schema, env.g.remittance_schema, env.g.statements_schema
    now = await env.db.fetchval("SELECT now()")
    await _seed_claims(env.db, c)
    await _seed_submissions_and_transitions(env.db, c)
    await _seed_remittance(env.db, r)
    await _seed_statements(env.db, st)
    return {
        "now": now,
        "states": {
            "SUBMITTED": 3,
            "ACCEPTED": 1,
            "PAID": 2,
            "DENIED": 1,
            "CLOSED": 1,
            "HELD": 1,
        },
        "stuck": {"SUBMITTED": 2, "HELD": 1},
        "stuck_ids": ["A-HELD-1", "A-SUB-2", "A-SUB-1"],
        "throughput": {"SUBMITTED": 4, "PAID": 2},
        "denials": {
            "CO-97": {"claims": 2, "lines": 3, "amount_cents": 5_500},
            "CO-16": {"claims": 1, "lines": 1, "amount_cents": 1_500},
            "OA-18": {"claims": 1, "lines": 1, "amount_cents": 700},
        },
        "denied_claims": 2,
        "denied_cents": 7_700,
        "insurance": {
            "0-30": (2, 10_000 + 30_000),
            "31-60": (1, 20_000),
            "61-90": (0, 0),
            "91-120": (1, 50_000 - 1_234),
            "120+": (0, 0),
        },
        "patient": {"0-30": (1, 2_500), "31-60": (1, 3_000)},
        "credit": 700,
    }


async def _seed_claims(db: asyncpg.Pool, c: str) -> None:
    async def claim(
        tenant: str, cid: str, state: str, since_s: float, charge: int, **kw: Any
    ) -> None:
        await db.execute(
            f"INSERT INTO {c}.claims(claim_id, tenant, state, state_since, total_charge_cents,"
            " paid_cents, adjusted_cents, payer_id, date_of_service)"
            " VALUES ($1, $2, $3, now() - $4 * interval '1 second', $5, $6, $7, 'PPO01', $8)",
            cid,
            tenant,
            state,
            since_s,
            charge,
            kw.get("paid", 0),
            kw.get("adjusted", 0),
            TODAY - dt.timedelta(days=5),
        )

    # Tenant A: three SUBMITTED (two for 20 minutes: stuck over 300 s), one ACCEPTED,
    # two PAID, one DENIED, one CLOSED, one HELD for two hours (stuck over 3600 s).
    await claim(A, "A-SUB-1", "SUBMITTED", 1200, 10_000)
    await claim(A, "A-SUB-2", "SUBMITTED", 1300, 20_000)
    await claim(A, "A-SUB-3", "SUBMITTED", 5, 30_000)
    await claim(A, "A-ACC-1", "ACCEPTED", 50, 50_000, adjusted=1_234)
    await claim(A, "A-PAID-1", "PAID", 30, 40_000, paid=30_000, adjusted=10_000)
    await claim(A, "A-PAID-2", "PAID", 30, 40_000, paid=40_000)
    await claim(A, "A-DEN-1", "DENIED", 30, 15_000)
    await claim(A, "A-CLO-1", "CLOSED", 30, 9_000, paid=9_000)
    await claim(A, "A-HELD-1", "HELD", 7200, 8_000)
    # Tenant B: five SUBMITTED, all stuck: none of it may show for A.
    for i in range(5):
        await claim(B, f"B-SUB-{i}", "SUBMITTED", 3600, 99_999)


async def _seed_submissions_and_transitions(db: asyncpg.Pool, c: str) -> None:
    # First submissions: 10, 45 and 0 days ago; the ACCEPTED one 100 days ago (twice:
    # the first submission counts).
    await db.execute(
        f"INSERT INTO {c}.interchanges(interchange_control_number, group_control_number,"
        " tenant, payer_id, claim_ids, x12) VALUES (1, 1, $1, 'PPO01', '{}', 'ISA*')",
        A,
    )
    for cid, days in [
        ("A-SUB-1", 10),
        ("A-SUB-2", 45),
        ("A-SUB-3", 0),
        ("A-ACC-1", 100),
        ("A-ACC-1", 20),
        ("B-SUB-0", 200),
    ]:
        await db.execute(
            f"INSERT INTO {c}.submissions(claim_id, patient_control_number, frequency_code,"
            " interchange_control_number, at) VALUES ($1, $2, '7', 1,"
            " now() - $3 * interval '1 day')",
            cid,
            f"{cid}-{days}",
            days,
        )

    # Transitions: four into SUBMITTED now, two into PAID three minutes ago, one into
    # CODED two hours ago (outside the window); B's into SUBMITTED never count for A.
    async def event(cid: str, to: str, ago_s: float, kind: str = "transition") -> None:
        await db.execute(
            f"INSERT INTO {c}.claim_events(claim_id, at, event_type, kind, from_state, to_state)"
            " VALUES ($1, now() - $2 * interval '1 second', 'rcm.test', $3, 'CODED', $4)",
            cid,
            ago_s,
            kind,
            to,
        )

    for cid in ("A-SUB-1", "A-SUB-2", "A-SUB-3", "A-ACC-1"):
        await event(cid, "SUBMITTED", 1)
    await event("A-PAID-1", "PAID", 180)
    await event("A-PAID-2", "PAID", 180)
    await event("A-SUB-1", "CODED", 7200)
    await event("A-SUB-1", "ACCEPTED", 1, kind="late")  # not a transition
    for i in range(5):
        await event(f"B-SUB-{i}", "SUBMITTED", 1)


async def _seed_remittance(db: asyncpg.Pool, r: str) -> None:
    # Remittance: denials on A's postings; one posting since reversed, one denial 60 days
    # old, and B's denial: none of those count.
    await db.execute(
        f"INSERT INTO {r}.remits(id, tenant, payer_id, trace_number, source, status, x12)"
        " VALUES (1, $1, 'PPO01', 'T1', 'test', 'posted', 'ISA*'),"
        " (2, $2, 'PPO01', 'T2', 'test', 'posted', 'ISA*')",
        A,
        B,
    )
    postings = [
        (1, 1, A, "A-DEN-1"),
        (2, 1, A, "A-PAID-1"),
        (3, 1, A, "A-REV-1"),
        (4, 1, A, "A-REV-2"),  # reverses posting 3
        (5, 2, B, "B-SUB-0"),
    ]
    for pid, remit, tenant, cid in postings:
        await db.execute(
            f"INSERT INTO {r}.claim_postings(id, remit_id, tenant, payer_id, trace_number,"
            " claim_id, patient_control_number, status_code, charge_cents, paid_cents,"
            " patient_responsibility_cents) VALUES ($1, $2, $3, 'PPO01', $5, $4, $4, '4', 0, 0, 0)",
            pid,
            remit,
            tenant,
            cid,
            f"T{pid}",
        )
    await db.execute(f"UPDATE {r}.claim_postings SET reversed_by_posting_id = 4 WHERE id = 3")
    denials = [
        (1, A, "A-DEN-1", 1, "CO", "97", 3_000, "correctable", 0),
        (1, A, "A-DEN-1", 2, "CO", "97", 2_000, "correctable", 0),
        (1, A, "A-DEN-1", 0, "CO", "16", 1_500, "correctable", 0),
        (2, A, "A-PAID-1", 1, "CO", "97", 500, "correctable", 0),
        (2, A, "A-PAID-1", 2, "OA", "18", 700, "write_off", 0),
        (3, A, "A-REV-1", 1, "CO", "50", 80_000, "appealable", 0),  # reversed
        (2, A, "A-PAID-1", 3, "CO", "29", 4_400, "write_off", 60),  # too old
        (5, B, "B-SUB-0", 1, "CO", "97", 99_999, "correctable", 0),  # other tenant
    ]
    for posting, tenant, cid, line, grp, reason, cents, cat, age in denials:
        await db.execute(
            f"INSERT INTO {r}.denials(posting_id, tenant, claim_id, payer_id, line_number,"
            " cas_group, reason, amount_cents, category, created_at)"
            " VALUES ($1, $2, $3, 'PPO01', $4, $5, $6, $7, $8, now() - $9 * interval '1 day')",
            posting,
            tenant,
            cid,
            line,
            grp,
            reason,
            cents,
            cat,
            age,
        )


async def _seed_statements(db: asyncpg.Pool, st: str) -> None:
    # Statements: A's patient balances: 30.00 first billed 40 days ago, 25.00 billed
    # today, one claim insurance is not done with (not patient A/R), a 7.00 credit.
    async def charge(tenant: str, cid: str, final: bool, billed_days: int | None) -> None:
        billed = TODAY - dt.timedelta(days=billed_days) if billed_days is not None else None
        await db.execute(
            f"INSERT INTO {st}.claim_charges(claim_id, tenant, guarantor_id, patient_id,"
            " patient_name, date_of_service, lines, charge_cents, insurance_final,"
            " first_billed_on) VALUES ($1, $2, 'G1', 'P1', 'TEST PATIENT', $3, '[]', 0, $4, $5)",
            cid,
            tenant,
            TODAY - dt.timedelta(days=50),
            final,
            billed,
        )

    async def post(tenant: str, cid: str | None, kind: str, cents: int) -> None:
        await db.execute(
            f"INSERT INTO {st}.ledger(tenant, guarantor_id, claim_id, kind, amount_cents,"
            " source_event) VALUES ($1, 'G1', $2, $3, $4, 'test')",
            tenant,
            cid,
            kind,
            cents,
        )

    await charge(A, "A-PAT-1", True, 40)
    await post(A, "A-PAT-1", "charge", 10_000)
    await post(A, "A-PAT-1", "insurance_payment", -6_000)
    await post(A, "A-PAT-1", "contractual", -1_000)
    await charge(A, "A-PAT-2", True, 0)
    await post(A, "A-PAT-2", "charge", 2_500)
    await charge(A, "A-PAT-3", False, None)
    await post(A, "A-PAT-3", "charge", 50_000)
    await charge(A, "A-PAT-4", True, 10)  # paid in full: no balance
    await post(A, "A-PAT-4", "charge", 1_000)
    await post(A, "A-PAT-4", "patient_payment", -1_000)
    await post(A, None, "patient_payment", -700)
    await charge(B, "B-PAT-1", True, 200)
    await post(B, "B-PAT-1", "charge", 77_700)
