"""The connector's message handlers: a file uploaded through the gateway is taken in the
way a mailbox's file is (services.connector.intake), under the uploader's tenant; an
837 interchange the claims batcher built is queued for upload to the tenant's account
(the Sender uploads it and announces x12.file-sent)."""

from __future__ import annotations

import datetime as dt

from runtime.context import Context, Reject
from schemas.events_transport import X12FileUploaded, X12InterchangeReady
from services.connector import envelope, intake, repository
from services.connector.config import Account, sending_account
from services.connector.envelope import EnvelopeError
from services.connector.mailbox import sha256
from services.connector.metrics import ConnectorMetrics
from services.connector.outbound import file_name


async def on_uploaded(ctx: Context, ev: X12FileUploaded, *, metrics: ConnectorMetrics) -> None:
    await intake.take(
        ctx.service,
        metrics,
        ctx.conn,
        tenant=ctx.meta.tenant,
        account="",
        name=ev.name,
        data=ev.x12.encode("latin-1"),  # the gateway keeps every byte as one character
        source=f"upload:{ev.name}",
    )


async def on_interchange_ready(
    ctx: Context, ev: X12InterchangeReady, *, accounts: list[Account], metrics: ConnectorMetrics
) -> None:
    """Records the interchange as a pending upload of the tenant's account, once per
    content; the account's Sender (woken when this batch commits) uploads it. No account
    for the tenant, or not a whole 837: dead-lettered with the reason (its claims wait)."""
    tenant, icn = ctx.meta.tenant, ev.interchange_control_number
    account = sending_account(accounts, tenant)
    if account is None:
        metrics.failures.labels("", "no-account").inc()
        raise Reject(
            "no-account",
            f"no clearinghouse account uploads tenant {tenant}'s 837s (interchange {icn});"
            " add one to the connector's accounts file and replay the dead letter",
        )
    data = ev.x12.encode("ascii")
    try:
        env = envelope.check(data)
        if env.kind != "837":
            raise EnvelopeError(f"a {env.kind} is not sent to a clearinghouse (837 only)")
    except EnvelopeError as exc:
        metrics.failures.labels(account.name, "not-837").inc()
        raise Reject("bad-837", f"interchange {icn}: {exc}") from None
    if ev.resend and await repository.upload_again(ctx.conn, account.name, sha256(data)):
        return  # a resend: the Sender uploads it again, under its first name
    name = file_name(account, tenant, env, dt.datetime.now(dt.UTC))
    await repository.add_outbound(
        ctx.conn, tenant, account.name, name, sha256(data), env.control_number, data
    )
