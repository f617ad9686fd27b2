"""The simulator's message handlers: the clearinghouse receiving 837P interchanges.

claim.submitted -> (once per interchange) a 999 and a 277CA, and claim.acknowledged for
each claim in it -> later, per tenant, payer and payee, an 835 (the payer cycle,
:mod:`services.simulator.timers`).

The claims service sends one claim.submitted per claim, each carrying the whole
interchange; the first one to arrive acknowledges every claim of the interchange and
queues each accepted one for adjudication; the others ride on it (no-ops but for the
release of their own waiting acknowledgements, in their own trace).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Sequence

from runtime import errors
from runtime.service import Context, Reject
from runtime.x12 import X12Error
from schemas.events import ClaimSubmitted
from services.simulator import clearinghouse, delivery, payer, repository
from services.simulator.clearinghouse import CLEARINGHOUSE_ID, CLEARINGHOUSE_NAME
from services.simulator.config import SimulatorSettings
from services.simulator.model import ClaimIn
from services.simulator.x12_277ca import ClaimAck, write_277ca
from services.simulator.x12_837 import Interchange837, claim_numbers_by_set, triage_837
from services.simulator.x12_999 import write_999

log = logging.getLogger("rcm.simulator")


async def on_submitted(
    items: Sequence[tuple[Context, ClaimSubmitted]], *, cfg: SimulatorSettings
) -> None:
    """Every claim of an interchange arrives with the whole interchange; the first to
    arrive stores, reads and acknowledges it, and the others ride on it (their waiting
    acknowledgements are released in their own trace). A rider is compared with what was
    stored by digest; a different interchange under a used control number is refused."""
    conn = items[0][0].conn
    keyed = []
    for ctx, ev in items:
        try:
            sender, icn = clearinghouse.interchange_id(ev.x12)
        except X12Error as exc:
            raise Reject("bad-x12", f"837 envelope unreadable: {errors.reason(exc)}") from exc
        digest = hashlib.sha256(ev.x12.encode()).hexdigest()
        keyed.append((ctx, ev, (ctx.meta.tenant, sender, icn), digest))
    stored = await repository.stored_digests(conn, {key for _, _, key, _ in keyed})
    riders: list[tuple[Context, str]] = []
    for ctx, ev, key, digest in keyed:
        tenant, sender, icn = key
        if key not in stored:
            received_id = await repository.store_received(
                conn, tenant=tenant, claim_id=ev.claim_id, event_id=ctx.meta.id,
                traceparent=ctx.meta.traceparent, x12=ev.x12, sender=sender, icn=icn,
            )  # fmt: skip
            if received_id is not None:
                stored[key] = digest
                await _receive(ctx, ev, received_id, cfg)
                continue
            # another instance stored it just now
            stored.update(await repository.stored_digests(conn, {key}))
        if stored[key] != digest:
            raise Reject(
                "duplicate-interchange",
                f"ISA13 {icn} from {sender} was already used for another interchange;"
                f" claim {ev.claim_id} is not acknowledged",
            )
        log.debug("interchange %s already acknowledged; claim %s rides on it", icn, ev.claim_id)
        riders.append((ctx, ev.patient_control_number))
    if riders:
        await delivery.release_for_claims(riders)


async def _receive(
    ctx: Context, ev: ClaimSubmitted, received_id: int, cfg: SimulatorSettings
) -> None:
    try:
        inter = triage_837(ev.x12)
    except X12Error as exc:  # rolls back the received row with the batch
        raise Reject("bad-x12", f"837 envelope unreadable: {errors.reason(exc)}") from exc
    await repository.set_claim_count(ctx.conn, received_id, sum(1 for _ in inter.claims()))
    await _acknowledge(ctx, ev, inter, received_id, cfg)


async def _acknowledge(
    ctx: Context,
    ev: ClaimSubmitted,
    inter: Interchange837,
    received_id: int,
    cfg: SimulatorSettings,
) -> None:
    """The interchange's 999 and 277CA: this claim's own acknowledgements are delivered
    now (or after the ack delay), the other claims' wait for their own claim.submitted;
    every accepted claim is queued for its payer. A few statements per interchange."""
    conn = ctx.conn
    own = ev.patient_control_number
    awaiting = delivery.Awaiting(ctx.meta.tenant, cfg.ack_delay_s)
    submitter = inter.sender_id.strip()
    icn = await repository.next_interchange_control(conn)
    envelope = delivery.envelope(ctx.service.settings, icn, CLEARINGHOUSE_ID, submitter)
    ack_999 = write_999(inter, envelope=envelope)
    acks_999 = clearinghouse.set_acks(inter, claim_numbers_by_set(ev.x12), ack_999)
    for pcn, ack in acks_999:
        if pcn == own:
            await delivery.schedule(ctx, ack, correlation_id=pcn, delay_s=cfg.ack_delay_s)
        else:
            awaiting.add(ack, pcn)
    if own not in {pcn for pcn, _ in acks_999}:
        ack = clearinghouse.not_in_interchange(ev, inter, ack_999)
        await ctx.emit(ack, correlation_id=ev.claim_id)
    claims = list(inter.claims())
    accepted = await _acknowledge_claims(ctx, own, inter, claims, received_id, awaiting, cfg)
    await awaiting.store(conn)
    if accepted:
        await repository.queue_adjudications(
            conn,
            received_id,
            ctx.meta.tenant,
            (
                (
                    c.payer_id,
                    c.billing_npi,
                    c.patient_control_number,
                    payer.payer_delay(cfg, c.payer_id),
                )
                for c in accepted
            ),
        )


async def _acknowledge_claims(
    ctx: Context,
    own: str,
    inter: Interchange837,
    claims: list[ClaimIn],
    received_id: int,
    awaiting: delivery.Awaiting,
    cfg: SimulatorSettings,
) -> list[ClaimIn]:
    """The 277CA of the interchange's readable claims (``own``: the CLM01 of this
    message, delivered now) and their statuses; returns the claims accepted."""
    if not claims:
        return []
    today = dt.datetime.now(dt.UTC).date()
    acks = [ClaimAck(c, clearinghouse.edits(c, cfg)) for c in claims]
    submitter = inter.sender_id.strip()
    icn = await repository.next_interchange_control(ctx.conn)
    text = write_277ca(
        acks,
        envelope=delivery.envelope(ctx.service.settings, icn, CLEARINGHOUSE_ID, submitter),
        source_name=CLEARINGHOUSE_NAME,
        source_id=CLEARINGHOUSE_ID,
        receiver_name=submitter,
        receiver_id=submitter,
        received=today,
        processed=today,
        batch_reference=inter.interchange_control_number,
        receipt_trace=f"R{received_id}",
    )
    statuses = clearinghouse.received_statuses(acks)
    await repository.receive_statuses(ctx.conn, ctx.meta.tenant, received_id, statuses)
    for ack in acks:
        event, status = clearinghouse.claim_ack(ack, text)
        pcn = ack.claim.patient_control_number
        if pcn == own:
            await delivery.schedule(
                ctx, event, correlation_id=pcn, delay_s=cfg.ack_delay_s, status=status
            )
        else:
            awaiting.add(event, pcn, status)
    return [a.claim for a in acks if a.accepted]
