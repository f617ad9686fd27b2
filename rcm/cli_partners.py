"""`rcm partners import FILE.csv --tenant T`: a tenant's trading-partner identity with
its clearinghouse (claims owns it: services/claims/partners.py says each column)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from rcm.cliutil import fail, read_text
from runtime.settings import Settings, settings

#: The demo practice's identity (the local simulator's clearinghouse ids): `rcm demo`
#: loads it for its tenant.
DEMO_PARTNER = Path(__file__).parent / "demo_partner.csv"

app = typer.Typer(no_args_is_help=True, help="Trading-partner identity (ISA, GS, 1000A/B).")


async def load_partner(s: Settings, tenant: str, text: str) -> str:
    """Parses and saves the tenant's identity; returns a one-line summary. Raises
    PartnerFileError naming the column of a bad file (nothing written)."""
    from runtime.db import create_pool
    from services.claims.directory import ensure_schema
    from services.claims.partners import parse, save

    partner = parse(text)
    pool = await create_pool(s, "claims", max_size=1)
    try:
        await ensure_schema(pool)
        async with pool.acquire() as conn:
            await save(conn, tenant, partner)
    finally:
        await pool.close()
    return (
        f"{tenant}: ISA {partner.isa_sender_qualifier}:{partner.isa_sender_id} ->"
        f" {partner.isa_receiver_qualifier}:{partner.isa_receiver_id},"
        f" submitter {partner.submitter_id}, receiver {partner.receiver_id}"
    )


async def load_demo_partner(s: Settings, tenant: str) -> str:
    return await load_partner(s, tenant, DEMO_PARTNER.read_text(encoding="utf-8"))


@app.command("import")
def import_csv(
    file: Path,
    tenant: Annotated[str, typer.Option(help="the practice or billing client")],
) -> None:
    """Set the tenant's ISA/GS ids, submitter (with its contact) and receiver; a bad
    file changes nothing and the error names the column."""
    from services.claims.partners import PartnerFileError

    text = read_text(file)
    try:
        typer.echo(asyncio.run(load_partner(settings(), tenant, text)))
    except PartnerFileError as exc:
        fail(f"{file}: {exc}")
