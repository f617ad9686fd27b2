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

import asyncpg
import orjson

from runtime.service import Context, Reject, Service
from schemas.events import ClaimCoded, ClaimHeld, EligibilityChecked
from schemas.events_workqueue import ClaimFixed, Reentry
from services.coding import codesets, store
from services.coding.ncci import EMPTY, EditTables
from services.coding.scrub import HISTORY_CODES, scrub

log = logging.getLogger("rcm.coding")


class _Tables:
    current: EditTables = EMPTY
    stamp: str = ""


def edit_tables() -> EditTables:
    return _Tables.current


async def load_tables(conn: asyncpg.Connection, *, seed: bool = True) -> EditTables:
    """Load the edit tables and CPT codes from the schema (seeding the bundled subset
    into an empty schema when ``seed``) and make them current."""
    if seed and await store.seed_bundled(conn):
        log.warning("no NCCI/MUE tables were loaded; seeded the bundled demonstration subset")
    _Tables.stamp = await store.tables_stamp(conn)
    _Tables.current = await store.load_edit_tables(conn)
    codesets.add_cpt_codes(await store.cpt_codes(conn))
    log.info("edit tables loaded: %s (%d rows)", _Tables.current.version, len(_Tables.current))
    return _Tables.current


async def reload_tables(svc: Service) -> int:
    """Timer: reload when a loader changed the tables. Returns 0 (never busy)."""
    assert svc.pool is not None
    async with svc.pool.acquire() as conn:
        if await store.tables_stamp(conn) != _Tables.stamp:
            await load_tables(conn, seed=False)
    return 0


async def _code(ctx: Context, checked: EligibilityChecked, trigger: str) -> None:
    tenant = ctx.meta.tenant
    await store.save_input(ctx.conn, tenant, checked)
    enc = checked.encounter
    history = []
    if any(ln.procedure_code in HISTORY_CODES for ln in enc.lines):
        history = await store.prior_services(ctx.conn, tenant, enc.patient.id, HISTORY_CODES)
    tables = _Tables.current
    result = scrub(checked, tables, history)
    coded = result if isinstance(result, ClaimCoded) else None
    await store.record_services(ctx.conn, tenant, checked.claim_id, coded)
    release, in_force = codesets.icd_release_for(enc.date_of_service)
    code_sets = {
        "icd10cm": release.name,
        "icd10cm_source": release.source,
        "icd10cm_in_force": in_force,
        "ncci": tables.version,
    }
    await ctx.conn.execute(
        "INSERT INTO coding_results(claim_id, tenant, outcome, findings, code_sets, trigger)"
        " VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6)",
        checked.claim_id,
        tenant,
        "held" if isinstance(result, ClaimHeld) else "coded",
        orjson.dumps([f.model_dump() for f in result.findings]).decode(),
        orjson.dumps(code_sets).decode(),
        trigger,
    )
    await ctx.emit(result, correlation_id=checked.claim_id)


async def on_eligible(ctx: Context, ev: EligibilityChecked) -> None:
    await _code(ctx, ev, "eligibility")


async def on_fixed(ctx: Context, ev: ClaimFixed) -> None:
    if ev.reenter is not Reentry.coding:
        return  # eligibility re-checks it; its eligibility.checked comes back here
    found = await store.last_input(ctx.conn, ev.claim_id)
    if found is None or found[0] != ctx.meta.tenant:
        raise Reject("unknown-claim", f"claim {ev.claim_id} was never coded for this tenant")
    _, last = found
    if ev.encounter.encounter_id != last.encounter_id:
        raise Reject(
            "encounter-mismatch",
            f"claim {ev.claim_id} is for encounter {last.encounter_id}, "
            f"the fix names {ev.encounter.encounter_id}",
        )
    await _code(ctx, last.model_copy(update={"encounter": ev.encounter}), "fix")


__all__ = ["edit_tables", "load_tables", "on_eligible", "on_fixed", "reload_tables"]
