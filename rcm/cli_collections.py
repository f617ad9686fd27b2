"""`rcm collections export --tenant T --agency A` and `rcm collections import FILE --tenant T
--agency A`: accounts placed with a collection agency, and the payments it reports
(statements owns both: ``services/statements/collections.py``)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from rcm.cliutil import fail, read_text
from runtime.settings import Settings, settings

app = typer.Typer(no_args_is_help=True, help="Accounts placed with a collection agency.")

Tenant = Annotated[str, typer.Option(help="the practice or billing client")]
Agency = Annotated[str, typer.Option(help="the collection agency")]


async def export_accounts(s: Settings, tenant: str, agency: str, out: Path, today: dt.date) -> str:
    """Places the tenant's accounts due for collections with the agency, writes the
    agency's CSV to ``out`` and audits the export (it carries names, addresses and dates
    of birth). Returns the one-line summary."""
    from rcm import audit_trail
    from runtime.db import create_pool, migrate
    from services.gateway.audit_store import AuditEntry
    from services.statements import collections
    from services.statements.app import MIGRATIONS
    from services.statements.config import StatementSettings

    pool = await create_pool(s, "statements", max_size=1)
    try:
        await migrate(pool, "statements", MIGRATIONS)
        async with pool.acquire() as conn:
            done = await collections.export(conn, tenant, agency, today, cfg=StatementSettings())
    finally:
        await pool.close()
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(done.csv(), encoding="utf-8")
    tmp.replace(out)  # written whole
    await audit_trail.record(
        s,
        [
            AuditEntry(
                tenant,
                audit_trail.default_actor(),
                "collections.export",
                done.export_id,
                detail=f"{len(done.rows)} accounts placed with {agency}",
                patient_ids=tuple(r["account"] for r in done.rows),
            )
        ],
    )
    dollars = collections.dollars(done.balance_cents)
    return f"{len(done.rows)} accounts placed with {agency} (${dollars}): {out} ({done.export_id})"


async def publish_payments(s: Settings, tenant: str, agency: str, text: str) -> int:
    """The agency's payments as ``agency_payment`` commands to the statements service
    (each once by its payment_ref, however often the file is imported)."""
    from aiokafka import AIOKafkaProducer

    from rcm import audit_trail
    from runtime.kafka import producer_config
    from schemas.codec import encode, new_meta
    from schemas.events_ledger import LedgerAction, LedgerCommand
    from services.statements.collections import parse_payments

    payments = parse_payments(text)
    producer = AIOKafkaProducer(**producer_config(s))
    await producer.start()
    try:
        for p in payments:
            cmd = LedgerCommand(
                command_id=f"agency:{agency[:15]}:{p.payment_ref}",
                guarantor_id=p.account,
                action=LedgerAction.agency_payment,
                amount_cents=p.collected_cents,
                fee_cents=p.fee_cents,
                agency=agency,
                reason="AGENCY",
                requested_by=audit_trail.default_actor(),
                role="agency",
                at=dt.datetime.combine(p.received_on, dt.time(), dt.UTC),
            )
            x = encode(
                cmd,
                new_meta(cmd, source="rcm/collections", tenant=tenant, correlation_id=p.account),
            )
            await producer.send_and_wait(x.topic, x.value, key=x.key, headers=x.headers)
    finally:
        await producer.stop()
    return len(payments)


@app.command("export")
def export(
    tenant: Tenant,
    agency: Agency = "agency",
    out: Annotated[Path | None, typer.Option(help="the CSV to write")] = None,
) -> None:
    """Place every account past the tenant's collections threshold (flagged by its final
    notice, past the grace days, owing at least the minimum) with the agency: their CSV,
    and their open claims on no statement again."""
    today = dt.datetime.now(dt.UTC).date()
    path = out or Path(f"collections-{tenant}-{today:%Y%m%d}.csv")
    typer.echo(asyncio.run(export_accounts(settings(), tenant, agency, path, today)))


@app.command("import")
def import_payments(file: Path, tenant: Tenant, agency: Agency) -> None:
    """Post the agency's payments (CSV: account, payment_ref, collected, fee, received_on;
    dollars). A bad file posts nothing and the error names the row and column."""
    from services.statements.collections import AgencyFileError

    text = read_text(file)
    try:
        n = asyncio.run(publish_payments(settings(), tenant, agency, text))
    except AgencyFileError as exc:
        fail(f"{file}: {exc}")
    typer.echo(f"{n} agency payments sent to statements for {tenant}")
