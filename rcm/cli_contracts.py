"""`rcm contracts ...`: a tenant's payer contracts and fee schedules (remittance owns
them), its underpayment threshold, and the underpayment report by payer and month."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable, Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import asyncpg
import typer

from rcm.cliutil import fail, read_text
from runtime.settings import Settings, settings

#: The demo practice's contracts (a share of a Medicare-like fee schedule per payer) and
#: that schedule: the demo, `rcm chaos`, `rcm bench` and the e2e tests load them for
#: their tenant, as they load rcm/demo_payers.csv.
DEMO_CONTRACTS = Path(__file__).parent / "demo_contracts.csv"
DEMO_FEES = Path(__file__).parent / "demo_fees_mpfs.csv"
DEMO_SCHEDULE = "MPFS"

app = typer.Typer(no_args_is_help=True, help="Payer contracts and underpayments.")
Tenant = Annotated[str, typer.Option(help="the practice or billing client")]
T = TypeVar("T")


async def _with_conn(s: Settings, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    from runtime.db import create_pool
    from services.remittance.contract_store import ensure_schema

    pool = await create_pool(s, "remittance", max_size=1)
    try:
        await ensure_schema(pool)
        async with pool.acquire() as conn:
            return await work(conn)
    finally:
        await pool.close()


async def load_contracts(s: Settings, tenant: str, text: str) -> str:
    """Parses and imports a contracts CSV for the tenant; returns the one-line summary.
    Raises ContractFileError naming every bad row (nothing written)."""
    from services.remittance.contract_file import parse_contracts
    from services.remittance.contract_store import import_contracts

    rows = parse_contracts(text)
    done = await _with_conn(s, lambda conn: import_contracts(conn, tenant, rows))
    return (
        f"{done.read} contract rates read for {tenant}: {done.added} new, {done.removed}"
        f" removed, {done.unchanged} unchanged"
    )


async def load_fees(s: Settings, tenant: str, schedule: str, text: str) -> str:
    from services.remittance.contract_file import parse_fee_schedule
    from services.remittance.contract_store import import_fee_schedule

    fees = parse_fee_schedule(text)
    done = await _with_conn(s, lambda conn: import_fee_schedule(conn, tenant, schedule, fees))
    return (
        f"{done.read} fees of {schedule} read for {tenant}: {done.added} new,"
        f" {done.removed} removed, {done.unchanged} unchanged"
    )


async def load_demo_contracts(s: Settings, tenant: str) -> str:
    """The demo practice's fee schedule and contracts (an unchanged re-import is a no-op)."""
    fees = await load_fees(s, tenant, DEMO_SCHEDULE, DEMO_FEES.read_text(encoding="utf-8"))
    return fees + "\n" + await load_contracts(s, tenant, DEMO_CONTRACTS.read_text("utf-8"))


def _run(work: Coroutine[Any, Any, str], file: Path) -> None:
    from services.remittance.contract_file import ContractFileError

    try:
        typer.echo(asyncio.run(work))
    except ContractFileError as exc:
        fail(f"{file}: {len(exc.problems)} bad row(s), nothing imported\n" + str(exc))


@app.command("import")
def import_csv(file: Path, tenant: Tenant) -> None:
    """Import the tenant's contract rates: for each payer the file names, its rates
    become the file's. Re-importing the same file changes nothing; a file with a bad row
    changes nothing and every bad row is named."""
    text = read_text(file)
    _run(load_contracts(settings(), tenant, text), file)


@app.command("fees")
def fees_csv(
    file: Path,
    tenant: Tenant,
    schedule: Annotated[str, typer.Option(help="the schedule's name contracts refer to")],
) -> None:
    """Import a fee schedule (procedure_code,modifier,allowed_cents) contracts can pay a
    percentage of, e.g. the Medicare physician fee schedule."""
    from services.remittance.contract_file import SCHEDULE_NAME

    if not SCHEDULE_NAME.match(schedule):
        fail(f"--schedule {schedule!r}: must be 1-40 letters, digits, '.', '_' or '-'")
    text = read_text(file)
    _run(load_fees(settings(), tenant, schedule, text), file)


@app.command("threshold")
def threshold(
    tenant: Tenant,
    cents: Annotated[
        int | None, typer.Argument(min=0, help="omit for the service's default")
    ] = None,
) -> None:
    """A shortfall above CENTS on a line is an underpayment work item for the tenant."""
    from services.remittance.contract_store import set_threshold

    asyncio.run(_with_conn(settings(), lambda conn: set_threshold(conn, tenant, cents)))
    said = "the service's default" if cents is None else f"{cents} cents"
    typer.echo(f"underpayment threshold for {tenant}: {said}")


def _report(s: Settings, tenant: str, since: dt.date | None) -> list[dict[str, Any]]:
    from services.remittance.contract_store import report

    return asyncio.run(_with_conn(s, lambda conn: report(conn, tenant, since)))


@app.command("report")
def report_cmd(
    tenant: Tenant,
    since: Annotated[str | None, typer.Option(help="first date of service, YYYY-MM-DD")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table")] = False,
) -> None:
    """Underpaid lines by payer and month of service: lines, expected, allowed, paid,
    shortfall."""
    try:
        start = dt.date.fromisoformat(since) if since else None
    except ValueError:
        fail(f"--since {since!r}: not a date YYYY-MM-DD")
    rows = _report(settings(), tenant, start)
    if as_json:
        for r in rows:
            typer.echo(json.dumps(r))
        return
    typer.echo("payer     month    lines     expected      allowed         paid    shortfall")
    for r in rows:
        money = "".join(
            f" {Decimal(r[k]) / 100:12.2f}"
            for k in ("expected_cents", "allowed_cents", "paid_cents", "shortfall_cents")
        )
        typer.echo(f"{r['payer_id']:<9} {r['month']:<8} {r['lines']:5d}{money}")
