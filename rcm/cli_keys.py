"""`rcm keys ...` (gateway API keys) and `rcm audit verify` (the PHI audit chain)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer

from rcm import audit_trail
from rcm.audit_trail import default_actor
from rcm.cliutil import fail
from runtime.settings import settings

keys_app = typer.Typer(no_args_is_help=True, help="Gateway API keys (one tenant each, scoped).")
audit_app = typer.Typer(no_args_is_help=True, help="The gateway's PHI audit log.")


async def _pool(schema: str | None = None) -> Any:
    from runtime.db import create_pool, migrate_schema
    from services.gateway.config import GatewaySettings
    from services.gateway.core import MIGRATIONS

    name = schema or GatewaySettings().schema_name
    pool = await create_pool(settings(), name, max_size=2)
    await migrate_schema(settings(), name, MIGRATIONS, pool)
    return pool


async def create_key(
    tenant: str, scopes: list[str], name: str, rate: int, schema: str | None = None
) -> dict[str, Any]:
    from services.gateway import audit_store
    from services.gateway.config import GatewaySettings
    from services.gateway.keys import new_token, token_hash

    key_id, token = new_token()
    pool = await _pool(schema)
    try:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO api_keys(key_id, tenant, name, scopes, token_hash, rate_per_s)"
                " VALUES ($1, $2, $3, $4, $5, $6)",
                key_id,
                tenant,
                name,
                scopes,
                token_hash(token),
                rate,
            )
            entry = audit_store.AuditEntry(
                tenant, default_actor(), "key.create", key_id, detail=",".join(scopes)
            )
            await audit_store.append(conn, settings().audit_secret(), [entry])
        async with pool.acquire() as conn:
            name = schema or GatewaySettings().schema_name
            await audit_store.write_checkpoint(
                conn, settings().audit_secret(), name, settings().audit_checkpoints()
            )
    finally:
        await pool.close()
    return {
        "key_id": key_id,
        "tenant": tenant,
        "scopes": scopes,
        "rate_per_s": rate,
        "token": token,
    }


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="The tenant the key may see")],
    scopes: Annotated[str, typer.Option(help="Comma-separated: intake, read, work, ops, admin")],
    name: Annotated[str, typer.Option(help="Who or what uses it")] = "",
    rate: Annotated[int, typer.Option(min=1, max=1_000_000, help="Requests per second")] = 100,
) -> None:
    """Create an API key; prints it once as JSON (only its sha256 is stored)."""
    from services.gateway.keys import parse_scopes

    if not tenant.strip() or len(tenant) > 64:
        fail("--tenant must be 1-64 characters")
    try:
        scope_list = parse_scopes(scopes)
    except ValueError as exc:
        fail(str(exc))
    try:
        out = asyncio.run(create_key(tenant.strip(), scope_list, name, rate))
    except OSError as exc:
        fail(f"PostgreSQL unreachable: {exc.strerror or type(exc).__name__}")
    typer.echo(json.dumps(out))


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke a key (effective within the gateway's key cache time, 10 s by default)."""

    async def run() -> str:
        pool = await _pool()
        try:
            return str(
                await pool.execute(
                    "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL",
                    key_id,
                )
            )
        finally:
            await pool.close()

    if asyncio.run(run()) != "UPDATE 1":
        fail(f"no active key {key_id}")
    typer.echo(json.dumps({"key_id": key_id, "revoked": True}))


async def verify_chain(schema: str | None = None) -> dict[str, Any]:
    return await audit_trail.verify(settings(), schema)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check every link of the audit chain (keyed hashes) and the signed checkpoint; exit 1
    if a row was altered, inserted or removed, or the checkpoint is missing or forged."""
    try:
        out = asyncio.run(verify_chain())
    except OSError as exc:
        fail(f"PostgreSQL unreachable: {exc.strerror or type(exc).__name__}")
    typer.echo(json.dumps(out))
    if not out["ok"]:
        raise typer.Exit(1)
