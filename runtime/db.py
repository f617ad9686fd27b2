"""PostgreSQL: one asyncpg pool per service, scoped to the service's own schema."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import asyncpg

from runtime.settings import Settings

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


async def create_pool(s: Settings, schema: str, *, max_size: int | None = None) -> asyncpg.Pool:
    if not _SCHEMA.match(schema):
        raise ValueError(f"bad schema name {schema!r}")
    return await asyncpg.create_pool(
        s.database_url,
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


async def migrate(pool: asyncpg.Pool, schema: str, directory: Path) -> list[str]:
    """Applies runtime and service migrations not yet applied, once, under an advisory lock."""
    if not _SCHEMA.match(schema):
        raise ValueError(f"bad schema name {schema!r}")
    lock = int.from_bytes(
        hashlib.sha256(f"migrate:{schema}".encode()).digest()[:8], "big", signed=True
    )
    applied: list[str] = []

    def said(_conn: Any, message: Any) -> None:
        # what a migration tells the operator (RAISE WARNING) goes to the log; NOTICEs
        # ("schema ... already exists, skipping" at every start) do not
        if getattr(message, "severity", "") == "WARNING":
            log.warning("migration of %s: %s", schema, message.message)

    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", lock)
        conn.add_log_listener(said)
        try:
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {schema}.schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {
                r["version"]
                for r in await conn.fetch(f"SELECT version FROM {schema}.schema_migrations")
            }
            files = [("runtime", f) for f in sorted(RUNTIME_MIGRATIONS.glob("*.sql"))]
            files += [("service", f) for f in sorted(directory.glob("*.sql"))]
            for origin, path in files:
                version = f"{origin}/{path.name}"
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(f"SET LOCAL search_path TO {schema}")
                    await conn.execute(path.read_text())
                    await conn.execute(
                        f"INSERT INTO {schema}.schema_migrations(version) VALUES ($1)", version
                    )
                applied.append(version)
        finally:
            conn.remove_log_listener(said)
            await conn.execute("SELECT pg_advisory_unlock($1)", lock)
    return applied


def columns(rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
    """Rows as column lists: the parameters of an ``unnest($1::t[], $2::t[], ...)``
    statement that writes many rows in one round trip. ``rows`` must not be empty."""
    return [list(c) for c in zip(*rows, strict=True)]
