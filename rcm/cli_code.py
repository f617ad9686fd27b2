"""`rcm code ...`: check a claim against the coding edits; load NCCI, MUE and CPT files."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from rcm.cliutil import JsonLimit, bounded_json, fail, read_text
from runtime.settings import settings

app = typer.Typer(no_args_is_help=True, help="Coding: scrub a claim, load edit tables.")
SCHEMA = "coding"
T = TypeVar("T")


def _one_line(exc: ValidationError) -> str:
    err = exc.errors(include_url=False, include_input=False)[0]
    loc = ".".join(str(p) for p in err["loc"]) or "<body>"
    return f"{loc}: {err['msg']} ({exc.error_count()} errors)"


def _checked_from(doc: dict[str, Any], tenant: str) -> Any:
    """An eligibility.checked body as is; an encounter body as a checked claim with its
    primary coverage active (self-pay when it has none)."""
    from rcm.workload import assumed_eligible
    from schemas.events import EligibilityChecked, EncounterCreated
    from schemas.ids import claim_id_for

    if "encounter" in doc:
        return EligibilityChecked.model_validate(doc)
    enc = EncounterCreated.model_validate(doc)
    return assumed_eligible(enc, claim_id_for(tenant, enc.encounter_id))


SchemaOpt = Annotated[str, typer.Option(help="PostgreSQL schema of the coding service")]


def _with_db(fn: Callable[[Any], Awaitable[T]], *, migrate: bool, schema: str = SCHEMA) -> T:
    """Run ``fn(conn)`` in one transaction on the coding schema."""
    import asyncpg

    from runtime.db import create_pool, is_transient
    from runtime.db import migrate as run_migrations

    async def go() -> T:
        s = settings()
        pool = await create_pool(s, schema, max_size=2)
        try:
            if migrate:
                await run_migrations(
                    pool, schema, Path(__file__).parent.parent / "services/coding/migrations"
                )
            async with pool.acquire() as conn, conn.transaction():
                return await fn(conn)
        finally:
            await pool.close()

    try:
        return asyncio.run(go())
    except asyncpg.exceptions.UndefinedTableError:
        fail("the coding schema has no edit tables yet: run `rcm code load-ncci` first")
    except Exception as exc:
        if is_transient(exc):
            fail(f"PostgreSQL unavailable: {type(exc).__name__}")
        raise


@app.command("check")
def check(
    claim_file: Path,
    db: Annotated[
        bool,
        typer.Option(
            "--db",
            help="Use the NCCI/MUE tables, CPT codes, payer rules and patient history in "
            "PostgreSQL instead of the bundled subset (no payer rules, no history).",
        ),
    ] = False,
    tenant: Annotated[str | None, typer.Option(help="Tenant for claim id and history")] = None,
    schema: SchemaOpt = SCHEMA,
) -> None:
    """Scrub one claim and print {"findings": [{edit, severity, line, message}], ...}.

    CLAIM_FILE is JSON: an encounter (rcm.encounter.created.v1 body; its primary
    coverage is taken as active, none means self-pay) or an eligibility.checked body.
    """
    from services.coding import code_dates, codesets, reference
    from services.coding.config import CodingSettings, load_reference_files
    from services.coding.edits.facts import PriorService, billed_payer
    from services.coding.ncci import bundled_tables
    from services.coding.payer_rules import EMPTY_BOOK
    from services.coding.scrub import scrub

    load_reference_files(CodingSettings())  # RCM_CODING_NECESSITY_FILE, _PAYERS_FILE

    text = read_text(claim_file)
    try:
        doc = bounded_json(text)
    except json.JSONDecodeError as exc:
        fail(f"{claim_file}: not JSON: {exc.msg} at line {exc.lineno}")
    except JsonLimit as exc:
        fail(f"{claim_file}: JSON past a limit: {exc}")
    if not isinstance(doc, dict):
        fail(f"{claim_file}: expected a JSON object (an encounter or eligibility.checked)")
    ten = tenant or settings().tenant
    try:
        checked = _checked_from(doc, ten)
    except ValidationError as exc:
        kind = "eligibility.checked" if "encounter" in doc else "encounter"
        fail(f"{claim_file}: not a valid {kind}: {_one_line(exc)}")

    history: list[PriorService] = []
    book = EMPTY_BOOK
    if db:
        tables, history, book = _from_db(checked, ten, schema)
        _audit_history_read(ten, checked.claim_id, checked.encounter.patient.id)
    else:
        tables = bundled_tables()
    rules = book.for_claim(billed_payer(checked), checked.encounter.date_of_service)
    result = scrub(checked, tables, history, rules)
    release, in_force = codesets.icd_release_for(checked.encounter.date_of_service)
    out = {
        "claim_id": checked.claim_id,
        "outcome": "held" if result.TYPE.endswith("held.v1") else "coded",
        "findings": [f.model_dump() for f in result.findings],
        "code_sets": {
            "icd10cm": release.name,
            "icd10cm_in_force": in_force,
            "icd10cm_dates": code_dates.active().icd10cm.source,
            "hcpcs": code_dates.active().hcpcs.source,
            "cpt_dates": code_dates.active().cpt.source,
            "ncci": tables.version,
            "necessity": reference.necessity_source(),
            "payers": reference.payers_source(),
            "payer_rules": book.version or None,
        },
    }
    typer.echo(json.dumps(out, indent=2))


def _from_db(checked: Any, tenant: str, schema: str) -> Any:
    """(edit tables, the patient's history, the tenant's payer rules) from the coding
    schema, with its CPT codes and dated code sets made current."""
    from services.coding import code_dates_store, codesets, repository_rules
    from services.coding import repository as store
    from services.coding.edits.awv_frequency import HISTORY_CODES
    from services.coding.edits.facts import billed_payer
    from services.coding.payer_rules import EMPTY_BOOK

    async def load(conn: Any) -> Any:
        codesets.add_cpt_codes(await store.cpt_codes(conn))
        await code_dates_store.use_loaded(conn)
        patient = checked.encounter.patient.id
        book = (await repository_rules.rule_books(conn)).get(tenant, EMPTY_BOOK)
        codes = HISTORY_CODES | book.history_codes(billed_payer(checked))
        known = await store.History.load(conn, [(tenant, patient)], codes)
        return await store.load_edit_tables(conn), known.prior(tenant, patient), book

    return _with_db(load, migrate=False, schema=schema)


def _cms_text(path: Path) -> str:
    """A CMS file as published: Windows-1252 (its notices carry the registered sign)."""
    from services.coding.code_dates import read_cms_text

    try:
        return read_cms_text(path)
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except OSError as exc:
        fail(f"{path}: {exc.strerror}")


@app.command("load-ncci")
def load_ncci(files: list[Path], schema: SchemaOpt = SCHEMA) -> None:
    """Replace the NCCI practitioner PTP edits with a quarterly release (pass every file
    of it, f1-f4; tab-delimited .txt or CSV)."""
    from services.coding import ncci
    from services.coding import repository as store

    edits: list[ncci.PtpEdit] = []
    for f in files:
        try:
            edits += ncci.parse_ptp(_cms_text(f))
        except ncci.LayoutError as exc:
            fail(f"{f}: {exc}")
    source = ",".join(f.name for f in files)

    async def go(conn: Any) -> int:
        return await store.replace_ptp(conn, edits, source)

    n = _with_db(go, migrate=True, schema=schema)
    typer.echo(f"loaded {n} PTP edits from {source}")


@app.command("load-mue")
def load_mue(
    file: Path,
    effective: Annotated[
        str, typer.Option(help="The quarter the file is for, YYYY-MM-DD (e.g. 2026-01-01)")
    ],
    schema: SchemaOpt = SCHEMA,
) -> None:
    """Load a practitioner MUE table in force from --effective (ends the previous one)."""
    from services.coding import ncci
    from services.coding import repository as store

    try:
        start = dt.date.fromisoformat(effective)
    except ValueError:
        fail(f"--effective {effective!r} is not a YYYY-MM-DD date")
    try:
        edits = ncci.parse_mue(_cms_text(file), start)
    except ncci.LayoutError as exc:
        fail(f"{file}: {exc}")

    async def go(conn: Any) -> int:
        return await store.load_mue(conn, edits, start, file.name)

    n = _with_db(go, migrate=True, schema=schema)
    typer.echo(f"loaded {n} MUEs from {file.name}, in force from {start.isoformat()}")


@app.command("load-cpt")
def load_cpt(file: Path, schema: SchemaOpt = SCHEMA) -> None:
    """Load the practice's licensed CPT file (CSV code,description[,effective[,termination]],
    dates YYYY-MM-DD or YYYYMMDD) into the coding schema; dated rows make CPT codes checked
    against the date of service."""
    from services.coding import code_dates, code_dates_store, codesets
    from services.coding import repository as store
    from services.coding.ncci import LayoutError

    text = read_text(file)  # one-line errors for a missing or binary file
    try:
        codes = codesets.read_cpt_file(file)
        dated = code_dates.read_cpt_dates(text)
    except (csv.Error, UnicodeDecodeError) as exc:
        fail(f"{file}: not a CSV file: {exc}")
    except LayoutError as exc:
        fail(f"{file}: {exc}")
    if not codes:
        fail(f"{file}: no CPT codes (expected CSV rows code,description[,effective,termination])")

    async def go(conn: Any) -> int:
        if dated:
            await code_dates_store.replace_cpt(conn, dated, file.name)
        return await store.load_cpt(conn, codes, file.name)

    n = _with_db(go, migrate=True, schema=schema)
    typer.echo(f"loaded {n} CPT codes from {file.name}")


def _audit_history_read(tenant: str, claim_id: str, patient_id: str) -> None:
    """`--db` read the patient's service history: the gateway's audit log gets a row."""
    from rcm import audit_trail
    from services.gateway.audit_store import AuditEntry

    entry = AuditEntry(
        tenant,
        audit_trail.default_actor(),
        "patient.history.read",
        claim_id,
        patient_id,
        claim_ids=(claim_id,),
    )
    asyncio.run(audit_trail.record(settings(), [entry]))


# Registers `load-icd` and `load-hcpcs` on `app` (a module of their own; it imports `app`).
from rcm import cli_code_dates as _cli_code_dates  # noqa: E402, F401
