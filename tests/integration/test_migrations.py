"""Migrations on real PostgreSQL: the runtime's own (json payloads), and the checksums
that stop a service whose applied migrations changed."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import orjson
import pytest

from runtime.db import MigrationChanged, checksum, migrate
from runtime.service import Service
from runtime.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(live_stack: Settings) -> AsyncIterator[asyncpg.Pool]:
    p = await asyncpg.create_pool(live_stack.database_url, min_size=1, max_size=1)
    assert p is not None
    try:
        yield p
    finally:
        await p.close()


async def test_applied_migrations_record_checksums_and_old_rows_get_theirs_backfilled(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    (tmp_path / "0001_docs.sql").write_text("CREATE TABLE docs (id int PRIMARY KEY);")
    schema = f"it_{uuid.uuid4().hex[:8]}"
    try:
        applied = await migrate(pool, schema, tmp_path)
        assert "service/0001_docs.sql" in applied
        sums = dict(await pool.fetch(f"SELECT version, checksum FROM {schema}.schema_migrations"))
        assert sums["service/0001_docs.sql"] == checksum(tmp_path / "0001_docs.sql")
        assert all(sums.values())
        # a database migrated before checksums were recorded
        await pool.execute(f"UPDATE {schema}.schema_migrations SET checksum = NULL")
        assert await migrate(pool, schema, tmp_path) == []
        again = dict(await pool.fetch(f"SELECT version, checksum FROM {schema}.schema_migrations"))
        assert again == sums
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


async def test_a_changed_applied_migration_stops_the_service_at_start_naming_schema_and_file(
    live_stack: Settings, pool: asyncpg.Pool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "0001_docs.sql").write_text("CREATE TABLE docs (id int PRIMARY KEY);")
    schema = f"it_{uuid.uuid4().hex[:8]}"
    try:
        await migrate(pool, schema, tmp_path)
        (tmp_path / "0001_docs.sql").write_text("CREATE TABLE docs (id bigint PRIMARY KEY);")
        (tmp_path / "0002_more.sql").write_text("CREATE TABLE more (id int);")
        svc = Service("it", schema=schema, migrations=tmp_path, http_port=6199, s=live_stack)
        try:
            with (
                caplog.at_level(logging.CRITICAL, logger="rcm.runtime"),
                pytest.raises(MigrationChanged) as raised,
            ):
                await svc.start_resources()
        finally:
            await svc.stop_resources()
        message = str(raised.value)
        assert "\n" not in message
        assert f"schema {schema}" in message
        assert "service/0001_docs.sql" in message
        assert [r.getMessage() for r in caplog.records if r.name == "rcm.runtime"] == [message]
        # nothing was applied after the check failed
        tables = await pool.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = 'more'", schema
        )
        assert tables == 0
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


async def test_a_payload_column_becomes_json_only_while_its_table_is_small(
    live_stack: Settings, tmp_path: Path
) -> None:
    schema = f"it_{uuid.uuid4().hex[:8]}"
    pool = await asyncpg.create_pool(live_stack.database_url, min_size=1, max_size=1)
    assert pool is not None
    try:
        await migrate(pool, schema, tmp_path)  # the runtime's migrations alone
        async with pool.acquire() as conn:
            await conn.execute(f"SET search_path TO {schema}")
            kind = (
                "SELECT format_type(atttypid, atttypmod) AS type, attcompression::text AS comp"
                " FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2"
            )
            lz4 = await conn.fetchval(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings"
                " WHERE name = 'default_toast_compression'"
            )
            want_comp = "l" if lz4 else ""
            # the outbox was empty when its migration ran: its headers are json already
            assert tuple(await conn.fetchrow(kind, "outbox", "headers")) == ("json", want_comp)

            await conn.execute("CREATE TABLE docs (id int PRIMARY KEY, body jsonb NOT NULL)")
            docs = [orjson.dumps({"claim": n, "lines": [{"cpt": "99213", "cents": 12500 + n}]})
                    for n in range(5)]  # fmt: skip
            await conn.executemany(
                "INSERT INTO docs VALUES ($1, $2)", [(n, d.decode()) for n, d in enumerate(docs)]
            )
            # five rows, at most four allowed: the table is not rewritten at a start-up;
            # only new values get lz4
            assert await conn.fetchval("SELECT json_payload('docs', 'body', 4)") is False
            assert tuple(await conn.fetchrow(kind, "docs", "body")) == ("jsonb", want_comp)
            # what the services write, json, still goes into the jsonb column
            await conn.execute("INSERT INTO docs VALUES (5, $1::json)", docs[0].decode())

            # as `rcm db json-payloads` calls it: from outside the schema, with no limit
            await conn.execute("RESET search_path")
            converted = f"SELECT {schema}.json_payload('{schema}.docs', 'body', NULL)"
            assert await conn.fetchval(converted) is True
            await conn.execute(f"SET search_path TO {schema}")
            assert tuple(await conn.fetchrow(kind, "docs", "body")) == ("json", want_comp)
            rows = await conn.fetch("SELECT body FROM docs ORDER BY id")
            assert [orjson.loads(r["body"]) for r in rows] == [
                *(orjson.loads(d) for d in docs),
                orjson.loads(docs[0]),
            ]
            # converting again is a no-op; a column that is not there is an error
            assert await conn.fetchval("SELECT json_payload('docs', 'body', 0)") is True
            with pytest.raises(asyncpg.RaiseError, match="has no column nope"):
                await conn.fetchval("SELECT json_payload('docs', 'nope', 0)")
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await pool.close()


async def test_a_payload_table_too_large_to_convert_at_start_is_named_in_the_log(
    live_stack: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "0001_docs.sql").write_text(
        "CREATE TABLE docs (id int PRIMARY KEY, body jsonb NOT NULL);"
        " INSERT INTO docs SELECT g, jsonb_build_object('claim', g) FROM generate_series(1, 3) g;"
    )
    (tmp_path / "0002_docs_json.sql").write_text("SELECT json_payload('docs', 'body', 2);")
    schema = f"it_{uuid.uuid4().hex[:8]}"
    pool = await asyncpg.create_pool(live_stack.database_url, min_size=1, max_size=1)
    assert pool is not None
    try:
        with caplog.at_level("WARNING", logger="rcm.db"):
            await migrate(pool, schema, tmp_path)
            await migrate(pool, schema, tmp_path)  # the next start: nothing to say
        said = [r.getMessage() for r in caplog.records if r.name == "rcm.db"]
        assert len(said) == 1
        assert f"migration of {schema}: " in said[0]
        assert "docs.body stays jsonb" in said[0]
        assert "rcm db json-payloads" in said[0]
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await pool.close()
