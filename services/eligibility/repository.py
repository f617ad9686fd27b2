"""Every SQL statement of the eligibility service: the coverage registry (with history),
the queue of checks waiting for the payer, the exchanges (every 270 and 271 as sent and
received) and the decisions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import asyncpg
import orjson

from runtime.db import columns
from runtime.service import Context
from schemas.common import Coverage

#: The columns of a coverage that make it a new version when any of them changes.
_VERSIONED = (
    "payer_name",
    "group_number",
    "plan",
    "priority",
    "relationship",
    "subscriber_id",
    "effective_date",
    "termination_date",
)
#: The columns a Coverage is read back from.
_READ = (
    "payer_id",
    "payer_name",
    "member_id",
    "group_number",
    "plan",
    "priority",
    "relationship",
    "effective_date",
    "termination_date",
)


class Registry:
    """The coverages on record for some patients, with history: read in one query,
    changed in memory in arrival order (so each encounter sees the registry as it stood
    after its own coverages), written back with two statements (:meth:`flush`).

    A change closes the current row and adds a new one; the same coverage again changes
    nothing. A version that a later one replaces within the same flush is kept as
    history too (written already closed)."""

    def __init__(self, rows: Iterable[asyncpg.Record]) -> None:
        self._current: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = {}
        for r in rows:
            row = dict(r)
            self._patient(row["tenant"], row["patient_id"])[(row["payer_id"], row["member_id"])] = (
                row
            )
        self._close: list[int] = []
        self._new: list[dict[str, Any]] = []

    @classmethod
    async def load(cls, conn: asyncpg.Connection, patients: Iterable[tuple[str, str]]) -> Registry:
        keys = sorted(set(patients))
        return cls(
            await conn.fetch(
                "SELECT * FROM coverages WHERE valid_to IS NULL AND (tenant, patient_id) IN"
                " (SELECT * FROM unnest($1::text[], $2::text[]))",
                [t for t, _ in keys],
                [p for _, p in keys],
            )
        )

    def _patient(self, tenant: str, patient_id: str) -> dict[tuple[str, str], dict[str, Any]]:
        return self._current.setdefault((tenant, patient_id), {})

    def record(self, tenant: str, patient_id: str, c: Coverage, *, source: str) -> bool:
        """Records one coverage; True if it is new or changed."""
        row: dict[str, Any] = {
            "tenant": tenant,
            "patient_id": patient_id,
            "payer_id": c.payer_id,
            "payer_name": c.payer_name,
            "member_id": c.member_id,
            "group_number": c.group_number,
            "plan": c.plan,
            "priority": c.priority,
            "relationship": c.relationship.value,
            "subscriber_id": c.subscriber.id if c.subscriber else None,
            "effective_date": c.effective_date,
            "termination_date": c.termination_date,
            "source": source,
            "valid_to_now": False,
        }
        mine = self._patient(tenant, patient_id)
        current = mine.get((c.payer_id, c.member_id))
        if current is not None:
            if all(current[k] == row[k] for k in _VERSIONED):
                return False
            if "id" in current:
                self._close.append(current["id"])
            else:  # added earlier in this flush: kept as history, closed
                current["valid_to_now"] = True
        mine[(c.payer_id, c.member_id)] = row
        self._new.append(row)
        return True

    def on_file(self, tenant: str, patient_id: str) -> list[Coverage]:
        """The patient's current coverages, by priority."""
        rows = sorted(self._patient(tenant, patient_id).values(), key=lambda r: r["priority"])
        return [Coverage.model_validate({k: r[k] for k in _READ}) for r in rows]

    async def flush(self, conn: asyncpg.Connection) -> None:
        if self._close:
            await conn.execute(
                "UPDATE coverages SET valid_to = now() WHERE id = ANY($1::bigint[])", self._close
            )
        if self._new:
            cols = (*_READ, "tenant", "patient_id", "subscriber_id", "source", "valid_to_now")
            await conn.execute(
                "INSERT INTO coverages(payer_id, payer_name, member_id, group_number, plan,"
                " priority, relationship, effective_date, termination_date, tenant, patient_id,"
                " subscriber_id, source, valid_to)"
                " SELECT a, b, c, d, e, f, g, h, i, j, k, l, m, CASE WHEN n THEN now() END"
                " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
                " $6::smallint[], $7::text[], $8::date[], $9::date[], $10::text[], $11::text[],"
                " $12::text[], $13::text[], $14::boolean[])"
                " WITH ORDINALITY AS r(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o) ORDER BY o",
                *columns(tuple(r[k] for k in cols) for r in self._new),
            )
        self._close, self._new = [], []


