"""`rcm x12 import FILE|DIR --tenant T` and `rcm x12 send FILE --account A`: files that
come or go some other way than the connector's own polling, through the connector's
code (services.connector): the same envelope check, the same de-duplication by content,
the same outbox and transfer log."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from rcm.cliutil import fail
from runtime.settings import Settings, settings
from services.connector.envelope import MAX_FILE_BYTES

#: `import`'s exit status when a file was refused (1: the command itself failed).
REFUSED = 2


def files_of(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    if path.is_file():
        return [path]
    fail(f"{path}: no such file or folder")


def read_bounded(path: Path) -> bytes:
    if path.stat().st_size > MAX_FILE_BYTES:
        fail(f"{path}: over the {MAX_FILE_BYTES}-byte limit for one file")
    return path.read_bytes()


async def import_files(s: Settings, tenant: str, files: list[Path]) -> list[str]:
    """One line per file: accepted, duplicate or refused, and why."""
    from services.connector import intake
    from services.connector.app import service

    svc, metrics = service(s)
    await svc.start_resources()
    lines = []
    try:
        assert svc.pool is not None
        for f in files:
            async with svc.pool.acquire() as conn:
                taken = await intake.take(
                    svc,
                    metrics,
                    conn,
                    tenant=tenant,
                    account="",
                    name=f.name,
                    data=read_bounded(f),
                    source=f"import:{f.name}",
                )
            what = f"{taken.outcome} {taken.kind}".strip()
            lines.append(f"{f}: {what}{': ' + taken.reason if taken.reason else ''}")
        while await svc.relay_once():
            pass
    finally:
        await svc.stop_resources()
    return lines


def import_command(
    path: Path,
    tenant: Annotated[str, typer.Option(help="the practice or billing client")],
) -> None:
    """Take 835, 999, 277CA and 277 files (one file, or every file of a folder) into the
    same path as the clearinghouse mailbox: checked, kept, announced once per content."""
    files = files_of(path)
    lines = asyncio.run(import_files(settings(), tenant, files))
    for line in lines:
        typer.echo(line)
    if any(": refused" in line or ": rejected" in line for line in lines):
        raise typer.Exit(REFUSED)


def send_command(
    file: Path,
    account: Annotated[str, typer.Option(help="the account's name in the accounts file")],
    accounts: Annotated[
        Path | None, typer.Option(help="accounts JSON (default RCM_CONNECTOR_ACCOUNTS_FILE)")
    ] = None,
) -> None:
    """Upload one 837 interchange to the account's outbound folder (temporary name, then
    renamed); the same content again is reported as sent before."""
    from services.connector.app import service
    from services.connector.config import AccountError, ConnectorSettings, load_accounts
    from services.connector.envelope import EnvelopeError
    from services.connector.mailbox import MailboxError
    from services.connector.outbound import send

    cfg = ConnectorSettings()
    try:
        found = [a for a in load_accounts(accounts or cfg.accounts_file) if a.name == account]
    except AccountError as exc:
        fail(str(exc))
    if not found:
        fail(f"no account named {account!r} in the accounts file")
    data = read_bounded(file) if file.is_file() else fail(f"{file}: no such file")

    async def run() -> tuple[str, bool]:
        svc, metrics = service(settings())
        await svc.start_resources()
        try:
            assert svc.pool is not None
            retry = (cfg.retry_min_s, cfg.retry_max_s)
            return await send(svc.pool, metrics, found[0], found[0].tenant, data, retry=retry)
        finally:
            await svc.stop_resources()

    try:
        name, fresh = asyncio.run(run())
    except EnvelopeError as exc:
        fail(f"{file}: {exc}")
    except MailboxError as exc:
        fail(f"{file}: {exc} (kept pending: the connector tries it again)")
    typer.echo(f"{file}: {'uploaded as' if fresh else 'sent before as'} {name}")
