"""Eligibility handlers: record coverages, settle what the registry can, queue the rest.

encounter.created -> coverages recorded (with history) -> the registry settles self-pay
and coverage it knows is not in force at once; coverage it records as in force is put
in ``pending_checks`` in the same transaction, and the handler returns: the Kafka
partition never waits on a payer (``timers.Verifier`` asks the payer).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from runtime.service import Context
from schemas.events import ClaimHeld, EligibilityChecked, EncounterCreated, Stage
from schemas.events_coverage import CoverageReported
from schemas.ids import claim_id_for
from services.eligibility.config import EligibilitySettings
from services.eligibility.domain import Held, Verify, decide, precheck
from services.eligibility.repository import (
    Exchange,
    Queued,
    Registry,
    queue_checks,
    record_coverage,
    record_decision,
)


async def on_encounters(
    items: Sequence[tuple[Context, EncounterCreated]], *, cfg: EligibilitySettings
) -> None:
    """Records each encounter's coverages, then settles what the registry alone can
    (self-pay, coverage not in force) and queues the rest for the payer: a few
    statements for the whole run, not a few per encounter."""
    conn = items[0][0].conn
    registry = await Registry.load(conn, ((c.meta.tenant, e.patient.id) for c, e in items))
    queued: dict[str, Queued] = {}  # the latest word on each claim wins
    for ctx, enc in items:
        tenant = ctx.meta.tenant
        claim_id = claim_id_for(tenant, enc.encounter_id)
        for c in enc.coverages:
            registry.record(tenant, enc.patient.id, c, source="encounter")
        on_file = registry.on_file(tenant, enc.patient.id)
        outcome = (
            precheck(claim_id, enc, on_file) if cfg.realtime else decide(claim_id, enc, on_file)
        )
        if not isinstance(outcome, Verify):
            queued.pop(claim_id, None)
            await finish(ctx, claim_id, enc, outcome)
            continue
        queued[claim_id] = Queued(
            claim_id,
            tenant,
            enc.model_dump_json(),
            ctx.meta.id,
            ctx.meta.traceparent,
            outcome.primary.payer_id,
            enc.encounter_id,
            orjson.dumps([f"verifying with {outcome.primary.payer_id} (270/271)"]).decode(),
        )
    await registry.flush(conn)
    if not queued:
        return
    await items[0][0].flush()  # the decisions recorded above come before the queue
    await queue_checks(conn, queued.values())


async def on_coverage_reported(ctx: Context, ev: CoverageReported) -> None:
    """A coverage from a bulk upload (the gateway): recorded with history like any other."""
    await record_coverage(ctx.conn, ctx.meta.tenant, ev.patient_id, ev.coverage, source=ev.source)


async def finish(
    ctx: Context,
    claim_id: str,
    enc: EncounterCreated,
    outcome: EligibilityChecked | Held,
    *,
    benefits: list[object] | None = None,
    secondary: str | None = None,
    exchange_id: int | None = None,
    exchange: Exchange | None = None,
    done: bool = False,
) -> None:
    """Emits the decision and records it in eligibility_checks, with the exchange that
    decided it (``exchange``: a new row for ``exchanges``) and, ``done``, closing the
    pending check: one statement."""
    tenant = ctx.meta.tenant
    if isinstance(outcome, Held):
        kind, payer = "held", None
        reasons: list[object] = [r.model_dump() for r in outcome.reasons]
        await ctx.emit(
            ClaimHeld(
                claim_id=claim_id,
                encounter_id=enc.encounter_id,
                stage=Stage.eligibility,
                reasons=outcome.reasons,
            ),
            correlation_id=claim_id,
        )
    else:
        kind = "self_pay" if outcome.self_pay else "eligible"
        payer, reasons = outcome.payer_id, list(outcome.reasons)
        await ctx.emit(outcome, correlation_id=claim_id)
    await record_decision(
        ctx, claim_id, tenant, enc.encounter_id, kind, payer, reasons,
        benefits=benefits, secondary=secondary, exchange_id=exchange_id,
        exchange=exchange, done=done,
    )  # fmt: skip
