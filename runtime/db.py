"""PostgreSQL: one asyncpg pool per service, scoped to the service's own schema."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import asyncpg

from runtime import pgroles
from runtime.settings import ProductionRefused, Settings

RUNTIME_MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger("rcm.db")
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
)


def is_transient(exc: BaseException) -> bool:
    """True for failures of the infrastructure (retry), False for failures of the message."""
    return isinstance(exc, TRANSIENT_ERRORS)


async def create_pool(
    s: Settings, schema: str, *, max_size: int | None = None, dsn: str | None = None
) -> asyncpg.Pool:
    """The service's pool, as its runtime role (``RCM_DATABASE_URL``) unless ``dsn``."""
    if not _SCHEMA.match(schema):
        raise ValueError(f"bad schema name {schema!r}")
    return await asyncpg.create_pool(
        dsn or s.database_url,
        min_size=1,
        max_size=max_size or s.db_pool_max,
        server_settings={"search_path": schema, "application_name": f"rcm-{schema}"},
        command_timeout=60,
        reset=_keep_session,
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Returns a connection to the pool without asyncpg's default reset, a round trip on
    every release (advisory unlock all, CLOSE ALL, UNLISTEN *, RESET ALL): about one in
    five statements the services sent. Nothing here leaves session state behind:
    advisory locks are transaction-scoped (the migration lock is released in a finally),
    settings are SET LOCAL, cursors live inside transactions, nothing LISTENs. asyncpg
    still rolls back a transaction left open before this is called."""


class MigrationChanged(RuntimeError):
    """An applied migration's file is no longer what was applied: the schema and the code
    disagree, and starting would run the service against a schema no file describes."""


def checksum(path: Path) -> str:
    """What schema_migrations records of an applied file: the SHA-256 of its bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def migrate(pool: asyncpg.Pool, schema: str, directory: Path) -> list[str]:
    """Applies runtime and service migrations not yet applied, once, under an advisory lock.

    Each applied file's checksum is recorded; rows applied before checksums were (NULL)
    get theirs from the files. A file whose checksum differs from the recorded one raises
    :class:`MigrationChanged` before anything is applied."""
    if not _SCHEMA.match(schema):
        raise ValueError(f"bad schema name {schema!r}")
    lock = int.from_bytes(
        hashlib.sha256(f"migrate:{schema}".encode()).digest()[:8], "big", signed=True
    )

    def said(_conn: Any, message: Any) -> None:
        # what a migration tells the operator (RAISE WARNING) goes to the log; NOTICEs
        # ("schema ... already exists, skipping" at every start) do not
        if getattr(message, "severity", "") == "WARNING":
            log.warning("migration of %s: %s", schema, message.message)

    files = [("runtime", f) for f in sorted(RUNTIME_MIGRATIONS.glob("*.sql"))]
    files += [("service", f) for f in sorted(directory.glob("*.sql"))]
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", lock)
        conn.add_log_listener(said)
        # what the migrations make belongs to the schema's owner role, when there is one
        owner = await pgroles.prepare_schema(conn, schema)
        try:
            if owner:
                await conn.execute(f"SET ROLE {owner}")
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {schema}.schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            await conn.execute(
                f"ALTER TABLE {schema}.schema_migrations ADD COLUMN IF NOT EXISTS checksum text"
            )
            done = await _verify(conn, schema, files)
            applied = await _apply(
                conn, schema, [(o, f) for o, f in files if _version(o, f) not in done]
            )
            await pgroles.grant(conn, schema)
            return applied
        finally:
            if owner:
                await conn.execute("RESET ROLE")
            conn.remove_log_listener(said)
            await conn.execute("SELECT pg_advisory_unlock($1)", lock)


async def migrate_schema(
    s: Settings, schema: str, directory: Path, pool: asyncpg.Pool | None = None
) -> list[str]:
    """Migrates ``schema`` as the migration role (``RCM_DATABASE_MIGRATE_URL``, the schema's
    owner) on a connection of its own; with no separate migration role, on ``pool``."""
    if pool is not None and s.migrate_dsn() == s.database_url:
        return await migrate(pool, schema, directory)
    owner = await create_pool(s, schema, max_size=1, dsn=s.migrate_dsn())
    try:
        return await migrate(owner, schema, directory)
    finally:
        await owner.close()


async def refuse_privileged_runtime(s: Settings, pool: asyncpg.Pool, schema: str) -> None:
    """In production, a service whose runtime role is a superuser or owns its schema does
    not start (docs/security.md); in dev, anything goes."""
    if s.env != "production":
        return
    async with pool.acquire() as conn:
        problems = await pgroles.runtime_problems(conn, schema)
    if problems:
        raise ProductionRefused(problems)


def _version(origin: str, path: Path) -> str:
    return f"{origin}/{path.name}"


async def _verify(
    conn: asyncpg.Connection, schema: str, files: Sequence[tuple[str, Path]]
) -> set[str]:
    """The versions applied; backfills missing checksums, and raises
    :class:`MigrationChanged` for an applied file that changed."""
    recorded = {
        r["version"]: r["checksum"]
        for r in await conn.fetch(f"SELECT version, checksum FROM {schema}.schema_migrations")
    }
    backfill: list[tuple[str, str]] = []
    for origin, path in files:
        version = _version(origin, path)
        if version not in recorded:
            continue
        now = checksum(path)
        if recorded[version] is None:
            backfill.append((now, version))
        elif recorded[version] != now:
            raise MigrationChanged(
                f"schema {schema}: applied migration {version} ({path}) has changed since it"
                " was applied; restore the file and add a new migration for the change"
            )
    if backfill:
        await conn.executemany(
            f"UPDATE {schema}.schema_migrations SET checksum = $1 WHERE version = $2", backfill
        )
        log.info("schema %s: checksums recorded for %d applied migrations", schema, len(backfill))
    return set(recorded)


async def _apply(
    conn: asyncpg.Connection, schema: str, pending: Sequence[tuple[str, Path]]
) -> list[str]:
    applied: list[str] = []
    for origin, path in pending:
        version = _version(origin, path)
        async with conn.transaction():
            await conn.execute(f"SET LOCAL search_path TO {schema}")
            await conn.execute(path.read_text())
            await conn.execute(
                f"INSERT INTO {schema}.schema_migrations(version, checksum) VALUES ($1, $2)",
                version,
                checksum(path),
            )
        applied.append(version)
    return applied


def columns(rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """Rows as column lists: the parameters of an ``unnest($1::t[], $2::t[], ...)``
    statement that writes many rows in one round trip. ``rows`` must not be empty."""
    return [list(c) for c in zip(*rows, strict=True)]