async def record_coverage(
    conn: asyncpg.Connection, tenant: str, patient_id: str, c: Coverage, *, source: str
) -> bool:
    """Records one coverage with history. Returns True if anything was written."""
    registry = await Registry.load(conn, [(tenant, patient_id)])
    changed = registry.record(tenant, patient_id, c, source=source)
    await registry.flush(conn)
    return changed


class Queued(NamedTuple):
    """A check for the payer's queue (``pending_checks``, with its ``eligibility_checks``
    row saying "pending"), as statement parameters in column order."""

    claim_id: str
    tenant: str
    encounter: str
    cause: str
    traceparent: str | None
    payer_id: str
    encounter_id: str
    reasons: str


async def queue_checks(conn: asyncpg.Connection, checks: Iterable[Queued]) -> None:
    """Puts checks on the payer's queue, each due now; a claim queued before starts over."""
    await conn.execute(
        "WITH e AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
        "   $5::text[], $6::text[], $7::text[], $8::text[])"
        "   AS e(claim_id, tenant, encounter, cause, traceparent, payer_id, encounter_id,"
        "   reasons)),"
        " p AS (INSERT INTO pending_checks(claim_id, tenant, encounter, cause,"
        " traceparent, payer_id) SELECT claim_id, tenant, encounter::json, cause,"
        " traceparent, payer_id FROM e"
        " ON CONFLICT (claim_id) DO UPDATE SET encounter=EXCLUDED.encounter,"
        " cause=EXCLUDED.cause, traceparent=EXCLUDED.traceparent,"
        " payer_id=EXCLUDED.payer_id, state='pending', attempts=0, next_at=now(),"
        " last_error=NULL, done_at=NULL)"
        " INSERT INTO eligibility_checks(claim_id, tenant, encounter_id, outcome, payer_id,"
        " reasons) SELECT claim_id, tenant, encounter_id, 'pending', payer_id, reasons::jsonb"
        " FROM e"
        " ON CONFLICT (claim_id) DO UPDATE SET outcome='pending',"
        " payer_id=EXCLUDED.payer_id, reasons=EXCLUDED.reasons, benefits=NULL,"
        " exchange_id=NULL, checked_at=now()",
        *columns(checks),
    )


class Exchange(NamedTuple):
    """A row of ``exchanges``, as statement parameters in column order. They had gone as
    one jsonb document that PostgreSQL parsed only to take the fields out again."""

    payer_id: str
    member_id: str
    patient_id: str
    date_of_service: dt.date
    trace: str
    request_x12: str
    response_x12: str | None
    outcome: str
    problem: str | None
    reusable: bool
    elapsed_ms: float | None


_NO_EXCHANGE: tuple[None, ...] = (None,) * len(Exchange._fields)


async def record_decision(
    ctx: Context,
    claim_id: str,
    tenant: str,
    encounter_id: str,
    kind: str,
    payer: str | None,
    reasons: list[object],
    *,
    benefits: list[object] | None = None,
    secondary: str | None = None,
    exchange_id: int | None = None,
    exchange: Exchange | None = None,
    done: bool = False,
) -> None:
    """The decision, its exchange and the pending check closed: one statement, deferred
    (a batch of answers goes as one executemany). A closed check leaves the queue: the
    decision is in eligibility_checks and every attempt in exchanges, and the queue
    does not keep each encounter's document (PHI) after its check is decided."""
    await ctx.defer(
        "WITH x AS (INSERT INTO exchanges(claim_id, tenant, payer_id, member_id, patient_id,"
        "   date_of_service, trace, request_x12, response_x12, outcome, problem, reusable,"
        "   elapsed_ms)"
        "  SELECT $1, $2, $12, $13, $14, $15::date, $16, $17, $18, $19, $20, $21::boolean,"
        "   $22::float8 WHERE $10::boolean RETURNING id),"
        " d AS (DELETE FROM pending_checks WHERE claim_id=$1 AND $11::boolean RETURNING 1)"
        " INSERT INTO eligibility_checks(claim_id, tenant, encounter_id, outcome, payer_id,"
        " reasons, benefits, secondary_payer_id, exchange_id)"
        " VALUES ($1,$2,$3,$4,$5,$6::jsonb,$7::json,$8,coalesce((SELECT id FROM x), $9))"
        " ON CONFLICT (claim_id) DO UPDATE SET outcome=EXCLUDED.outcome,"
        " payer_id=EXCLUDED.payer_id, reasons=EXCLUDED.reasons, benefits=EXCLUDED.benefits,"
        " secondary_payer_id=EXCLUDED.secondary_payer_id, exchange_id=EXCLUDED.exchange_id,"
        " checked_at=now()",
        claim_id,
        tenant,
        encounter_id,
        kind,
        payer,
        orjson.dumps(reasons).decode(),
        orjson.dumps(benefits).decode() if benefits is not None else None,
        secondary,
        exchange_id,
        exchange is not None,
        done,
        *(exchange or _NO_EXCHANGE),
        key=claim_id,
    )


