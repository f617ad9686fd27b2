"""The connector's message handler: a file uploaded through the gateway is taken in the
way a mailbox's file is (services.connector.intake), under the uploader's tenant."""

from __future__ import annotations

from runtime.context import Context
from schemas.events_transport import X12FileUploaded
from services.connector import intake
from services.connector.metrics import ConnectorMetrics


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
