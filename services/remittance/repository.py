"""Every SQL statement of the remittance service (schema ``remittance``).

Writes for one 835 are set-based (unnest inserts, COPY), so that a file of thousands of
claims posts in a handful of round trips.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import asyncpg
import orjson

from runtime.db import columns
from services.remittance.domain.matching import Match, PatientDateCharge, claim_date, patient_key
from services.remittance.domain.posting import (
    DenialRow,
    LedgerLine,
    Matched,
    Original,
    PostingKey,
    PostingRows,
    UnderpaidRow,
)
from services.remittance.x12_835.model import Plb, RemitClaim

# --- submitted claims ------------------------------------------------------------------


async def tenants_of(conn: asyncpg.Connection, pcns: Sequence[str]) -> set[str]:
    """The tenants that submitted claims under these CLM01s."""
    rows = await conn.fetch(
        "SELECT DISTINCT tenant FROM submitted_claims"
        " WHERE patient_control_number = ANY($1::text[])",
        list(pcns),
    )
    return {r["tenant"] for r in rows}


async def index_submitted(conn: asyncpg.Connection, rows: Collection[tuple[Any, ...]]) -> None:
    """Upserts (tenant, CLP01, claim id, payer, frequency, charge, patient key, service
    date, traceparent) rows; a patient key or date not read this time keeps the old one."""
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
        *columns(rows),
    )


async def claims_by_pcn(conn: asyncpg.Connection, tenant: str, pcns: list[str]) -> dict[str, str]:
    return {
        r[0]: r[1]
        for r in await conn.fetch(
            "SELECT patient_control_number, claim_id FROM submitted_claims"
            " WHERE tenant = $1 AND patient_control_number = ANY($2::text[])",
            tenant,
            pcns,
        )
    }


async def claims_by_payer_number(
    conn: asyncpg.Connection, tenant: str, payer_id: str, numbers: list[str]
) -> dict[str, str]:
    return {
        r[0]: r[1]
        for r in await conn.fetch(
            "SELECT payer_claim_number, claim_id FROM payer_claim_numbers"
            " WHERE tenant = $1 AND payer_id = $2 AND payer_claim_number = ANY($3::text[])",
            tenant,
            payer_id,
            numbers,
        )
    }


async def claims_by_patient(
    conn: asyncpg.Connection, tenant: str, keys: Collection[PatientDateCharge]
) -> dict[PatientDateCharge, frozenset[str]]:
    """Every claim with each patient key, service date and total charge."""
    found: dict[PatientDateCharge, set[str]] = {}
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
    return {k: frozenset(v) for k, v in found.items()}


async def traceparents(
    conn: asyncpg.Connection, tenant: str, claim_ids: list[str]
) -> dict[str, str | None]:
    """Each claim's latest claim.submitted trace context: its adjudication continues it."""
    return {
        r[0]: r[1]
        for r in await conn.fetch(
            "SELECT DISTINCT ON (claim_id) claim_id, traceparent FROM submitted_claims"
            " WHERE tenant = $1 AND claim_id = ANY($2::text[])"
            " ORDER BY claim_id, submitted_at DESC",
            tenant,
            claim_ids,
        )
    }


# --- remits ----------------------------------------------------------------------------


async def insert_remit(
    conn: asyncpg.Connection,
    tenant: str,
    payer_id: str,
    trace_number: str,
    source: str,
    x12: str,
    sha: str,
    status: str,
    problems: list[dict[str, Any]],
    claims: int,
    warnings: list[dict[str, Any]] | None = None,
) -> int:
    remit_id: int = await conn.fetchval(
        "INSERT INTO remits(tenant, payer_id, trace_number, source, status, problems, x12,"
        " x12_sha256, claims, warnings)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10::jsonb) RETURNING id",
        tenant,
        payer_id,
        trace_number,
        source,
        status,
        orjson.dumps(problems).decode(),
        x12,
        sha,
        claims,
        orjson.dumps(warnings or []).decode(),
    )
    return remit_id