#: Seconds until the soonest pending check (a retry) falls due; None: nothing pending. A
#: check already due is left out (another instance is asking it): it must not hide the
#: retries due after it.
NEXT_DUE = (
    "SELECT extract(epoch FROM min(next_at) - now()) FROM pending_checks"
    " WHERE state='pending' AND next_at > now()"
)


async def claim_due_checks(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Checks due now (claim_id, tenant, encounter, cause, traceparent, attempts), claimed
    with FOR UPDATE SKIP LOCKED so several instances share the work."""
    return list(
        await conn.fetch(
            "SELECT claim_id, tenant, encounter, cause, traceparent, attempts FROM pending_checks"
            " WHERE state='pending' AND next_at <= now() ORDER BY next_at LIMIT $1"
            " FOR UPDATE SKIP LOCKED",
            limit,
        )
    )


async def coverages_on_file(
    conn: asyncpg.Connection, patients: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], list[Coverage]]:
    """The current coverages of these (tenant, patient) pairs, by priority."""
    on_file: dict[tuple[str, str], list[Coverage]] = {}
    for c in await conn.fetch(
        "SELECT tenant, patient_id, payer_id, payer_name, member_id, group_number, plan,"
        " priority, relationship, effective_date, termination_date FROM coverages"
        " WHERE valid_to IS NULL AND (tenant, patient_id) IN"
        " (SELECT * FROM unnest($1::text[], $2::text[])) ORDER BY priority",
        [t for t, _ in patients],
        [p for _, p in patients],
    ):
        fields = dict(c)
        key = (fields.pop("tenant"), fields.pop("patient_id"))
        on_file.setdefault(key, []).append(Coverage.model_validate(fields))
    return on_file


class ReuseKey(NamedTuple):
    """Whose 271 a check could reuse."""

    tenant: str
    payer_id: str
    member_id: str
    patient_id: str
    date_of_service: dt.date


async def reusable_271s(
    conn: asyncpg.Connection, keys: Sequence[ReuseKey], within_s: float
) -> dict[int, asyncpg.Record]:
    """The latest reusable exchange (id, trace, response_x12) of at most ``within_s``
    seconds ago for each key that has one, by the key's index."""
    found = await conn.fetch(
        "SELECT DISTINCT ON (k.i) k.i, x.id, x.trace, x.response_x12"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[])"
        "   WITH ORDINALITY AS k(tenant, payer_id, member_id, patient_id, dos, i)"
        " JOIN exchanges x ON x.reusable AND x.tenant=k.tenant AND x.payer_id=k.payer_id"
        "   AND x.member_id=k.member_id AND x.patient_id=k.patient_id"
        "   AND x.date_of_service=k.dos AND x.at > now() - make_interval(secs => $6)"
        " ORDER BY k.i, x.at DESC",
        *columns(keys),
        within_s,
    )
    return {f["i"] - 1: f for f in found}


async def inquiry_control_numbers(conn: asyncpg.Connection, n: int) -> list[int]:
    return [
        int(r[0])
        for r in await conn.fetch(
            "SELECT nextval('inquiry_control') FROM generate_series(1, $1)", n
        )
    ]


