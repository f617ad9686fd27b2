"""`rcm appeals draft|send|list|letter`: a claim's appeals from the command line (issue 29
part 3), through the gateway's own functions (``services/gateway/appeals.py``) run in this
process, as `rcm fhir import` runs its intake: the same checks (the claim is the tenant's
and adjudicated, the denials are its open line denials), the same command to the claims
service (rcm.claim.appeal_requested.v1, acks=all, one command id per claim and appeal
however often it is run), the same audit rows, under the actor ``cli:<user>``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rcm.cliutil import fail
from runtime.settings import settings

if TYPE_CHECKING:
    from services.gateway.core import Gateway

app = typer.Typer(no_args_is_help=True, help="Appeals of a claim's denied lines.")

ClaimId = Annotated[str, typer.Argument(help="the claim's id")]
Tenant = Annotated[str | None, typer.Option(help="Tenant (default RCM_TENANT)")]


async def _with_gateway(fn: Callable[[Gateway], Awaitable[Any]]) -> Any:
    from services.gateway.config import GatewaySettings
    from services.gateway.core import Gateway

    gw = Gateway(settings(), GatewaySettings())
    await gw.start()
    try:
        return await fn(gw)
    finally:
        await gw.stop()


def _run(fn: Callable[[Gateway], Awaitable[Any]]) -> Any:
    """Runs ``fn`` with a gateway; a refusal or an outage is one line and exit 1."""
    from services.gateway.core import Unavailable
    from services.gateway.intake import Conflict

    try:
        return asyncio.run(_with_gateway(fn))
    except Conflict as exc:
        fail(str(exc))
    except Unavailable as exc:
        fail(f"{exc}; run it again (a command already sent is not sent twice)")
    except OSError as exc:
        fail(f"PostgreSQL or Kafka unreachable: {exc.strerror or type(exc).__name__}")


def _actor(tenant: str | None) -> Any:
    from rcm.audit_trail import default_actor
    from services.gateway.intake import Actor

    return Actor(tenant or settings().tenant, default_actor())


def _request(claim_id: str, tenant: str | None, action: str, body: dict[str, Any]) -> None:
    from schemas.events_workqueue import AppealAction
    from services.gateway import appeals

    actor = _actor(tenant)
    answer = _run(lambda gw: appeals.request(gw, actor, claim_id, AppealAction(action), body))
    if answer is None:
        fail(f"no claim {claim_id} for tenant {actor.tenant}")
    typer.echo(json.dumps(answer))


@app.command("draft")
def draft(
    claim_id: ClaimId,
    denial: Annotated[
        list[int],
        typer.Option(help="an open line denial of the claim (its denial_id); repeat it"),
    ],
    attach: Annotated[
        list[str] | None, typer.Option(help="a document sent with the letter; repeat it")
    ] = None,
    note: Annotated[str, typer.Option(help="a note for the case")] = "",
    tenant: Tenant = None,
) -> None:
    """Draft an appeal of the claim's denied lines: the claims service checks the payer's
    deadline and writes the letter (`rcm appeals list` shows the case)."""
    if any(d < 1 for d in denial):
        fail("--denial takes a denial_id (a positive number)")
    body = {"denial_ids": sorted(set(denial)), "attachments": list(attach or []), "note": note}
    _request(claim_id, tenant, "draft", body)


@app.command("send")
def send(claim_id: ClaimId, tenant: Tenant = None) -> None:
    """Record that the drafted appeal's letter went to the payer (its answer is due)."""
    _request(claim_id, tenant, "send", {})


@app.command("list")
def list_cases(claim_id: ClaimId, tenant: Tenant = None) -> None:
    """The claim's appeals, one JSON line each: state, deadline, answer due, outcome."""
    from services.gateway import appeals
    from services.gateway.core import AuditEntry

    actor = _actor(tenant)

    async def read(gw: Gateway) -> list[dict[str, Any]]:
        items = await appeals.cases(gw, actor.tenant, claim_id)
        await gw.audit(
            AuditEntry(
                actor.tenant, actor.who, "claim.appeals.read", claim_id, claim_ids=(claim_id,)
            )
        )
        return items

    for item in _run(read):
        typer.echo(json.dumps(item))


@app.command("letter")
def letter(
    claim_id: ClaimId,
    appeal_id: Annotated[str, typer.Argument(help="the appeal's id (`rcm appeals list`)")],
    out: Annotated[Path, typer.Option(help="the PDF to write")],
    tenant: Tenant = None,
) -> None:
    """Write the appeal's letter, as sent to the payer, to a PDF file."""
    from services.gateway import appeals
    from services.gateway.core import AuditEntry

    actor = _actor(tenant)

    async def read(gw: Gateway) -> bytes | None:
        pdf = await appeals.letter(gw, actor.tenant, claim_id, appeal_id)
        if pdf is not None:
            await gw.audit(
                AuditEntry(
                    actor.tenant, actor.who, "claim.appeal.letter", appeal_id, claim_ids=(claim_id,)
                )
            )
        return pdf

    pdf = _run(read)
    if pdf is None:
        fail(f"no appeal {appeal_id} of claim {claim_id} for tenant {actor.tenant}")
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(pdf)
    tmp.replace(out)  # written whole
    typer.echo(f"{out} ({len(pdf)} bytes)")
