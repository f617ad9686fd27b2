"""Remittance handlers: index what we submitted; read each 835, check it balances, match
each CLP to our claim, post it once, and turn denials and underpayments into work.

Every write for one 835 is set-based (unnest inserts, COPY) so that a file of thousands
of claims posts in a handful of round trips.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from runtime import positions
from runtime.db import columns
from runtime.service import Context, Service
from runtime.x12 import X12Error
from schemas.events import ClaimSubmitted, RemitReceived
from services.remittance.domain import (
    Match,
    Submitted,
    adjudicated,
    claim_date,
    denials,
    ledger_rows,
    match,
    patient_key,
    read_837,
    status_of,
    underpayments,
)
from services.remittance.x12_835.balancing import balance_discrepancies
from services.remittance.x12_835.model import RemitClaim, Remittance
from services.remittance.x12_835.reader import parse_835

CONTRACTS_CSV = Path(__file__).parent / "contracts.csv"

_LEDGER_COLUMNS = (
    "posting_id",
    "claim_id",
    "line_number",
    "procedure",
    "kind",
    "cas_group",
    "reason",
    "amount_cents",
    "category",
)
_DENIAL_COLUMNS = (
    "posting_id",
    "tenant",
    "claim_id",
    "payer_id",
    "line_number",
    "procedure",
    "cas_group",
    "reason",
    "amount_cents",
    "category",
    "remarks",
)
_UNDERPAID_COLUMNS = (
    "posting_id",
    "tenant",
    "claim_id",
    "payer_id",
    "line_number",
    "procedure",
    "units",
    "allowed_cents",
    "contracted_cents",
    "shortfall_cents",
)


# --- contracts -------------------------------------------------------------------------


def read_contracts(path: Path = CONTRACTS_CSV) -> list[tuple[str, str, int]]:
    """(payer_id, procedure_code, allowed cents per unit) rows of the shipped CSV."""
    with path.open(newline="", encoding="utf-8") as f:
        return [
            (row["payer_id"], row["procedure_code"], int(row["allowed_cents"]))
            for row in csv.DictReader(f)
        ]


async def load_contracts(pool: asyncpg.Pool, path: Path = CONTRACTS_CSV) -> int:
    """Upserts the contracted fees (idempotent; run at start-up)."""
    rows = read_contracts(path)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO contracts(payer_id, procedure_code, allowed_cents)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])"
            " ON CONFLICT (payer_id, procedure_code) DO UPDATE"
            " SET allowed_cents = EXCLUDED.allowed_cents",
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
        )
    return len(rows)


# --- claim.submitted ---------------------------------------------------------------------


async def on_submitted(items: Sequence[tuple[Context, ClaimSubmitted]]) -> None:
    """Indexes a run of submitted claims for matching (one statement), then posts any
    CLP that waited for one of them by CLP01: it goes to the first claim of the run it
    names. (Patient, date and charge never match a claim that arrives after the CLP may
    look alike: see rematch. A claim.submitted applied after then was published after
    the 835 was read, and a payer cannot have paid it.)"""
    conn = items[0][0].conn
    subs = []
    for _, ev in items:
        try:
            sub = read_837(ev.x12, ev.patient_control_number)
        except X12Error:
            sub = Submitted(None, None)  # still matchable by CLP01 and payer claim number
        subs.append(sub)
    rows = {  # one row per CLM01 (the latest wins, as one upsert per claim would)
        (ctx.meta.tenant, ev.patient_control_number): (
            ev.claim_id,
            ev.payer_id,
            ev.frequency_code,
            ev.total_charge_cents,
            sub.patient_key,
            sub.service_date,
            ctx.meta.traceparent,
        )
        for (ctx, ev), sub in zip(items, subs, strict=True)
    }
    await conn.execute(
        "INSERT INTO submitted_claims(tenant, patient_control_number, claim_id, payer_id,"
        " frequency_code, total_charge_cents, patient_key, service_date, traceparent)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
        " $6::bigint[], $7::text[], $8::date[], $9::text[])"
        " ON CONFLICT (tenant, patient_control_number) DO UPDATE SET claim_id = EXCLUDED.claim_id,"
        " payer_id = EXCLUDED.payer_id, frequency_code = EXCLUDED.frequency_code,"
        " total_charge_cents = EXCLUDED.total_charge_cents,"
        " patient_key = coalesce(EXCLUDED.patient_key, submitted_claims.patient_key),"
        " service_date = coalesce(EXCLUDED.service_date, submitted_claims.service_date),"
        " traceparent = EXCLUDED.traceparent, submitted_at = now()",
        *columns((*key, *rest) for key, rest in rows.items()),
    )
    # each waiting CLP with the first claim of the run it names by CLP01
    first = dict(
        await conn.fetch(
            "SELECT u.id, min(k.i) FROM unnest($1::text[], $2::text[]) WITH ORDINALITY"
            " AS k(tenant, pcn, i) JOIN unmatched u ON u.resolved_at IS NULL"
            " AND u.tenant = k.tenant AND u.patient_control_number = k.pcn GROUP BY u.id",
            [ctx.meta.tenant for ctx, _ in items],
            [ev.patient_control_number for _, ev in items],
        )
    )
    if not first:
        return
    waiting = await conn.fetch(
        "SELECT id, remit_id, claim_index, payer_id, occurrence, false AS may_fallback"
        " FROM unmatched WHERE id = ANY($1::bigint[]) AND resolved_at IS NULL"
        " ORDER BY id FOR UPDATE",
        list(first),
    )
    # The claims of one 835 arrive in the same runs: each file is read and parsed once
    # for the run, not once for each of its claims (an 835 of 100 CLPs parses in 12-28
    # ms, and a burst whose 835s outran their claim.submitted parsed one per claim).
    remits: dict[int, tuple[str, Remittance]] = {}
    for i, (ctx, _) in enumerate(items, start=1):
        mine = [w for w in waiting if first[w["id"]] == i]
        if mine:
            await retry_unmatched(ctx, mine, remits)


async def retry_unmatched(
    ctx: Context,
    waiting: Sequence[asyncpg.Record],
    remits: dict[int, tuple[str, Remittance]] | None = None,
) -> int:
    """Matches queued CLPs again; posts those that match now. Returns how many posted.
    A row's ``may_fallback`` lets patient, date and charge decide: that is tried once,
    and a CLP it does not match keeps the reason for a person to read.
    ``remits``: 835s already read and parsed (payer id and remittance by remit id), kept
    for the caller's next call."""
    conn = ctx.conn
    remits = {} if remits is None else remits
    by_remit: dict[int, list[asyncpg.Record]] = {}
    for row in waiting:
        by_remit.setdefault(row["remit_id"], []).append(row)
    done = 0
    for remit_id, rows in by_remit.items():
        if remit_id not in remits:
            remit = await conn.fetchrow("SELECT payer_id, x12 FROM remits WHERE id = $1", remit_id)
            remits[remit_id] = (remit["payer_id"], parse_835(remit["x12"]))
        payer_id, rem = remits[remit_id]
        clps = [rem.claims[r["claim_index"]] for r in rows]
        matches = await match_claims(
            conn, ctx.meta.tenant, payer_id, clps, [r["may_fallback"] for r in rows]
        )
        tried = [
            (r["id"], m.reason or "unmatched")
            for r, m in zip(rows, matches, strict=True)
            if r["may_fallback"] and m.claim_id is None
        ]
        if tried:
            await conn.execute(
                "UPDATE unmatched u SET looked_alike_at = now(), reason = t.reason"
                " FROM unnest($1::bigint[], $2::text[]) AS t(id, reason) WHERE u.id = t.id",
                *columns(tried),
            )
        items = [
            _Item(r["claim_index"], clp, m.claim_id, m.matched_by or "", r["occurrence"])
            for r, clp, m in zip(rows, clps, matches, strict=True)
            if m.claim_id is not None
        ]
        if not items:
            continue
        await post_claims(ctx, remit_id, payer_id, items)
        await _close_unmatched(conn, remit_id)
        done += len(items)
    return done