async def unbalanced_before(
    conn: asyncpg.Connection,
    tenant: str,
    payer_id: str,
    trace_number: str,
    sha: str,
    status: str = "unbalanced",
) -> bool:
    """Whether this very file waits in the work queue already (as unbalanced, or as
    ``status``)."""
    seen = await conn.fetchval(
        "SELECT 1 FROM remits WHERE tenant = $1 AND payer_id = $2 AND trace_number = $3"
        " AND x12_sha256 = $4 AND status = $5 LIMIT 1",
        tenant,
        payer_id,
        trace_number,
        sha,
        status,
    )
    return bool(seen)


async def traces_posted(
    conn: asyncpg.Connection, tenant: str, payer_id: str, traces: list[str]
) -> dict[str, tuple[str, int]]:
    """For each of ``traces`` posted before: the digest of what its file stated, and
    that file's remit id."""
    rows = await conn.fetch(
        "SELECT trace_number, digest, remit_id FROM remit_traces"
        " WHERE tenant = $1 AND payer_id = $2 AND trace_number = ANY($3::text[])",
        tenant,
        payer_id,
        traces,
    )
    return {r["trace_number"]: (r["digest"], r["remit_id"]) for r in rows}


async def record_traces(
    conn: asyncpg.Connection, tenant: str, payer_id: str, remit_id: int, digests: dict[str, str]
) -> None:
    """The traces a file posts, each with the digest of what the file stated of it."""
    if digests:
        await conn.execute(
            "INSERT INTO remit_traces(tenant, payer_id, trace_number, digest, remit_id)"
            " SELECT $1, $2, t, d, $3 FROM unnest($4::text[], $5::text[]) AS u(t, d)"
            " ON CONFLICT DO NOTHING",
            tenant,
            payer_id,
            remit_id,
            list(digests),
            list(digests.values()),
        )


async def finish_remit(
    conn: asyncpg.Connection,
    remit_id: int,
    status: str,
    posted: int,
    duplicates: int,
    unmatched: int,
    submitted_ends: list[int] | None,
) -> None:
    await conn.execute(
        "UPDATE remits SET status = $2, posted = $3, duplicates = $4, unmatched = $5,"
        " submitted_ends = $6 WHERE id = $1",
        remit_id,
        status,
        posted,
        duplicates,
        unmatched,
        submitted_ends,
    )


async def remit_text(conn: asyncpg.Connection, remit_id: int) -> tuple[str, str]:
    """An 835's payer id and X12 text."""
    remit = await conn.fetchrow("SELECT payer_id, x12 FROM remits WHERE id = $1", remit_id)
    return remit["payer_id"], remit["x12"]


async def insert_plbs(
    conn: asyncpg.Connection,
    tenant: str,
    payer_id: str,
    remit_id: int,
    plbs: Sequence[Plb],
    traces: list[str],
    occurrences: list[int],
) -> None:
    """PLB adjustments, once per (tenant, payer, trace, n-th adjustment of the file)."""
    await conn.execute(
        "INSERT INTO provider_adjustments(remit_id, tenant, payer_id, trace_number, occurrence,"
        " provider_id, fiscal_date, reason, reference, amount_cents)"
        " SELECT $1, $2, $3, * FROM unnest($4::text[], $5::int[], $6::text[], $7::date[],"
        " $8::text[], $9::text[], $10::bigint[]) ON CONFLICT DO NOTHING",
        remit_id,
        tenant,
        payer_id,
        traces,
        occurrences,
        [p.provider_id for p in plbs],
        [p.fiscal_date for p in plbs],
        [p.reason for p in plbs],
        [p.reference for p in plbs],
        [p.amount.cents for p in plbs],
    )


# --- the unmatched work queue ------------------------------------------------------------


