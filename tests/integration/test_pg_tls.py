"""PostgreSQL over TLS on the local stack: encrypted, verified, and a real service runs on it."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import uuid
from functools import partial
from pathlib import Path

import asyncpg
import pytest

from rcm import stack
from runtime.db import create_pool
from runtime.service import Record, Service
from runtime.settings import Settings
from schemas.codec import encode, new_meta
from schemas.events import EncounterCreated
from schemas.ids import claim_id_for
from services.claims import handlers as claims_handlers
from services.claims.config import ClaimsSettings
from tests.builders import encounter

pytestmark = pytest.mark.integration

CLAIMS_MIGRATIONS = Path(claims_handlers.__file__).parent / "migrations"
ENCRYPTED = "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


def _ca(s: Settings) -> Path:
    return stack.pg_tls_dir(stack.pg_paths(s)) / "ca.crt"


def _dsn(s: Settings, query: str) -> str:
    return f"postgresql://rcm@127.0.0.1:{s.pg_port}/rcm?{query}"


def _tls(s: Settings, mode: str = "verify-full", host: str = "127.0.0.1") -> Settings:
    dsn = f"postgresql://rcm@{host}:{s.pg_port}/rcm?sslmode={mode}&sslrootcert={_ca(s)}"
    return s.model_copy(update={"database_url": dsn})


async def test_sslmode_require_connection_is_encrypted(live_stack: Settings) -> None:
    conn = await asyncpg.connect(_dsn(live_stack, "sslmode=require"))
    try:
        row = await conn.fetchrow(ENCRYPTED)
    finally:
        await conn.close()
    assert row["ssl"] is True
    assert row["version"] in ("TLSv1.2", "TLSv1.3")


async def test_plain_connections_still_work_for_local_tools(live_stack: Settings) -> None:
    conn = await asyncpg.connect(_dsn(live_stack, "sslmode=disable"))
    try:
        assert (await conn.fetchrow(ENCRYPTED))["ssl"] is False
    finally:
        await conn.close()


async def test_verify_full_accepts_the_stack_ca_for_localhost(live_stack: Settings) -> None:
    s = _tls(live_stack, host="localhost")
    conn = await asyncpg.connect(s.database_url)
    try:
        assert (await conn.fetchrow(ENCRYPTED))["ssl"] is True
    finally:
        await conn.close()


async def test_verify_full_refuses_a_server_signed_by_another_ca(
    live_stack: Settings, tmp_path: Path
) -> None:
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed for the local stack's TLS"
    other = tmp_path / "other-ca.crt"
    proc = await asyncio.create_subprocess_exec(
        *[openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes", "-days", "1", "-subj", "/CN=not the stack CA",
          "-keyout", str(tmp_path / "other-ca.key"), "-out", str(other)],
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert await proc.wait() == 0
    dsn = _dsn(live_stack, f"sslmode=verify-full&sslrootcert={other}")
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        await asyncpg.connect(dsn)


async def test_claims_service_migrates_and_applies_an_encounter_over_tls(
    live_stack: Settings,
) -> None:
    s = _tls(live_stack)
    schema = f"it_{uuid.uuid4().hex[:8]}"
    svc = Service("claims", schema=schema, migrations=CLAIMS_MIGRATIONS, http_port=6198, s=s)
    svc.on(EncounterCreated, partial(claims_handlers.on_encounter, cfg=ClaimsSettings()))
    await svc.start_resources()
    try:
        assert svc.pool is not None
        async with svc.pool.acquire() as conn:
            assert (await conn.fetchrow(ENCRYPTED))["ssl"] is True
            applied = await conn.fetchval(
                f"SELECT count(*) FROM {schema}.schema_migrations"
                " WHERE version = 'service/0001_saga.sql'"
            )
        assert applied == 1

        enc = encounter(encounter_id="E-TLS-1")
        x = encode(enc, new_meta(enc, source="test", tenant="t-tls", correlation_id="E-TLS-1"))
        topic = EncounterCreated.TOPIC
        await svc.process(topic, [Record(topic, 0, 0, x.key, x.value, x.headers)])

        async with svc.pool.acquire() as conn:
            state = await conn.fetchval(
                "SELECT state FROM claims WHERE claim_id = $1",
                claim_id_for("t-tls", "E-TLS-1"),
            )
            dead = await conn.fetchval("SELECT count(*) FROM dead_letters")
        assert state is not None
        assert dead == 0
    finally:
        await svc.stop_resources()
        cleanup = await create_pool(live_stack, "public", max_size=1)
        try:
            await cleanup.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        finally:
            await cleanup.close()