async def rematch(svc: Service) -> int:
    """Every few seconds, posts the queued CLPs that may match now:
    - a CLP whose claim became known by CLP01 (the race: an 835 read while the
      claim.submitted naming its claim was being applied in a concurrent transaction);
    - once remittance has applied every claim.submitted the topic held when a CLP's 835
      was read, the CLP is tried once by patient, date and charge: its own claim is
      indexed by then if it ever will be (runtime/positions.py)."""
    assert svc.pool is not None
    done = 0
    async with svc.pool.acquire() as conn, conn.transaction():
        # Each rule is its own condition on its own index: one EXISTS on "this OR that"
        # read every claim of the tenant for each waiting CLP, and with thousands waiting
        # it ran past a minute (docs/performance.md, seventh session). Whether an 835's
        # claim.submitted are read through is asked once per 835, not per CLP (5,000 CLPs
        # of 50 files waiting: 53 ms -> 23 ms, EXPLAIN ANALYZE).
        rows = await conn.fetch(
            "WITH ready AS (SELECT r.id FROM remits r WHERE r.id IN (SELECT remit_id"
            " FROM unmatched WHERE resolved_at IS NULL AND looked_alike_at IS NULL)"
            " AND read_through($1, r.submitted_ends))"
            " SELECT u.id, u.tenant, u.remit_id, u.claim_index, u.payer_id, u.occurrence,"
            " u.looked_alike_at IS NULL AND u.remit_id IN (SELECT id FROM ready) AS may_fallback"
            " FROM unmatched u WHERE u.resolved_at IS NULL AND (EXISTS (SELECT 1"
            " FROM submitted_claims s WHERE s.tenant = u.tenant"
            " AND s.patient_control_number = u.patient_control_number)"
            " OR (u.looked_alike_at IS NULL AND u.remit_id IN (SELECT id FROM ready)))"
            " ORDER BY u.id LIMIT 500 FOR UPDATE OF u SKIP LOCKED",
            ClaimSubmitted.TOPIC,
        )
        by_tenant: dict[str, list[asyncpg.Record]] = {}
        for row in rows:
            by_tenant.setdefault(row["tenant"], []).append(row)
        for tenant, waiting in by_tenant.items():
            ctx = svc.context(conn, tenant=tenant, correlation_id=f"rematch:{waiting[0]['id']}")
            done += await retry_unmatched(ctx, waiting)
    return done