async def queue_unmatched(
    conn: asyncpg.Connection,
    tenant: str,
    payer_id: str,
    remit_id: int,
    waiting: Sequence[tuple[int, RemitClaim, Match]],
    occurrence: Mapping[int, int] | Sequence[int],
) -> int:
    """Queues (index in the remit, CLP, why it did not match) once per file key; returns
    how many are new. Patient, date and charge are tried later (waiting_to_rematch)."""
    rows = await conn.fetch(
        "INSERT INTO unmatched(tenant, payer_id, remit_id, trace_number,"
        " patient_control_number, payer_claim_number, status_code, occurrence, amount_cents,"
        " charge_cents, reason, claim_index, patient_key, service_date)"
        " SELECT $1, $2, $3, * FROM unnest($4::text[],"
        " $5::text[], $6::text[], $7::text[], $8::int[], $9::bigint[], $10::bigint[],"
        " $11::text[], $12::int[], $13::text[], $14::date[]) ON CONFLICT DO NOTHING RETURNING id",
        tenant,
        payer_id,
        remit_id,
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


async def close_unmatched(conn: asyncpg.Connection, remit_id: int) -> None:
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


async def first_claim_waited_for(
    conn: asyncpg.Connection, tenants: list[str], pcns: list[str]
) -> dict[int, int]:
    """Each waiting CLP named by one of the (tenant, CLP01) pairs: the 1-based place of the
    first pair naming it."""
    return dict(
        await conn.fetch(
            "SELECT u.id, min(k.i) FROM unnest($1::text[], $2::text[]) WITH ORDINALITY"
            " AS k(tenant, pcn, i) JOIN unmatched u ON u.resolved_at IS NULL"
            " AND u.tenant = k.tenant AND u.patient_control_number = k.pcn GROUP BY u.id",
            tenants,
            pcns,
        )
    )


async def lock_waiting(conn: asyncpg.Connection, ids: list[int]) -> list[asyncpg.Record]:
    """The still-waiting CLPs of ``ids``, locked; not to be matched by look-alike."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, remit_id, claim_index, payer_id, occurrence, false AS may_fallback"
        " FROM unmatched WHERE id = ANY($1::bigint[]) AND resolved_at IS NULL"
        " ORDER BY id FOR UPDATE",
        ids,
    )
    return rows


async def waiting_to_rematch(
    conn: asyncpg.Connection, topic: str, look_alike_after_s: float
) -> list[asyncpg.Record]:
    """Up to 500 waiting CLPs that may match now, locked (others' locks skipped): those
    whose CLP01 became known, and those not yet tried by look-alike whose 835's
    claim.submitted (``topic``) are all applied and that have waited
    ``look_alike_after_s`` (``may_fallback``)."""
    # Each rule is its own condition on its own index: one EXISTS on "this OR that"
    # read every claim of the tenant for each waiting CLP, and with thousands waiting
    # it ran past a minute (docs/performance.md, seventh session). Whether an 835's
    # claim.submitted are read through is asked once per 835, not per CLP (5,000 CLPs
    # of 50 files waiting: 53 ms -> 23 ms, EXPLAIN ANALYZE).
    rows: list[asyncpg.Record] = await conn.fetch(
        "WITH ready AS (SELECT r.id FROM remits r WHERE r.id IN (SELECT remit_id"
        " FROM unmatched WHERE resolved_at IS NULL AND looked_alike_at IS NULL)"
        " AND read_through($1, r.submitted_ends))"
        " SELECT u.id, u.tenant, u.remit_id, u.claim_index, u.payer_id, u.occurrence,"
        " u.looked_alike_at IS NULL AND u.remit_id IN (SELECT id FROM ready)"
        " AND u.received_at < now() - make_interval(secs => $2) AS may_fallback"
        " FROM unmatched u WHERE u.resolved_at IS NULL AND (EXISTS (SELECT 1"
        " FROM submitted_claims s WHERE s.tenant = u.tenant"
        " AND s.patient_control_number = u.patient_control_number)"
        " OR (u.looked_alike_at IS NULL AND u.remit_id IN (SELECT id FROM ready)"
        " AND u.received_at < now() - make_interval(secs => $2)))"
        " ORDER BY u.id LIMIT 500 FOR UPDATE OF u SKIP LOCKED",
        topic,
        look_alike_after_s,
    )
    return rows


async def mark_looked_alike(conn: asyncpg.Connection, tried: list[tuple[int, str]]) -> None:
    """(queue id, reason): look-alike matching was tried and did not decide."""
    await conn.execute(
        "UPDATE unmatched u SET looked_alike_at = now(), reason = t.reason"
        " FROM unnest($1::bigint[], $2::text[]) AS t(id, reason) WHERE u.id = t.id",
        *columns(tried),
    )


# --- postings ------------------------------------------------------------------------------


async def reversible_postings(
    conn: asyncpg.Connection, tenant: str, payer_id: str, claim_ids: list[str]
) -> list[Original]:
    """The claims' postings no reversal has undone, newest first, locked."""
    rows = await conn.fetch(
        "SELECT id, claim_id, payer_claim_number FROM claim_postings"
        " WHERE tenant = $1 AND payer_id = $2 AND claim_id = ANY($3::text[])"
        " AND status_code <> '22' AND reversed_by_posting_id IS NULL"
        " ORDER BY id DESC FOR UPDATE",
        tenant,
        payer_id,
        claim_ids,
    )
    return [Original(r[0], r[1], r[2]) for r in rows]


async def prior_paid(
    conn: asyncpg.Connection, tenant: str, payer_id: str, claim_ids: list[str]
) -> dict[str, dict[int, int]]:
    """What the claims' other payers paid on each line (their reversals netted): the
    prior payers a later payer's answer is checked against."""
    rows = await conn.fetch(
        "SELECT l.claim_id, l.line_number, -sum(l.amount_cents) AS paid FROM ledger_lines l"
        " JOIN claim_postings p ON p.id = l.posting_id WHERE p.tenant = $1"
        " AND p.payer_id <> $2 AND l.claim_id = ANY($3::text[]) AND l.kind = 'payment'"
        " AND l.line_number > 0 GROUP BY l.claim_id, l.line_number",
        tenant,
        payer_id,
        claim_ids,
    )
    out: dict[str, dict[int, int]] = {}
    for r in rows:
        out.setdefault(r["claim_id"], {})[r["line_number"]] = int(r["paid"])
    return out


async def insert_postings(
    conn: asyncpg.Connection,
    remit_id: int,
    tenant: str,
    payer_id: str,
    items: Sequence[Matched],
    statuses: list[str],
    denial_categories: list[str | None],
    reverses: dict[int, int],
) -> dict[PostingKey, int]:
    """One posting per CLP whose key was not posted before: the new postings' ids by key."""
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
        statuses,
        denial_categories,
        [reverses.get(it.index) for it in items],
    )
    return {(r[1], r[2], r[3], r[4], r[5]): r[0] for r in rows}


async def write_posting_rows(conn: asyncpg.Connection, rows: PostingRows) -> None:
    """The posted claims' ledger lines, denials and underpayments (COPY), the postings
    their reversals undid, and the payer claim numbers learned."""
    await conn.copy_records_to_table(
        "ledger_lines", records=rows.ledger, columns=LedgerLine._fields
    )
    if rows.denied:
        await conn.copy_records_to_table("denials", records=rows.denied, columns=DenialRow._fields)
    if rows.underpaid:
        await conn.copy_records_to_table(
            "underpayments", records=rows.underpaid, columns=UnderpaidRow._fields
        )
    if rows.undone:
        await conn.execute(
            "UPDATE claim_postings p SET reversed_by_posting_id = u.by FROM"
            " unnest($1::bigint[], $2::bigint[]) AS u(id, by) WHERE p.id = u.id",
            [u[0] for u in rows.undone],
            [u[1] for u in rows.undone],
        )
    if rows.learned:
        await conn.execute(
            "INSERT INTO payer_claim_numbers(tenant, payer_id, payer_claim_number, claim_id)"
            " SELECT $1, $2, * FROM unnest($3::text[], $4::text[]) ON CONFLICT DO NOTHING",
            rows.tenant,
            rows.payer_id,
            [x[0] for x in rows.learned],
            [x[1] for x in rows.learned],
        )
