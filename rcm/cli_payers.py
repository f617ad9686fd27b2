"""`rcm payers import FILE.csv --tenant T`: a tenant's payer directory (claims owns it)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from rcm.cliutil import fail, read_text
from runtime.settings import Settings, settings

#: The demo practice's payers (rcm/practice.py): the demo, `rcm chaos`, `rcm bench` and
#: the e2e tests load it for their tenant before publishing.
DEMO_PAYERS = Path(__file__).parent / "demo_payers.csv"

app = typer.Typer(no_args_is_help=True, help="The payer directory.")


async def load_payers(s: Settings, tenant: str, text: str) -> str:
    """Parses and imports a directory CSV for the tenant; returns the one-line summary.
    Raises PayerFileError naming the row and column of a bad file (nothing written)."""
    from runtime.db import create_pool
    from services.claims.directory import ensure_schema, import_payers
    from services.claims.payers import parse

    payers = parse(text)
    pool = await create_pool(s, "claims", max_size=1)
    try:
        await ensure_schema(pool)
        async with pool.acquire() as conn:
            done = await import_payers(conn, tenant, payers)
    finally:
        await pool.close()
    return (
        f"{done.read} payers read for {tenant}: {done.created} new, {done.changed} changed,"
        f" {done.deactivated} marked inactive"
    )


async def load_demo_payers(s: Settings, tenant: str) -> str:
    return await load_payers(s, tenant, DEMO_PAYERS.read_text(encoding="utf-8"))


@app.command("import")
def import_csv(
    file: Path,
    tenant: Annotated[str, typer.Option(help="the practice or billing client")],
) -> None:
    """Import the tenant's payers; payers the file lacks are kept, inactive. A bad file
    changes nothing and the error names the row and column."""
    from services.claims.payers import PayerFileError

    text = read_text(file)
    try:
        typer.echo(asyncio.run(load_payers(settings(), tenant, text)))
    except PayerFileError as exc:
        fail(f"{file}: {exc}")