# --- remit.received ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Item:
    index: int  # position in the remit's claims
    clp: RemitClaim
    claim_id: str
    matched_by: str
    occurrence: int


def _occurrences(rem: Remittance) -> list[int]:
    """The n-th time each (trace, CLP01, CLP07, CLP02) appears in the file: part of the key."""
    seen: Counter[tuple[str, str, str, str]] = Counter()
    out = []
    for c in rem.claims:
        key = (c.trace_number, c.patient_control_number, c.payer_claim_number or "", c.status_code)
        out.append(seen[key])
        seen[key] += 1
    return out


async def on_remit(ctx: Context, ev: RemitReceived) -> None:
    conn = ctx.conn
    tenant = ctx.meta.tenant
    sha = hashlib.sha256(ev.x12.encode()).hexdigest()
    try:
        rem = parse_835(ev.x12)
    except X12Error as exc:
        problem = {
            "scope": "file",
            "segment": exc.segment,
            "position": exc.position,
            "message": str(exc),
        }
        await _insert_remit(ctx, ev, sha, "unreadable", [problem], 0)
        return
    discrepancies = balance_discrepancies(rem)
    if discrepancies:
        seen = await conn.fetchval(
            "SELECT 1 FROM remits WHERE tenant = $1 AND payer_id = $2 AND trace_number = $3"
            " AND x12_sha256 = $4 AND status = 'unbalanced' LIMIT 1",
            tenant,
            ev.payer_id,
            ev.trace_number,
            sha,
        )
        # the remittance work queue holds each unbalanced file once, with every discrepancy
        await _insert_remit(
            ctx,
            ev,
            sha,
            "duplicate" if seen else "unbalanced",
            [d.as_json() for d in discrepancies],
            len(rem.claims),
        )
        return
    remit_id = await _insert_remit(ctx, ev, sha, "posted", [], len(rem.claims))
    await _post_plb(conn, tenant, ev.payer_id, remit_id, rem)

    occurrence = _occurrences(rem)
    matches = await match_claims(conn, tenant, ev.payer_id, rem.claims, [False] * len(rem.claims))
    # A CLP no claim we know is named by: patient, date and charge may decide at once if
    # every claim.submitted the topic holds now is applied; else the CLP waits (rematch).
    unknown = [k for k, m in enumerate(matches) if m.claim_id is None]
    ends: list[int] | None = None
    looked_alike = False
    if unknown:
        ends = await ctx.service.topic_ends(ClaimSubmitted.TOPIC)
        if await positions.read_through(conn, ClaimSubmitted.TOPIC, ends):
            looked_alike = True
            again = await match_claims(
                conn, tenant, ev.payer_id, [rem.claims[k] for k in unknown], [True] * len(unknown)
            )
            for k, m in zip(unknown, again, strict=True):
                matches[k] = m
    items: list[_Item] = []
    waiting: list[tuple[int, RemitClaim, Match]] = []
    for k, (clp, m) in enumerate(zip(rem.claims, matches, strict=True)):
        if m.claim_id is None:
            waiting.append((k, clp, m))
        else:
            items.append(_Item(k, clp, m.claim_id, m.matched_by or "", occurrence[k]))
    posted, duplicates = await post_claims(ctx, remit_id, ev.payer_id, items)
    queued = await _queue_unmatched(
        conn, tenant, ev.payer_id, remit_id, waiting, occurrence, looked_alike=looked_alike
    )
    if posted:
        await _close_unmatched(conn, remit_id)
    already = duplicates + (len(waiting) - queued)
    status = "duplicate" if rem.claims and already == len(rem.claims) else "posted"
    await conn.execute(
        "UPDATE remits SET status = $2, posted = $3, duplicates = $4, unmatched = $5,"
        " submitted_ends = $6 WHERE id = $1",
        remit_id,
        status,
        posted,
        duplicates,
        queued,
        ends,
    )


