"""`rcm code load-payer-rules FILE --tenant T`: a payer's rules as data, into the coding
schema (services/coding/payer_rules.py says the columns). The demo payers' files are in
rcm/payer_rules/; the demo, chaos and the e2e tests load them for their tenant."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Annotated

import typer

from rcm.cliutil import fail, read_text
from runtime.settings import Settings, settings

#: The demo practice's payers' rules, one file a payer (rcm/demo_payers.csv's payers).
DEMO_RULES = Path(__file__).parent / "payer_rules"
MIGRATIONS = Path(__file__).parent.parent / "services" / "coding" / "migrations"


def version_of(name: str, text: str) -> str:
    """A load's version: the file's name and the start of its SHA-256."""
    return f"{name}@{hashlib.sha256(text.encode()).hexdigest()[:12]}"


async def load_rules(
    s: Settings,
    tenant: str,
    text: str,
    version: str,
    schema: str = "coding",
    claims_schema: str = "claims",
) -> str:
    """Parses and loads a rules file for the tenant; returns the summary, with a note for
    each payer the tenant's directory (``claims_schema``.payer_v1) lacks or has inactive.
    Raises RuleFileError naming every bad row and column (nothing written)."""
    from runtime.db import create_pool, migrate
    from services.coding import repository_rules
    from services.coding.payer_rules import parse_file

    rows, rules = parse_file(text)
    pool = await create_pool(s, schema, max_size=1)
    try:
        await migrate(pool, schema, MIGRATIONS)
        async with pool.acquire() as conn, conn.transaction():
            done = await repository_rules.replace_rules(conn, tenant, rows, rules, version)
            known = await repository_rules.directory_payers(conn, claims_schema, tenant)
    finally:
        await pool.close()
    payers = ", ".join(f"{p} {n}" for p, n in done.payers.items())
    said = [f"loaded {len(rules)} payer rules for {tenant} ({payers}), version {done.version}"]
    said += [
        f"note: {p} is not an active payer in {tenant}'s directory (rcm payers import):"
        " a claim to it is held as PAYER-UNKNOWN before these rules matter"
        for p in done.payers
        if known is not None and p not in known
    ]
    return "\n".join(said)


async def load_demo_rules(s: Settings, tenant: str, schema: str = "coding") -> list[str]:
    """Every demo payer's rules file for the tenant (an unchanged file loads the same)."""
    out = []
    for f in sorted(DEMO_RULES.glob("*.csv")):
        text = f.read_text(encoding="utf-8")
        out.append(await load_rules(s, tenant, text, version_of(f.name, text), schema))
    return out


def load_payer_rules(
    file: Path,
    tenant: Annotated[str, typer.Option(help="the practice or billing client")],
    version: Annotated[
        str | None,
        typer.Option(help="a name for this version of the rules (default: file name@SHA-256)"),
    ] = None,
    schema: Annotated[str, typer.Option(help="PostgreSQL schema of the coding service")] = (
        "coding"
    ),
) -> None:
    """Load a payer's rules (CSV: payer_id, rule, codes, modifiers, place_of_service,
    limit, related_codes, effective_date, end_date): they replace the rules of every
    payer the file names. A bad file changes nothing; every bad row is named."""
    from services.coding.payer_rules import RuleFileError

    text = read_text(file)
    try:
        out = asyncio.run(
            load_rules(settings(), tenant, text, version or version_of(file.name, text), schema)
        )
    except RuleFileError as exc:
        fail(f"{file}: nothing loaded, {len(exc.problems)} problems:\n" + "\n".join(exc.problems))
    typer.echo(out)
