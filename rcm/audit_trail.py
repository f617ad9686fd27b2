"""What `rcm` commands that read or replay PHI write to the gateway's audit log, and
`rcm audit verify`. The rows go through the gateway's own audit writer (keyed, chained),
and each write anchors the head in the signed checkpoint file, as the gateway does."""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from typing import Any

from runtime.settings import Settings


def default_actor() -> str:
    return f"cli:{getpass.getuser()}"


async def _pool(s: Settings, schema: str | None) -> tuple[Any, str]:
    from runtime.db import create_pool, migrate_schema
    from services.gateway.config import GatewaySettings
    from services.gateway.core import MIGRATIONS

    name = schema or GatewaySettings().schema_name
    pool = await create_pool(s, name, max_size=2)
    await migrate_schema(s, name, MIGRATIONS, pool)
    return pool, name


async def record(s: Settings, entries: Sequence[Any], schema: str | None = None) -> None:
    """Appends ``entries`` (services.gateway.audit_store.AuditEntry) and anchors the head."""
    from services.gateway import audit_store

    if not entries:
        return
    pool, name = await _pool(s, schema)
    try:
        async with pool.acquire() as conn:
            async with conn.transaction():
                await audit_store.append(conn, s.audit_secret(), entries)
            await audit_store.write_checkpoint(conn, s.audit_secret(), name, s.audit_checkpoints())
    finally:
        await pool.close()


async def verify(s: Settings, schema: str | None = None) -> dict[str, Any]:
    from runtime.db import create_pool
    from services.gateway import audit_store
    from services.gateway.config import GatewaySettings

    name = schema or GatewaySettings().schema_name
    pool = await create_pool(s, name, max_size=1)
    try:
        async with pool.acquire() as conn:
            return await audit_store.verify(conn, s.audit_secret(), name, s.audit_checkpoints())
    finally:
        await pool.close()
