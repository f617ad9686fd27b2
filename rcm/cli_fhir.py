"""`rcm fhir import BUNDLE.json|DIR [--dry-run]`: FHIR R4 Bundles into the pipeline.

Runs the gateway's own intake in this process (same mapping, same audit log, same
encounter copy, same provider directory, acks=all), so no gateway process or API key is
needed on this machine. A folder (a Synthea ``fhir/`` output) is imported providers first:
hospitalInformation*, practitionerInformation*, then any other bundle without an
Encounter, then the patients' bundles, whose encounters name those providers by
reference only. Each file is reported; one bad file does not stop the others.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rcm.cliutil import JsonLimit, bounded_json, fail, read_text
from runtime.settings import settings

if TYPE_CHECKING:
    from services.gateway.core import Gateway
    from services.gateway.fhir_providers import ProviderEntry

app = typer.Typer(no_args_is_help=True, help="FHIR R4 intake.")

PROVIDER_FILES = ("hospitalInformation", "practitionerInformation")
KEYS = ("encounters", "accepted", "held", "providers")


def dry_run_bundle(bundle: Any, known: list[ProviderEntry]) -> dict[str, Any]:
    """Map and report, sending nothing; ``known`` are the providers of the folder's
    provider files read so far (this bundle's own are added to it)."""
    from services.gateway import fhir, fhir_providers
    from services.gateway.intake import Invalid

    try:
        idx = fhir.Index(bundle)
        entries = fhir_providers.directory_entries(idx)
        known.extend(entries)
        mapped = fhir.map_bundle(idx, fhir_providers.Directory(known))
    except fhir.BundleError as exc:
        raise Invalid(exc.errors) from exc
    return {**fhir.summary(mapped), "providers": len(entries)}


async def import_bundle(gw: Gateway, bundle: Any, tenant: str) -> dict[str, Any]:
    from rcm.audit_trail import default_actor
    from services.gateway import intake

    out = await intake.bundle(gw, intake.Actor(tenant, default_actor()), bundle, dry_run=False)
    conflicts = [r for r in out["results"] if r["status"] == "conflict"]
    summary = {k: out[k] for k in (*KEYS, "holds")}
    if conflicts:
        summary["conflicts"] = [
            {"encounter": r["encounter_id"], "reason": r["reasons"][0]["message"]}
            for r in conflicts
        ]
    return summary


async def _with_gateway(fn: Callable[[Gateway | None], Awaitable[Any]], dry_run: bool) -> Any:
    from services.gateway.config import GatewaySettings
    from services.gateway.core import Gateway

    if dry_run:
        return await fn(None)
    gw = Gateway(settings(), GatewaySettings())
    await gw.start()
    try:
        return await fn(gw)
    finally:
        await gw.stop()


def _problem(path: Path, exc: Exception) -> str:
    """One line naming what is wrong with a file: never a value from it."""
    from services.gateway.core import Unavailable
    from services.gateway.intake import Invalid

    if isinstance(exc, json.JSONDecodeError):
        return f"{path.name}: not JSON (line {exc.lineno})"
    if isinstance(exc, UnicodeDecodeError):
        return f"{path.name}: not a text file"
    if isinstance(exc, JsonLimit):
        return f"{path.name}: JSON past a limit: {exc}"
    if isinstance(exc, Invalid):
        first = exc.errors[0]
        return (
            f"{path.name}: not a usable FHIR Bundle: {first['loc']}: {first['msg']}"
            f" ({len(exc.errors)} problems)"
        )
    if isinstance(exc, Unavailable):
        return f"{path.name}: {exc}; run it again (accepted encounters are not sent twice)"
    if isinstance(exc, OSError):
        return f"{path.name}: {exc.strerror or type(exc).__name__}"
    return f"{path.name}: could not be imported ({type(exc).__name__})"


def _has_encounter(body: Any) -> bool:
    entries = body.get("entry") if isinstance(body, dict) else None
    if not isinstance(entries, list):
        return False
    resources = [e.get("resource") for e in entries if isinstance(e, dict)]
    return any(isinstance(r, dict) and r.get("resourceType") == "Encounter" for r in resources)


async def import_folder(
    folder: Path, tenant: str, gw: Gateway | None
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Every *.json of the folder, providers first; (per file, total)."""
    known: list[ProviderEntry] = []
    files = sorted(folder.glob("*.json"))
    named = [f for f in files if f.name.startswith(PROVIDER_FILES)]
    named.sort(key=lambda f: (not f.name.startswith(PROVIDER_FILES[0]), f.name))
    rest = [f for f in files if f not in named]
    report: dict[Path, dict[str, Any]] = {}
    patients: list[Path] = []

    async def one(path: Path, body: Any) -> None:
        try:
            if body is None:
                body = bounded_json(path.read_text(encoding="utf-8"))
            if gw is None:
                got = dry_run_bundle(body, known)
            else:
                got = await import_bundle(gw, body, tenant)
            report[path] = {"file": path.name, **{k: got[k] for k in KEYS}}
            if got.get("conflicts"):
                report[path]["conflicts"] = got["conflicts"]
        except Exception as exc:  # reported for this file; the others go on
            report[path] = {"file": path.name, "error": _problem(path, exc)}

    for path in [*named, *rest]:
        try:
            body = bounded_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # JsonLimit is a ValueError
            report[path] = {"file": path.name, "error": _problem(path, exc)}
            continue
        if path in named or not _has_encounter(body):
            await one(path, body)
        else:
            patients.append(path)  # read again below: a folder may not fit in memory
    for path in patients:
        await one(path, None)
    order = [*named, *(f for f in rest if f not in patients), *patients]
    rows = [report[f] for f in order]
    total = {"files": len(rows), "failed": sum(1 for r in rows if "error" in r)}
    total.update({k: sum(int(r.get(k, 0)) for r in rows) for k in KEYS})
    return rows, total


@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="A FHIR Bundle (JSON), or a folder of them")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Map and report; send and store nothing")
    ] = False,
    tenant: Annotated[str | None, typer.Option(help="Tenant (default RCM_TENANT)")] = None,
) -> None:
    """A bundle: print {"encounters", "accepted", "held", "providers", "holds"}. A folder:
    {"files": [one line per file, or its "error"], "total"}; exit 1 if any file failed."""
    from services.gateway.core import Unavailable
    from services.gateway.intake import Invalid

    who = tenant or settings().tenant
    if path.is_dir():
        try:
            rows, total = asyncio.run(
                _with_gateway(lambda gw: import_folder(path, who, gw), dry_run)
            )
        except OSError as exc:
            fail(f"PostgreSQL unreachable: {exc.strerror or type(exc).__name__}")
        typer.echo(json.dumps({"files": rows, "total": total}))
        if total["failed"]:
            raise typer.Exit(1)
        return
    try:
        body = bounded_json(read_text(path))
    except json.JSONDecodeError as exc:
        fail(f"{path}: not JSON (line {exc.lineno})")
    except JsonLimit as exc:
        fail(f"{path}: JSON past a limit: {exc}")

    async def single(gw: Gateway | None) -> dict[str, Any]:
        return dry_run_bundle(body, []) if gw is None else await import_bundle(gw, body, who)

    try:
        out = asyncio.run(_with_gateway(single, dry_run))
    except Invalid as exc:
        first = exc.errors[0]
        fail(
            f"{path}: not a usable FHIR Bundle: {first['loc']}: {first['msg']} ({len(exc.errors)} problems)"
        )
    except Unavailable as exc:
        fail(f"{exc}; nothing more was sent, run it again (accepted encounters are not sent twice)")
    except OSError as exc:
        fail(f"PostgreSQL unreachable: {exc.strerror or type(exc).__name__}")
    typer.echo(json.dumps(out))
