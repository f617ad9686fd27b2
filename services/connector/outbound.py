"""Sending an 837 interchange to an account's outbound folder: named by the account's
rule, recorded (pending) before the upload, written under a temporary name and renamed,
then recorded uploaded. The same content sent again is the same file: done once."""

from __future__ import annotations

import datetime as dt

import asyncpg

from services.connector import envelope, repository
from services.connector.config import Account
from services.connector.envelope import Envelope, EnvelopeError
from services.connector.mailbox import Mailbox, MailboxError, sha256
from services.connector.metrics import ConnectorMetrics


def file_name(account: Account, tenant: str, env: Envelope, now: dt.datetime) -> str:
    """The clearinghouse's name for the interchange (the account's ``name_rule``)."""
    name = account.name_rule.format(
        tenant=tenant,
        sender=env.sender,
        receiver=env.receiver,
        icn=env.control_number,
        date=now.strftime("%Y%m%d"),
        time=now.strftime("%H%M%S"),
    )
    if "/" in name or name.startswith("."):
        raise EnvelopeError(f"name rule gives {name!r}: a plain file name is needed")
    return name


async def send(
    pool: asyncpg.Pool,
    metrics: ConnectorMetrics,
    account: Account,
    tenant: str,
    data: bytes,
    now: dt.datetime | None = None,
) -> tuple[str, bool]:
    """Uploads the interchange; returns its remote name and whether this call uploaded it
    (False: it was uploaded before). MailboxError when the mailbox fails (the file
    stays pending with the reason, and the next call finishes it)."""
    env = envelope.check(data)
    if env.kind != "837":
        raise EnvelopeError(f"a {env.kind} is not sent to a clearinghouse (837 only)")
    digest = sha256(data)
    async with pool.acquire() as conn:
        prior = await repository.outbound(conn, account.name, digest)
        if prior is not None and prior["state"] == "uploaded":
            return prior["name"], False
        name = (
            prior["name"]
            if prior
            else file_name(account, tenant, env, now or dt.datetime.now(dt.UTC))
        )
        await repository.add_outbound(
            conn, tenant, account.name, name, digest, env.control_number, data
        )
        try:
            async with Mailbox(account) as box:
                await box.upload(name, data)
        except MailboxError as exc:
            metrics.failures.labels(account.name, exc.kind).inc()
            await repository.outbound_result(conn, account.name, digest, str(exc))
            raise
        await repository.outbound_result(conn, account.name, digest, None)
    metrics.uploads.labels(account.name).inc()
    return name, True
