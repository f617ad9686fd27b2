"""Coding handlers: scrub the claim, record the pass and the patient's history, emit.

``on_eligible`` codes a claim when eligibility has checked it; ``on_fixed`` codes it
again when a person fixed it in the work queue with ``reenter == coding`` (the last
eligibility.checked, stored per claim, with the corrected encounter). Both scrub with
the service's current NCCI/MUE tables (:class:`~services.coding.tables.LoadedTables`).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from runtime.service import Context, Reject
from schemas.events import ClaimCoded, ClaimHeld, EligibilityChecked
from schemas.events_workqueue import ClaimFixed, Reentry
from services.coding import code_dates, codesets, repository
from services.coding.edits.awv_frequency import HISTORY_CODES
from services.coding.ncci import EditTables
from services.coding.scrub import scrub
from services.coding.tables import LoadedTables


async def _code(
    items: Sequence[tuple[Context, EligibilityChecked]], trigger: str, tables: EditTables
) -> None:
    """Scrubs each claim in order (each sees the history of those coded before it) and
    records the passes with a few statements for the whole run."""
    conn = items[0][0].conn
    needs_history = [
        (ctx.meta.tenant, checked.encounter.patient.id)
        for ctx, checked in items
        if any(ln.procedure_code in HISTORY_CODES for ln in checked.encounter.lines)
    ]
    history = await repository.History.load(conn, needs_history, HISTORY_CODES)
    results: list[repository.ResultRow] = []
    dated = code_dates.active()
    for ctx, checked in items:
        tenant, enc = ctx.meta.tenant, checked.encounter
        prior = (
            history.prior(tenant, enc.patient.id)
            if any(ln.procedure_code in HISTORY_CODES for ln in enc.lines)
            else []
        )
        result = scrub(checked, tables, prior)
        history.record(tenant, checked, result if isinstance(result, ClaimCoded) else None)
        release, in_force = codesets.icd_release_for(enc.date_of_service)
        code_sets = {
            "icd10cm": release.name,
            "icd10cm_source": release.source,
            "icd10cm_in_force": in_force,
            "icd10cm_dates": dated.icd10cm.source,
            "hcpcs": dated.hcpcs.source,
            "cpt_dates": dated.cpt.source,
            "ncci": tables.version,
        }
        results.append(
            (
                checked.claim_id,
                tenant,
                "held" if isinstance(result, ClaimHeld) else "coded",
                orjson.dumps([f.model_dump() for f in result.findings]).decode(),
                orjson.dumps(code_sets).decode(),
            )
        )
        await ctx.emit(result, correlation_id=checked.claim_id)
    await history.flush(conn)
    await repository.record_results(conn, trigger, results)


async def on_eligible(
    items: Sequence[tuple[Context, EligibilityChecked]], *, tables: LoadedTables
) -> None:
    await _code(items, "eligibility", tables.current)


async def on_fixed(ctx: Context, ev: ClaimFixed, *, tables: LoadedTables) -> None:
    if ev.reenter is not Reentry.coding:
        return  # eligibility re-checks it; its eligibility.checked comes back here
    found = await repository.last_input(ctx.conn, ev.claim_id)
    if found is None or found[0] != ctx.meta.tenant:
        raise Reject("unknown-claim", f"claim {ev.claim_id} was never coded for this tenant")
    _, last = found
    if ev.encounter.encounter_id != last.encounter_id:
        raise Reject(
            "encounter-mismatch",
            f"claim {ev.claim_id} is for encounter {last.encounter_id}, "
            f"the fix names {ev.encounter.encounter_id}",
        )
    await _code([(ctx, last.model_copy(update={"encounter": ev.encounter}))], "fix", tables.current)


__all__ = ["on_eligible", "on_fixed"]
