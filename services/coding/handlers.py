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
from services.coding.edits.facts import billed_payer
from services.coding.ncci import EditTables
from services.coding.rulebook import LoadedRules
from services.coding.scrub import scrub
from services.coding.tables import LoadedTables


def history_codes(rules: LoadedRules, tenant: str, checked: EligibilityChecked) -> frozenset[str]:
    """The codes whose history this claim's frequency edits count (none when no line
    has a frequency-limited code)."""
    codes = HISTORY_CODES | rules.book(tenant).history_codes(billed_payer(checked))
    lines = checked.encounter.lines
    return codes if any(ln.procedure_code in codes for ln in lines) else frozenset()


async def _code(
    items: Sequence[tuple[Context, EligibilityChecked]],
    trigger: str,
    tables: EditTables,
    rules: LoadedRules,
) -> None:
    """Scrubs each claim in order (each sees the history of those coded before it) and
    records the passes with a few statements for the whole run."""
    conn = items[0][0].conn
    wanted = [history_codes(rules, ctx.meta.tenant, checked) for ctx, checked in items]
    needs_history = [
        (ctx.meta.tenant, checked.encounter.patient.id)
        for (ctx, checked), codes in zip(items, wanted, strict=True)
        if codes
    ]
    every_code = frozenset().union(*wanted)
    history = await repository.History.load(conn, needs_history, every_code | HISTORY_CODES)
    results: list[repository.ResultRow] = []
    dated = code_dates.active()
    for (ctx, checked), codes in zip(items, wanted, strict=True):
        tenant, enc = ctx.meta.tenant, checked.encounter
        prior = history.prior(tenant, enc.patient.id) if codes else []
        payer_rules = rules.book(tenant).for_claim(billed_payer(checked), enc.date_of_service)
        result = scrub(checked, tables, prior, payer_rules)
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
            "payer_rules": rules.book(tenant).version or None,
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
    items: Sequence[tuple[Context, EligibilityChecked]],
    *,
    tables: LoadedTables,
    rules: LoadedRules,
) -> None:
    await _code(items, "eligibility", tables.current, rules)


async def on_fixed(
    ctx: Context, ev: ClaimFixed, *, tables: LoadedTables, rules: LoadedRules
) -> None:
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
    fixed = last.model_copy(update={"encounter": ev.encounter})
    await _code([(ctx, fixed)], "fix", tables.current, rules)


__all__ = ["history_codes", "on_eligible", "on_fixed"]