async def _insert_remit(
    ctx: Context,
    ev: RemitReceived,
    sha: str,
    status: str,
    problems: list[dict[str, Any]],
    claims: int,
) -> int:
    remit_id: int = await ctx.conn.fetchval(
        "INSERT INTO remits(tenant, payer_id, trace_number, source, status, problems, x12,"
        " x12_sha256, claims) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9) RETURNING id",
        ctx.meta.tenant,
        ev.payer_id,
        ev.trace_number,
        ev.source,
        status,
        orjson.dumps(problems).decode(),
        ev.x12,
        sha,
        claims,
    )
    return remit_id


async def _post_plb(
    conn: asyncpg.Connection, tenant: str, payer_id: str, remit_id: int, rem: Remittance
) -> None:
    """PLB at provider level, once per (tenant, payer, trace, n-th adjustment of the file)."""
    plbs = rem.provider_adjustments
    if not plbs:
        return
    traces = [rem.payments[p.transaction].trace_number for p in plbs]
    seen: Counter[str] = Counter()
    occ = []
    for t in traces:
        occ.append(seen[t])
        seen[t] += 1
    await conn.execute(
        "INSERT INTO provider_adjustments(remit_id, tenant, payer_id, trace_number, occurrence,"
        " provider_id, fiscal_date, reason, reference, amount_cents)"
        " SELECT $1, $2, $3, * FROM unnest($4::text[], $5::int[], $6::text[], $7::date[],"
        " $8::text[], $9::text[], $10::bigint[]) ON CONFLICT DO NOTHING",
        remit_id,
        tenant,
        payer_id,
        traces,
        occ,
        [p.provider_id for p in plbs],
        [p.fiscal_date for p in plbs],
        [p.reason for p in plbs],
        [p.reference for p in plbs],
        [p.amount.cents for p in plbs],
    )


