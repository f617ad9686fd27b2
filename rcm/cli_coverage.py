"""`rcm coverage import FILE.csv --tenant T`: bulk coverage import into eligibility."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import asyncpg
import typer

from rcm import audit_trail
from rcm.audit_trail import default_actor
from rcm.cliutil import fail, read_text
from runtime.settings import settings

app = typer.Typer(no_args_is_help=True, help="The coverage registry.")


@app.command("import")
def import_csv(
    file: Path,
    tenant: Annotated[str, typer.Option(help="the practice or billing client")],
) -> None:
    """Import coverages from a CSV (history kept); a bad file changes nothing."""
    from services.eligibility.bulk import ImportError_, import_rows, parse
    from services.gateway.audit_store import AuditEntry

    try:
        rows = parse(read_text(file))
    except ImportError_ as exc:
        fail(f"{file}: {exc}")

    async def run() -> int:
        conn = await asyncpg.connect(settings().database_url)
        try:
            changed = await import_rows(conn, tenant, rows)
        finally:
            await conn.close()
        entry = AuditEntry(
            tenant,
            default_actor(),
            "coverage.import",
            file.name,
            detail=f"{len(rows)} coverages, {changed} new or changed",
            patient_ids=tuple(r.patient_id for r in rows),
        )
        await audit_trail.record(settings(), [entry])
        return changed

    changed = asyncio.run(run())
    typer.echo(f"{len(rows)} coverages read, {changed} new or changed")
