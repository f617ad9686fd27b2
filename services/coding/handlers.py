"""Coding handler: scrub the eligible encounter, record the result, emit coded or held."""

from __future__ import annotations

import orjson

from runtime.service import Context
from schemas.events import ClaimHeld, EligibilityChecked
from services.coding.scrub import scrub


async def on_eligible(ctx: Context, ev: EligibilityChecked) -> None:
    result = scrub(ev)
    outcome = "held" if isinstance(result, ClaimHeld) else "coded"
    await ctx.conn.execute(
        "INSERT INTO coding_results(claim_id, tenant, outcome, findings) VALUES ($1, $2, $3, $4::jsonb)",
        ev.claim_id,
        ctx.meta.tenant,
        outcome,
        orjson.dumps([f.model_dump() for f in result.findings]).decode(),
    )
    await ctx.emit(result, correlation_id=ev.claim_id)