async def match_claims(
    conn: asyncpg.Connection,
    tenant: str,
    payer_id: str,
    clps: Sequence[RemitClaim],
    fallback: Sequence[bool],
) -> list[Match]:
    """Our claim for each CLP, in three set-based look-ups (CLP01, CLP07, patient/date/amount)."""
    if not clps:
        return []
    pcns = list({c.patient_control_number for c in clps})
    by_pcn = {
        r[0]: r[1]
        for r in await conn.fetch(
            "SELECT patient_control_number, claim_id FROM submitted_claims"
            " WHERE tenant = $1 AND patient_control_number = ANY($2::text[])",
            tenant,
            pcns,
        )
    }
    rest = [
        (c, may)
        for c, may in zip(clps, fallback, strict=True)
        if c.patient_control_number not in by_pcn
    ]
    by_number: dict[str, str] = {}
    by_patient: dict[tuple[str, Any, int], frozenset[str]] = {}
    if rest:
        numbers = list({c.payer_claim_number for c, _ in rest if c.payer_claim_number})
        if numbers:
            by_number = {
                r[0]: r[1]
                for r in await conn.fetch(
                    "SELECT payer_claim_number, claim_id FROM payer_claim_numbers"
                    " WHERE tenant = $1 AND payer_id = $2 AND payer_claim_number = ANY($3::text[])",
                    tenant,
                    payer_id,
                    numbers,
                )
            }
        keys = {
            (k, d, abs(c.charge.cents))
            for c, may in rest
            if may and (c.payer_claim_number or "") not in by_number
            for k, d in [(patient_key(c.patient_last_name, c.patient_first_name), claim_date(c))]
            if k is not None and d is not None
        }
        if keys:
            found: dict[tuple[str, Any, int], set[str]] = {}
            for r in await conn.fetch(
                "SELECT DISTINCT s.patient_key, s.service_date, s.total_charge_cents, s.claim_id"
                " FROM submitted_claims s JOIN unnest($2::text[], $3::date[], $4::bigint[])"
                " AS k(patient_key, service_date, charge)"
                " ON s.patient_key = k.patient_key AND s.service_date = k.service_date"
                " AND s.total_charge_cents = k.charge WHERE s.tenant = $1",
                tenant,
                [k[0] for k in keys],
                [k[1] for k in keys],
                [k[2] for k in keys],
            ):
                found.setdefault((r[0], r[1], r[2]), set()).add(r[3])
            by_patient = {k: frozenset(v) for k, v in found.items()}
    return [
        match(c, by_pcn, by_number, by_patient, fallback=may)
        for c, may in zip(clps, fallback, strict=True)
    ]


async def _queue_unmatched(
    conn: asyncpg.Connection,
    tenant: str,
    payer_id: str,
    remit_id: int,
    waiting: Sequence[tuple[int, RemitClaim, Match]],
    occurrence: Sequence[int],
    *,
    looked_alike: bool,
) -> int:
    """Unmatched CLPs wait in the queue (once per file key). Returns how many are new.
    ``looked_alike``: patient, date and charge were tried already, and are not again."""
    if not waiting:
        return 0
    rows = await conn.fetch(
        "INSERT INTO unmatched(tenant, payer_id, remit_id, looked_alike_at, trace_number,"
        " patient_control_number, payer_claim_number, status_code, occurrence, amount_cents,"
        " charge_cents, reason, claim_index, patient_key, service_date)"
        " SELECT $1, $2, $3, CASE WHEN $4 THEN now() END, * FROM unnest($5::text[],"
        " $6::text[], $7::text[], $8::text[], $9::int[], $10::bigint[], $11::bigint[],"
        " $12::text[], $13::int[], $14::text[], $15::date[]) ON CONFLICT DO NOTHING RETURNING id",
        tenant,
        payer_id,
        remit_id,
        looked_alike,
        [c.trace_number for _, c, _ in waiting],
        [c.patient_control_number for _, c, _ in waiting],
        [c.payer_claim_number or "" for _, c, _ in waiting],
        [c.status_code for _, c, _ in waiting],
        [occurrence[k] for k, _, _ in waiting],
        [c.paid.cents for _, c, _ in waiting],
        [c.charge.cents for _, c, _ in waiting],
        [m.reason or "unmatched" for _, _, m in waiting],
        [k for k, _, _ in waiting],
        [patient_key(c.patient_last_name, c.patient_first_name) for _, c, _ in waiting],
        [claim_date(c) for _, c, _ in waiting],
    )
    return len(rows)