async def defer_retry(
    ctx: Context,
    claim_id: str,
    tenant: str,
    attempts: int,
    why: str,
    backoff_s: float,
    tried: Exchange,
) -> None:
    """The attempt kept in ``exchanges`` and the check asked again in ``backoff_s``:
    deferred to the end of the run."""
    await ctx.defer(
        "WITH x AS (INSERT INTO exchanges(claim_id, tenant, payer_id, member_id, patient_id,"
        "   date_of_service, trace, request_x12, response_x12, outcome, problem, reusable,"
        "   elapsed_ms)"
        "  VALUES ($1, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16))"
        " UPDATE pending_checks SET attempts=$2, last_error=$3,"
        " next_at=now() + make_interval(secs => $4) WHERE claim_id=$1",
        claim_id,
        attempts,
        why[:500],
        backoff_s,
        tenant,
        *tried,
        key=claim_id,
    )


async def without_realtime_270(
    conn: asyncpg.Connection, schema: str, pairs: Iterable[tuple[str, str]]
) -> set[tuple[str, str]]:
    """The (tenant, payer id) pairs the tenant's payer directory (the claims room's view
    ``<schema>.payer_v1``, docs/views.md) says answer no real-time 270. Where the view
    is not there (claims not migrated here), or a payer not in it: none."""
    wanted = sorted(set(pairs))
    if not wanted or not await conn.fetchval("SELECT to_regclass($1)", f"{schema}.payer_v1"):
        return set()
    rows = await conn.fetch(
        f"SELECT tenant, payer_id FROM {schema}.payer_v1"
        " WHERE (tenant, payer_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))"
        " AND NOT realtime_270",
        [t for t, _ in wanted],
        [p for _, p in wanted],
    )
    return {(r["tenant"], r["payer_id"]) for r in rows}


# --- the front desk's benefit checks (frontdesk.py) ----------------------------------


async def queue_benefit_check(
    conn: asyncpg.Connection, tenant: str, check_id: str, request: str, row: dict[str, Any]
) -> None:
    """The question, once per (tenant, check id): a redelivered request is no new check."""
    await conn.execute(
        "INSERT INTO benefit_checks(check_id, tenant, request, patient_id, payer_id,"
        " date_of_service, requested_by, state, problem, answered_at)"
        " VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9,"
        "  CASE WHEN $8 = 'pending' THEN NULL ELSE now() END)"
        " ON CONFLICT (tenant, check_id) DO NOTHING",
        check_id,
        tenant,
        request,
        row["patient_id"],
        row["payer_id"],
        row["date_of_service"],
        row["requested_by"],
        row["state"],
        row["problem"],
    )


async def due_benefit_checks(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Checks to ask the payer about now, claimed (FOR UPDATE SKIP LOCKED)."""
    return list(
        await conn.fetch(
            "SELECT tenant, check_id, request, attempts FROM benefit_checks"
            " WHERE state = 'pending' AND next_at <= now() ORDER BY next_at LIMIT $1"
            " FOR UPDATE SKIP LOCKED",
            limit,
        )
    )


async def record_benefit_answer(
    conn: asyncpg.Connection, tenant: str, check_id: str, answer: dict[str, Any]
) -> None:
    """What became of one attempt: answered or failed (with the figures, the 270 and the
    271), or asked again after ``retry_s``."""
    await conn.execute(
        "UPDATE benefit_checks SET state = $3, active = $4, copay_cents = $5,"
        " deductible_remaining_cents = $6, coinsurance_percent = $7,"
        " out_of_pocket_remaining_cents = $8, problem = $9, request_x12 = $10,"
        " response_x12 = $11, attempts = attempts + 1,"
        " next_at = now() + make_interval(secs => $12),"
        " answered_at = CASE WHEN $3 = 'pending' THEN NULL ELSE now() END"
        " WHERE tenant = $1 AND check_id = $2",
        tenant,
        check_id,
        answer["state"],
        answer.get("active"),
        answer.get("copay_cents"),
        answer.get("deductible_remaining_cents"),
        answer.get("coinsurance_percent"),
        answer.get("out_of_pocket_remaining_cents"),
        answer.get("problem"),
        answer.get("request_x12"),
        answer.get("response_x12"),
        float(answer.get("retry_s", 0.0)),
    )
