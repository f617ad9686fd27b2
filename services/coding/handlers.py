"""Coding handlers: scrub the claim, record the pass and the patient's history, emit.

``on_eligible`` codes a claim when eligibility has checked it; ``on_fixed`` codes it
again when a person fixed it in the work queue with ``reenter == coding`` (the last
eligibility.checked, stored per claim, with the corrected encounter).

The NCCI/MUE tables are loaded from PostgreSQL at start (:func:`load_tables`) and
held here as one immutable :class:`EditTables`; :func:`reload_tables` swaps in a new
one when a load changed them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import asyncpg
import orjson

from runtime.db import columns
from runtime.service import Context, Reject, Service
from schemas.events import ClaimCoded, ClaimHeld, EligibilityChecked
from schemas.events_workqueue import ClaimFixed, Reentry
from services.coding import codesets, repository
from services.coding.edits.awv_frequency import HISTORY_CODES
from services.coding.ncci import EMPTY, EditTables
from services.coding.scrub import scrub

log = logging.getLogger("rcm.coding")


class _Tables:
    current: EditTables = EMPTY
    stamp: str = ""


def edit_tables() -> EditTables:
    return _Tables.current


async def load_tables(conn: asyncpg.Connection, *, seed: bool = True) -> EditTables:
    """Load the edit tables and CPT codes from the schema (seeding the bundled subset
    into an empty schema when ``seed``) and make them current."""
    if seed and await repository.seed_bundled(conn):
        log.warning("no NCCI/MUE tables were loaded; seeded the bundled demonstration subset")
    _Tables.stamp = await repository.tables_stamp(conn)
    _Tables.current = await repository.load_edit_tables(conn)
    codesets.add_cpt_codes(await repository.cpt_codes(conn))
    log.info("edit tables loaded: %s (%d rows)", _Tables.current.version, len(_Tables.current))
    return _Tables.current


async def reload_tables(svc: Service) -> int:
    """Timer: reload when a loader changed the tables. Returns 0 (never busy)."""
    assert svc.pool is not None
    async with svc.pool.acquire() as conn:
        if await repository.tables_stamp(conn) != _Tables.stamp:
            await load_tables(conn, seed=False)
    return 0


async def _code(items: Sequence[tuple[Context, EligibilityChecked]], trigger: str) -> None:
    """Scrubs each claim in order (each sees the history of those coded before it) and
    records the passes with a few statements for the whole run."""
    conn = items[0][0].conn
    needs_history = [
        (ctx.meta.tenant, checked.encounter.patient.id)
        for ctx, checked in items
        if any(ln.procedure_code in HISTORY_CODES for ln in checked.encounter.lines)
    ]
    history = await repository.History.load(conn, needs_history, HISTORY_CODES)
    tables = _Tables.current
    results = []
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
    await conn.execute(
        "INSERT INTO coding_results(claim_id, tenant, outcome, findings, code_sets, trigger)"
        " SELECT c, t, o, f::jsonb, s::jsonb, $1 FROM unnest($2::text[], $3::text[],"
        " $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS r(c, t, o, f, s, i) ORDER BY i",
        trigger,
        *columns(results),
    )


async def on_eligible(items: Sequence[tuple[Context, EligibilityChecked]]) -> None:
    await _code(items, "eligibility")


async def on_fixed(ctx: Context, ev: ClaimFixed) -> None:
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
    await _code([(ctx, last.model_copy(update={"encounter": ev.encounter}))], "fix")


__all__ = ["edit_tables", "load_tables", "on_eligible", "on_fixed", "reload_tables"]