async def _close_unmatched(conn: asyncpg.Connection, remit_id: int) -> None:
    """Queued CLPs whose key has been posted (from this remit) are resolved."""
    await conn.execute(
        "UPDATE unmatched u SET resolved_at = now(), resolved_claim_id = p.claim_id,"
        " posting_id = p.id FROM claim_postings p WHERE p.remit_id = $1"
        " AND u.resolved_at IS NULL AND u.tenant = p.tenant AND u.payer_id = p.payer_id"
        " AND u.trace_number = p.trace_number"
        " AND u.patient_control_number = p.patient_control_number"
        " AND u.payer_claim_number = p.payer_claim_number AND u.status_code = p.status_code"
        " AND u.occurrence = p.occurrence",
        remit_id,
    )


async def post_claims(
    ctx: Context, remit_id: int, payer_id: str, items: Sequence[_Item]
) -> tuple[int, int]:
    """Posts each matched CLP unless its key was posted before. Returns (posted, duplicates).

    A reversal (CLP02 22) references the latest posting of the same claim (same payer
    claim number first) that no reversal has undone yet; its negative amounts undo it.
    """
    if not items:
        return 0, 0
    conn = ctx.conn
    tenant = ctx.meta.tenant
    reverses: dict[int, int] = {}
    reversals = [it for it in items if it.clp.is_reversal]
    if reversals:
        originals = await conn.fetch(
            "SELECT id, claim_id, payer_claim_number FROM claim_postings"
            " WHERE tenant = $1 AND payer_id = $2 AND claim_id = ANY($3::text[])"
            " AND status_code <> '22' AND reversed_by_posting_id IS NULL"
            " ORDER BY id DESC FOR UPDATE",
            tenant,
            payer_id,
            list({it.claim_id for it in reversals}),
        )
        used: set[int] = set()
        for it in reversals:
            candidates = [o for o in originals if o["claim_id"] == it.claim_id]
            same = [
                o
                for o in candidates
                if o["payer_claim_number"] == (it.clp.payer_claim_number or "")
            ]
            pick = next((o["id"] for o in (*same, *candidates) if o["id"] not in used), None)
            if pick is not None:
                used.add(pick)
                reverses[it.index] = pick
    statuses = [status_of(it.clp) for it in items]
    events = [adjudicated(it.clp, payer_id, it.claim_id) for it in items]
    rows = await conn.fetch(
        "INSERT INTO claim_postings(remit_id, tenant, payer_id, trace_number, claim_id,"
        " patient_control_number, payer_claim_number, status_code, occurrence, charge_cents,"
        " paid_cents, patient_responsibility_cents, matched_by, adjudication_status,"
        " denial_category, reverses_posting_id)"
        " SELECT $1, $2, $3, * FROM unnest($4::text[], $5::text[], $6::text[], $7::text[],"
        " $8::text[], $9::int[], $10::bigint[], $11::bigint[], $12::bigint[], $13::text[],"
        " $14::text[], $15::text[], $16::bigint[])"
        " ON CONFLICT DO NOTHING RETURNING id, trace_number, patient_control_number,"
        " payer_claim_number, status_code, occurrence",
        remit_id,
        tenant,
        payer_id,
        [it.clp.trace_number for it in items],
        [it.claim_id for it in items],
        [it.clp.patient_control_number for it in items],
        [it.clp.payer_claim_number or "" for it in items],
        [it.clp.status_code for it in items],
        [it.occurrence for it in items],
        [it.clp.charge.cents for it in items],
        [it.clp.paid.cents for it in items],
        [it.clp.patient_responsibility_cents for it in items],
        [it.matched_by for it in items],
        [s.value for s in statuses],
        [e.denial_category for e in events],
        [reverses.get(it.index) for it in items],
    )
    if not rows:
        return 0, len(items)
    ids = {
        (r[1], r[2], r[3], r[4], r[5]): r[0]  # trace, CLP01, CLP07, CLP02, occurrence
        for r in rows
    }
    fees: dict[str, int] = {
        r[0]: r[1]
        for r in await conn.fetch(
            "SELECT procedure_code, allowed_cents FROM contracts WHERE payer_id = $1", payer_id
        )
    }
    ledger: list[tuple[object, ...]] = []
    denied: list[tuple[object, ...]] = []
    underpaid: list[tuple[object, ...]] = []
    undone: list[tuple[int, int]] = []
    learned: list[tuple[str, str]] = []
    emit = []
    for it, ev in zip(items, events, strict=True):
        clp = it.clp
        key = (
            clp.trace_number,
            clp.patient_control_number,
            clp.payer_claim_number or "",
            clp.status_code,
            it.occurrence,
        )
        posting_id = ids.get(key)
        if posting_id is None:
            continue  # posted before: this delivery changes nothing
        claim_id = it.claim_id
        ledger.extend(
            (posting_id, claim_id, r.line_number, r.procedure, r.kind, r.group, r.reason,
             r.amount_cents, r.category)
            for r in ledger_rows(clp)
        )  # fmt: skip
        denied.extend(
            (posting_id, tenant, claim_id, payer_id, d.line_number, d.procedure, d.group,
             d.reason, d.amount_cents, d.category, list(d.remarks))
            for d in denials(clp)
        )  # fmt: skip
        if fees:
            underpaid.extend(
                (posting_id, tenant, claim_id, payer_id, u.line_number, u.procedure, u.units,
                 u.allowed_cents, u.contracted_cents, u.shortfall_cents)
                for u in underpayments(clp, fees)
            )  # fmt: skip
        if it.index in reverses:
            undone.append((reverses[it.index], posting_id))
        if clp.payer_claim_number and not clp.is_reversal:
            learned.append((clp.payer_claim_number, claim_id or ""))
        emit.append((ev, claim_id))
    await conn.copy_records_to_table("ledger_lines", records=ledger, columns=_LEDGER_COLUMNS)
    if denied:
        await conn.copy_records_to_table("denials", records=denied, columns=_DENIAL_COLUMNS)
    if underpaid:
        await conn.copy_records_to_table(
            "underpayments", records=underpaid, columns=_UNDERPAID_COLUMNS
        )
    if undone:
        await conn.execute(
            "UPDATE claim_postings p SET reversed_by_posting_id = u.by FROM"
            " unnest($1::bigint[], $2::bigint[]) AS u(id, by) WHERE p.id = u.id",
            [u[0] for u in undone],
            [u[1] for u in undone],
        )
    if learned:
        await conn.execute(
            "INSERT INTO payer_claim_numbers(tenant, payer_id, payer_claim_number, claim_id)"
            " SELECT $1, $2, * FROM unnest($3::text[], $4::text[]) ON CONFLICT DO NOTHING",
            tenant,
            payer_id,
            [x[0] for x in learned],
            [x[1] for x in learned],
        )
    traces = {
        r[0]: r[1]
        for r in await conn.fetch(
            "SELECT DISTINCT ON (claim_id) claim_id, traceparent FROM submitted_claims"
            " WHERE tenant = $1 AND claim_id = ANY($2::text[])"
            " ORDER BY claim_id, submitted_at DESC",
            tenant,
            list({c for _, c in emit}),
        )
    }
    await ctx.emit_many([(ev, claim_id, traces.get(claim_id)) for ev, claim_id in emit])
    return len(emit), len(items) - len(emit)
