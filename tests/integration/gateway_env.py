"""The gateway API's test world: a gateway in schemas and topics of its own, with keys of
two tenants, and helpers to read its topics and seed claims (test_gateway_api.py,
test_gateway_schemathesis.py)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI

from rcm.cli_keys import create_key
from runtime.db import create_pool, migrate
from runtime.settings import REPO_ROOT, Settings
from schemas.codec import decode
from schemas.events import EncounterCreated
from services.gateway.app import create_app
from services.gateway.config import GatewaySettings

CLAIMS_MIGRATIONS = REPO_ROOT / "services" / "claims" / "migrations"


@dataclass
class Env:
    s: Settings
    g: GatewaySettings
    app: FastAPI
    client: httpx.AsyncClient
    claims: asyncpg.Pool
    gateway: asyncpg.Pool
    tokens: dict[str, str]  # name -> bearer token

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def topic(self, name: str) -> str:
        return self.g.topic_prefix + name


def gateway_settings(uid: str, **overrides: Any) -> GatewaySettings:
    fields: dict[str, Any] = {
        "schema_name": f"it_gw_{uid}",
        "claims_schema": f"it_gwc_{uid}",
        "remittance_schema": f"it_gwr_{uid}",
        "statements_schema": f"it_gws_{uid}",
        "topic_prefix": f"it-gw-{uid}.",
        "kafka_timeout_s": 5.0,
        "retry_after_s": 2,
        "max_body_bytes": 200_000,
    }
    fields.update(overrides)
    return GatewaySettings(**fields)


@contextlib.asynccontextmanager
async def gateway_env(s: Settings, uid: str, **overrides: Any) -> AsyncIterator[Env]:
    g = gateway_settings(uid, **overrides)
    claims = await create_pool(s, g.claims_schema, max_size=2)
    await migrate(claims, g.claims_schema, CLAIMS_MIGRATIONS)
    app = create_app(s, g)
    try:
        async with app.router.lifespan_context(app):
            tokens = {}
            for name, tenant, scopes, rate in [
                ("a_all", "tenant-a", ["intake", "read", "work"], 100_000),
                ("b_all", "tenant-b", ["intake", "read", "work"], 100_000),
                ("a_read", "tenant-a", ["read"], 100_000),
                ("a_slow", "tenant-a", ["read"], 2),
            ]:
                key = await create_key(tenant, scopes, name, rate, schema=g.schema_name)
                tokens[name] = key["token"]
            gw_pool = app.state.gateway.pool
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                yield Env(s, g, app, client, claims, gw_pool, tokens)
    finally:
        await claims.execute(f"DROP SCHEMA IF EXISTS {g.claims_schema} CASCADE")
        await claims.execute(f"DROP SCHEMA IF EXISTS {g.schema_name} CASCADE")
        await claims.close()
        await drop_topics(s, g.topic_prefix)


async def drop_topics(s: Settings, prefix: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


async def read_topic(env: Env, name: str, want: int, timeout: float = 15) -> list[Any]:
    """Every message on one of the test's topics (waits until ``want`` arrived)."""
    consumer = AIOKafkaConsumer(
        env.topic(name),
        bootstrap_servers=env.s.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    out = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                out += [decode(r.value, r.headers) for r in records]
            if len(out) >= want:
                await asyncio.sleep(0.5)  # and anything that should not be there
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    out += [decode(r.value, r.headers) for r in records]
                break
    finally:
        await consumer.stop()
    return out


def body(enc: EncounterCreated) -> dict[str, Any]:
    return dict(enc.model_dump(mode="json"))


async def add_claim(env: Env, tenant: str, claim_id: str, state: str, **cols: Any) -> None:
    await env.claims.execute(
        "INSERT INTO claims(claim_id, tenant, state, encounter_id, payer_id, date_of_service,"
        " total_charge_cents, patient_control_number) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        claim_id,
        tenant,
        state,
        cols.get("encounter_id"),
        cols.get("payer_id", "PPO01"),
        cols.get("date_of_service", dt.date(2025, 3, 14)),
        cols.get("total_charge_cents", 15000),
        claim_id,
    )


async def add_event(env: Env, claim_id: str, event_type: str, to: str, detail: Any = None) -> None:
    await env.claims.execute(
        "INSERT INTO claim_events(claim_id, event_type, kind, to_state, detail)"
        " VALUES ($1, $2, 'transition', $3, $4::jsonb)",
        claim_id,
        event_type,
        to,
        orjson.dumps(detail or {}).decode(),
    )
