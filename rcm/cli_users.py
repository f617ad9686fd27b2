"""`rcm users create`: the people of a tenant who sign in at /login (services/gateway/users.py)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated, Any

import typer

from rcm.audit_trail import default_actor
from rcm.cli_keys import _pool
from rcm.cliutil import fail
from runtime.settings import settings

users_app = typer.Typer(no_args_is_help=True, help="People who sign in to the billing office.")


async def create_user(
    tenant: str,
    email: str,
    role: str,
    password: str | None,
    *,
    totp: bool = False,
    invite_s: int | None = None,
    schema: str | None = None,
) -> dict[str, Any]:
    """Creates the user (with a password, or an invite link when ``password`` is None)."""
    from services.gateway import audit_store, users
    from services.gateway.config import GatewaySettings

    g = GatewaySettings()
    pool = await _pool(schema)
    try:
        async with pool.acquire() as conn, conn.transaction():
            user, secret = await users.create(
                conn, tenant, email, users.Role(role), password, totp=totp
            )
            entry = audit_store.AuditEntry(
                tenant, default_actor(), "user.create", user.user_id, detail=role
            )
            await audit_store.append(conn, settings().audit_secret(), [entry])
        out: dict[str, Any] = {
            "user_id": user.user_id,
            "tenant": tenant,
            "email": user.email,
            "role": role,
        }
        if password is None:
            seconds = invite_s or g.invite_s
            token = await users.new_token(pool, "invite", user.user_id, seconds)
            out["invite"] = f"/login/invite?token={token}"
            out["expires_in"] = seconds
        if secret:
            out["totp_uri"] = users.totp_uri(secret, user.email)
        async with pool.acquire() as conn:
            await audit_store.write_checkpoint(
                conn,
                settings().audit_secret(),
                schema or g.schema_name,
                settings().audit_checkpoints(),
            )
    finally:
        await pool.close()
    return out


@users_app.command("create")
def users_create(
    tenant: Annotated[str, typer.Option(help="The tenant the person works for")],
    email: Annotated[str, typer.Option(help="What they sign in with")],
    role: Annotated[str, typer.Option(help="front_desk, coder, biller, manager or admin")],
    invite: Annotated[
        bool, typer.Option("--invite", help="Print a one-time link to set a password")
    ] = False,
    totp: Annotated[bool, typer.Option("--totp", help="Ask for an authenticator code")] = False,
) -> None:
    """Create a person; the password is read from standard input (one line), or with
    --invite a one-time link is printed. Prints the user as JSON."""
    from services.gateway import users

    if not tenant.strip() or len(tenant) > 64:
        fail("--tenant must be 1-64 characters")
    if role not in users.Role.__members__:
        fail(f"unknown role {role!r}; known: {', '.join(users.Role)}")
    try:
        users.check_email(email)
    except ValueError as exc:
        fail(f"--email: {exc}")
    password = None
    if not invite:
        password = sys.stdin.readline().rstrip("\r\n")
        try:
            users.check_password(password)
        except ValueError as exc:
            fail(f"password (standard input): {exc}")
    try:
        out = asyncio.run(create_user(tenant.strip(), email, role, password, totp=totp))
    except OSError as exc:
        fail(f"PostgreSQL unreachable: {exc.strerror or type(exc).__name__}")
    except Exception as exc:
        if type(exc).__name__ == "UniqueViolationError":
            fail(f"a user with email {email} exists already")
        raise
    typer.echo(json.dumps(out))
