"""Delivery: what the clearinghouse and the payers send back, now or later.

An event goes out at once, or (a delay) is stored in ``scheduled`` and released by the
payer cycle when due (late acknowledgements, 835s held back). The acknowledgements of
an interchange's other claims wait for each claim's own claim.submitted, so each joins
that claim's trace. A delivered acknowledgement may make a claim status true.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg

from runtime.service import Context, Service
from runtime.settings import Settings
from runtime.x12 import Envelope
from schemas.events import ClaimAcknowledged, Event, RemitReceived
from services.simulator import repository
from services.simulator.repository import AwaitingRow

#: Events the simulator may schedule for later delivery.
SCHEDULABLE: dict[str, type[Event]] = {
    ClaimAcknowledged.TYPE: ClaimAcknowledged,
    RemitReceived.TYPE: RemitReceived,
}

#: (payer id, CLM01, state): the claim status a delivery makes true.
Status = tuple[str, str, str]


def envelope(s: Settings, icn: int, sender: str, receiver: str) -> Envelope:
    """The envelope of an interchange the simulator sends (999, 277CA, 835)."""
    return Envelope(
        sender_qualifier="ZZ",
        sender_id=sender,
        receiver_qualifier="ZZ",
        receiver_id=receiver,
        functional_id="",
        version="",
        interchange_control_number=icn,
        group_control_number=icn,
        usage=s.x12_usage,
    )


async def schedule(
    ctx: Context,
    event: Event,
    *,
    correlation_id: str,
    delay_s: float,
    status: Status | None = None,
) -> None:
    """Emits now, or (delay_s > 0) stores the event for release_due to emit later."""
    if delay_s <= 0:
        await ctx.emit(event, correlation_id=correlation_id)
        if status is not None:
            await repository.set_states(ctx.conn, [status])
        return
    await repository.schedule(
        ctx,
        event.TYPE,
        event.model_dump_json(),
        correlation_id=correlation_id,
        delay_s=delay_s,
        status=status,
    )


@dataclass
class Awaiting:
    """Acknowledgements for the other claims of an interchange: each waits for that
    claim's own claim.submitted (see release_for_claims), so it joins that claim's trace.
    Stored with one statement (:meth:`store`)."""

    tenant: str
    delay_s: float
    rows: list[AwaitingRow] = field(default_factory=list)

    def add(self, event: Event, pcn: str, status: Status | None = None) -> None:
        self.rows.append(
            (pcn, event.TYPE, event.model_dump_json(), *(status or (None, None, None)), pcn)
        )

    async def store(self, conn: asyncpg.Connection) -> None:
        if self.rows:
            await repository.store_awaiting(conn, self.tenant, self.delay_s, self.rows)


async def release_for_claims(riders: Sequence[tuple[Context, str]]) -> None:
    """The acknowledgements waiting for these claims' own claim.submitted (context, CLM01
    each): emitted now (or scheduled after the configured ack delay), each in its own
    claim's message context and trace. One statement to release, one to set statuses."""
    conn = riders[0][0].conn
    by_claim = {(ctx.meta.tenant, pcn): ctx for ctx, pcn in reversed(riders)}  # the first wins
    rows = await repository.release_awaiting(
        conn,
        (
            (tenant, pcn, ctx.meta.id, ctx.meta.traceparent)
            for (tenant, pcn), ctx in by_claim.items()
        ),
    )
    states = []
    for row in sorted(rows, key=lambda r: r["id"]):
        if row["delay_s"] > 0:
            continue
        event = SCHEDULABLE[row["event_type"]].model_validate_json(row["body"])
        await by_claim[(row["tenant"], row["pcn"])].emit(
            event, correlation_id=row["correlation_id"]
        )
        if row["ack_state"]:
            states.append((row["payer_id"], row["patient_control_number"], row["ack_state"]))
    await repository.set_states(conn, states)


async def release_due(svc: Service) -> int:
    """Emits scheduled events whose time has come, in due order."""
    assert svc.pool is not None
    async with svc.pool.acquire() as conn, conn.transaction():
        rows = await repository.due_deliveries(conn)
        for row in rows:
            event = SCHEDULABLE[row["event_type"]].model_validate_json(row["body"])
            ctx = svc.context(
                conn,
                tenant=row["tenant"],
                correlation_id=row["correlation_id"],
                cause=row["cause"],
                traceparent=row["traceparent"],
            )
            await ctx.emit(event)
        await repository.set_states(
            conn,
            [
                (r["payer_id"], r["patient_control_number"], r["ack_state"])
                for r in rows
                if r["ack_state"]
            ],
        )
        if rows:
            await repository.mark_sent(conn, [r["id"] for r in rows])
        return len(rows)
