"""`rcm code load-icd` / `load-hcpcs`: dated code sets into the coding schema.

Registered on :data:`rcm.cli_code.app` (imported at the end of that module).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer

from rcm.cli_code import SCHEMA, SchemaOpt, _with_db, app
from rcm.cliutil import fail
from services.coding.ncci import LayoutError


def _start(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r} is not a YYYY-MM-DD date")


@app.command("load-icd")
def load_icd(
    file: Path,
    release: Annotated[
        str,
        typer.Option(
            help="The date the release took effect, YYYY-MM-DD: October 1 for a fiscal "
            "year's release (2025-10-01 for FY2026), April 1 for an April update"
        ),
    ],
    schema: SchemaOpt = SCHEMA,
) -> None:
    """Add one ICD-10-CM release (CMS's order file icd10cm_order_YYYY.txt, or a code list,
    one code a line) and work out every code's effective and termination dates from all
    releases loaded: a code missing from a release ends the day before it."""
    from services.coding import code_dates
    from services.coding import code_dates_store as store

    start = _start(release, "--release")
    try:
        codes = code_dates.read_icd_release(code_dates.read_cms_text(file))
    except OSError as exc:
        fail(f"{file}: {exc.strerror}")
    except LayoutError as exc:
        fail(f"{file}: {exc}")

    async def go(conn: Any) -> int:
        return await store.add_icd_release(conn, start, codes, f"{file.name}@{start}")

    n = _with_db(go, migrate=True, schema=schema)
    typer.echo(
        f"loaded {len(codes)} billable ICD-10-CM codes from {file.name}, in force from "
        f"{start.isoformat()}; {n} codes dated across the releases loaded"
    )


@app.command("load-hcpcs")
def load_hcpcs(file: Path, schema: SchemaOpt = SCHEMA) -> None:
    """Load CMS's alpha-numeric HCPCS file (HCPCYYYY_..._ANWEB.txt, the quarterly or annual
    release): each code's add date and termination date. Codes an earlier file gave and
    this one no longer lists keep their dates."""
    from services.coding import code_dates
    from services.coding import code_dates_store as store

    try:
        rows = code_dates.read_hcpcs_file(code_dates.read_cms_text(file))
    except OSError as exc:
        fail(f"{file}: {exc.strerror}")
    except LayoutError as exc:
        fail(f"{file}: {exc}")

    async def go(conn: Any) -> int:
        return await store.merge_hcpcs(conn, rows, file.name)

    n = _with_db(go, migrate=True, schema=schema)
    ended = sum(1 for r in rows if r.termination)
    typer.echo(
        f"loaded {n} HCPCS Level II codes from {file.name} ({ended} with a termination date)"
    )
