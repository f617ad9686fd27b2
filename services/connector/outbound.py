"""Sending an 837 interchange to an account's outbound folder: named by the account's
rule, recorded (pending) before the upload, written under a temporary name and renamed,
then recorded uploaded. The same content sent again is the same file: done once. An
upload that failed waits with its reason and is retried by the connector (Sender)."""

from __future__ import annotations

import datetime as dt
import logging

import asyncpg

from runtime.context import Context
from runtime.service import Service
from schemas.events_transport import X12FileSendFailed, X12FileSent
from services.connector import envelope, repository
from services.connector.config import Account
from services.connector.envelope import Envelope, EnvelopeError
from services.connector.mailbox import AccountTimer, Mailbox, MailboxError, sha256
from services.connector.metrics import ConnectorMetrics

log = logging.getLogger("rcm.connector")


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
    retry: tuple[float, float] = (1.0, 60.0),
) -> tuple[str, bool]:
    """Uploads the interchange; returns its remote name and whether this call uploaded it
    (False: it was uploaded before). MailboxError when the mailbox fails: the file stays
    pending with the reason, and the connector's Sender (or the next call) finishes it."""
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
            await repository.outbound_result(conn, account.name, digest, str(exc), retry)
            raise
        await repository.outbound_result(conn, account.name, digest, None)
    metrics.uploads.labels(account.name).inc()
    return name, True


class Sender(AccountTimer):
    """A timer per account: uploads that failed are tried again when their backoff is up
    (``RCM_CONNECTOR_RETRY_MIN_S`` doubling to ``_MAX_S``), a few at a time, each row
    locked while it is tried so two connectors never send one file together. New ones
    (x12.interchange-ready) are due at once; each upload done is announced
    (x12.file-sent) in the transaction that records it."""

    async def __call__(self, svc: Service) -> int:
        assert svc.pool is not None
        a, sent = self.account, 0
        retry = (self.cfg.retry_min_s, self.cfg.retry_max_s)
        async with svc.pool.acquire() as conn, conn.transaction():
            due = await repository.due_outbound(conn, a.name, limit=20)
            if not due:
                return 0
            try:
                box = await self.link.box()
                for row in due:
                    await box.upload(row["name"], row["raw"])
                    await repository.outbound_result(conn, a.name, row["sha256"], None)
                    if row["uploaded_at"] is None:  # a resend's claims are sent already
                        await _announce(svc, conn, a, row)
                    self.metrics.uploads.labels(a.name).inc()
                    sent += 1
            except MailboxError as exc:
                self.link.drop()
                self.metrics.failures.labels(a.name, exc.kind).inc()
                for row in due[sent:]:
                    await repository.outbound_result(conn, a.name, row["sha256"], str(exc), retry)
                    if row["uploaded_at"] is None and row["last_error"] != str(exc):
                        # a new reason: on the claims' timelines
                        await _announce_failure(svc, conn, a, row, str(exc), retry)
                svc.outbox.wake.set()
                log.warning("%s; %d uploads wait for their next try", exc, len(due) - sent)
        if sent:
            svc.outbox.wake.set()
        return sent


def _upload_context(
    svc: Service, conn: asyncpg.Connection, a: Account, row: asyncpg.Record
) -> Context:
    """The context an upload's event is written in: the row's tenant, the interchange."""
    return svc.context(
        conn,
        tenant=row["tenant"],
        correlation_id=f"icn:{row['control_number']}",
        cause=f"upload:{a.name}/{row['name']}",
    )


async def _announce(
    svc: Service, conn: asyncpg.Connection, a: Account, row: asyncpg.Record
) -> None:
    """x12.file-sent, in the transaction that records the upload: announced once, and
    only once the file is there under its final name (a crash before the commit uploads
    it again, finds the same content there, and announces it then)."""
    ctx = _upload_context(svc, conn, a, row)
    sent = X12FileSent(
        interchange_control_number=row["control_number"],
        account=a.name,
        name=row["name"],
        sha256=row["sha256"],
        attempts=row["attempts"] + 1,
    )
    await ctx.emit(sent)


async def _announce_failure(
    svc: Service,
    conn: asyncpg.Connection,
    a: Account,
    row: asyncpg.Record,
    reason: str,
    retry: tuple[float, float],
) -> None:
    """x12.file-send-failed, with the row's new reason (the mailbox's words: host,
    account, what failed; never a file's content), in the transaction that records it."""
    ctx = _upload_context(svc, conn, a, row)
    failed = X12FileSendFailed(
        interchange_control_number=row["control_number"],
        account=a.name,
        name=row["name"],
        reason=reason[:500],
        attempts=row["attempts"] + 1,
        retry_in_s=min(retry[1], retry[0] * 2 ** min(row["attempts"], 30)),
    )
    await ctx.emit(failed)
