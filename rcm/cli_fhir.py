"""`rcm fhir import BUNDLE.json [--dry-run]`: a FHIR R4 Bundle into the pipeline.

Runs the gateway's own intake in this process (same mapping, same audit log, same
encounter copy, acks=all), so no gateway process or API key is needed on this machine.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from rcm.cliutil import fail, read_text
from runtime.settings import settings

app = typer.Typer(no_args_is_help=True, help="FHIR R4 intake.")


async def import_bundle(bundle: Any, tenant: str, dry_run: bool) -> dict[str, Any]:
    from rcm.audit_trail import default_actor
    from services.gateway import fhir, intake
    from services.gateway.config import GatewaySettings
    from services.gateway.core import Gateway

    if dry_run:
        try:
            return fhir.summary(fhir.map_bundle(bundle))
        except fhir.BundleError as exc:
            raise intake.Invalid(exc.errors) from exc
    gw = Gateway(settings(), GatewaySettings())
    await gw.start()
    try:
        out = await intake.bundle(gw, intake.Actor(tenant, default_actor()), bundle, dry_run=False)
    finally:
        await gw.stop()
    conflicts = [r for r in out["results"] if r["status"] == "conflict"]
    summary = {k: out[k] for k in ("encounters", "accepted", "held", "holds")}
    if conflicts:
        summary["conflicts"] = [
            {"encounter": r["encounter_id"], "reason": r["reasons"][0]["message"]}
            for r in conflicts
        ]
    return summary


@app.command("import")
def import_(
    bundle: Path,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Map and report; send nothing")
    ] = False,
    tenant: Annotated[str | None, typer.Option(help="Tenant (default RCM_TENANT)")] = None,
) -> None:
    """Map every Encounter of the bundle; print {"encounters", "accepted", "held", "holds"}."""
    from services.gateway.core import Unavailable
    from services.gateway.intake import Invalid

    try:
        body = json.loads(read_text(bundle))
    except json.JSONDecodeError as exc:
        fail(f"{bundle}: not JSON (line {exc.lineno})")
    try:
        out = asyncio.run(import_bundle(body, tenant or settings().tenant, dry_run))
    except Invalid as exc:
        first = exc.errors[0]
        fail(
            f"{bundle}: not a usable FHIR Bundle: {first['loc']}: {first['msg']} ({len(exc.errors)} problems)"
        )
    except Unavailable as exc:
        fail(f"{exc}; nothing more was sent, run it again (accepted encounters are not sent twice)")
    except OSError as exc:
        fail(f"PostgreSQL unreachable: {exc.strerror or type(exc).__name__}")
    typer.echo(json.dumps(out))
