"""Eligibility handlers: record coverages, verify with the payer, emit.

encounter.created -> coverages recorded (with history) -> the registry settles self-pay
and coverage it knows is not in force at once; coverage it records as in force is put
in ``pending_checks`` in the same transaction, and the handler returns: the Kafka
partition never waits on a payer.

A timer (:meth:`Eligibility.verify_due`) claims due checks with FOR UPDATE SKIP LOCKED
(so several instances share the work and a check is never asked twice at once),
reuses a recent 271 for the same member, payer, patient and date when there is one
(``RCM_ELIGIBILITY_REUSE_S``), sends the 270s concurrently, and applies each answer in
its own savepoint: eligibility.checked, claim.held(eligibility), or a retry at
``now() + backoff`` when the payer could not answer (AAA 42, timeout, refused
connection). After ``RCM_ELIGIBILITY_MAX_ATTEMPTS`` the claim is held
(PAYER-NO-RESPONSE); a check is never dropped. The transaction stays open while the
calls are in flight (at most ``RCM_ELIGIBILITY_TIMEOUT_S``): a crash rolls back to
"pending" and the next run asks again, so every check ends in exactly one event.

Every exchange is kept in ``exchanges`` with the raw 270 and 271 (an unreadable 271
too; its claim is held with the segment and position of the problem).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import asyncpg
import orjson

from runtime.db import columns, is_transient
from runtime.service import Context, Deferred, Service, run_deferred
from runtime.settings import Settings
from runtime.x12 import Envelope, X12Error
from schemas.codec import Encoded
from schemas.common import Coverage, HoldReason
from schemas.events import ClaimHeld, EligibilityChecked, EncounterCreated, Stage
from schemas.events_coverage import CoverageReported
from schemas.ids import claim_id_for
from services.eligibility.client import InquiryRejected, PayerUnavailable, Transport
from services.eligibility.config import EligibilitySettings
from services.eligibility.domain import (
    Held,
    Retry,
    Verify,
    decide,
    from_271,
    inquiry_for,
    no_answer,
    precheck,
    response_for,
    unreadable,
)
from services.eligibility.x12_270 import write_270
from services.eligibility.x12_271 import benefit_json, parse_271

log = logging.getLogger("rcm.eligibility")


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


def _with_subscribers(enc: EncounterCreated, coverages: list[Coverage]) -> list[Coverage]:
    """The registry does not keep subscriber demographics; the encounter carries them."""
    by_key = {(c.payer_id, c.member_id): c for c in enc.coverages}
    out = []
    for c in coverages:
        known = by_key.get((c.payer_id, c.member_id))
        if known is not None and known.subscriber is not None:
            c = c.model_copy(update={"subscriber": known.subscriber})
        out.append(c)
    return out


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
    await _record(
        ctx, claim_id, tenant, enc.encounter_id, kind, payer, reasons,
        benefits=benefits, secondary=secondary, exchange_id=exchange_id,
        exchange=exchange, done=done,
    )  # fmt: skip


async def _record(
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
_NEXT_DUE = (
    "SELECT extract(epoch FROM min(next_at) - now()) FROM pending_checks"
    " WHERE state='pending' AND next_at > now()"
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


@dataclass
class _Job:
    row: asyncpg.Record
    enc: EncounterCreated
    verify: Verify
    service_types: tuple[str, ...]
    trace: str = ""
    request: str = ""
    reuse: asyncpg.Record | None = None
    response: str | None = None
    unavailable: str | None = None
    refused: str | None = None
    elapsed_ms: float | None = None


class Eligibility:
    """The service's handlers with their settings and the payer transport."""

    def __init__(self, cfg: EligibilitySettings, s: Settings, transport: Transport) -> None:
        self.cfg = cfg
        self.settings = s
        self.transport = transport

    # --- encounter.created -------------------------------------------------------

    async def on_encounters(self, items: Sequence[tuple[Context, EncounterCreated]]) -> None:
        """Records each encounter's coverages, then settles what the registry alone can
        (self-pay, coverage not in force) and queues the rest for the payer: a few
        statements for the whole run, not a few per encounter."""
        conn = items[0][0].conn
        registry = await Registry.load(conn, ((c.meta.tenant, e.patient.id) for c, e in items))
        queued: dict[str, tuple[str | None, ...]] = {}  # the latest word on each claim wins
        for ctx, enc in items:
            tenant = ctx.meta.tenant
            claim_id = claim_id_for(tenant, enc.encounter_id)
            for c in enc.coverages:
                registry.record(tenant, enc.patient.id, c, source="encounter")
            on_file = registry.on_file(tenant, enc.patient.id)
            outcome = (
                precheck(claim_id, enc, on_file)
                if self.cfg.realtime
                else decide(claim_id, enc, on_file)
            )
            if not isinstance(outcome, Verify):
                queued.pop(claim_id, None)
                await finish(ctx, claim_id, enc, outcome)
                continue
            queued[claim_id] = (
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
            *columns(queued.values()),
        )

    # --- the timer -----------------------------------------------------------------

    async def verify_due(self, svc: Service) -> int:
        """One run: claim due checks, ask the payers, apply the answers. Returns the count.
        With none due, it is woken when the next retry is (not a period later)."""
        assert svc.pool is not None
        async with svc.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT claim_id, tenant, encounter, cause, traceparent, attempts FROM pending_checks"
                " WHERE state='pending' AND next_at <= now() ORDER BY next_at LIMIT $1"
                " FOR UPDATE SKIP LOCKED",
                self.cfg.batch,
            )
            if not rows:
                await svc.wake_when_due(self.verify_due, conn, _NEXT_DUE)
                return 0
            jobs = await self._prepare(svc, conn, rows)
            sem = asyncio.Semaphore(self.cfg.concurrency)
            await asyncio.gather(*(self._call(sem, j) for j in jobs if j.request))
            try:  # every answer at once, its writes and its events each sent together
                async with conn.transaction():
                    pending: list[Encoded] = []
                    deferred: Deferred = []
                    for job in jobs:
                        await self._apply(svc, conn, job, pending, deferred)
                    await run_deferred(conn, deferred)
                    await svc.outbox_put_many(conn, pending)
            except Exception as exc:
                if is_transient(exc):
                    raise
                for job in jobs:  # one of them failed: each in its own savepoint
                    await self._apply_safely(svc, conn, job)
            return len(rows)

    async def _prepare(
        self, svc: Service, conn: asyncpg.Connection, rows: list[asyncpg.Record]
    ) -> list[_Job]:
        """The registry's current word on each claimed check, a reusable 271 or a new 270.
        A few queries for the whole batch, not a few per check."""
        encs = [EncounterCreated.model_validate_json(r["encounter"]) for r in rows]
        on_file: dict[tuple[str, str], list[Coverage]] = {}
        for c in await conn.fetch(
            "SELECT tenant, patient_id, payer_id, payer_name, member_id, group_number, plan,"
            " priority, relationship, effective_date, termination_date FROM coverages"
            " WHERE valid_to IS NULL AND (tenant, patient_id) IN"
            " (SELECT * FROM unnest($1::text[], $2::text[])) ORDER BY priority",
            [r["tenant"] for r in rows],
            [e.patient.id for e in encs],
        ):
            fields = dict(c)
            key = (fields.pop("tenant"), fields.pop("patient_id"))
            on_file.setdefault(key, []).append(Coverage.model_validate(fields))
        jobs: list[_Job] = []
        for row, enc in zip(rows, encs, strict=True):
            claim_id = row["claim_id"]
            mine = on_file.get((row["tenant"], enc.patient.id), [])
            outcome = precheck(claim_id, enc, _with_subscribers(enc, mine))
            if not isinstance(outcome, Verify):  # the registry changed since: it decides
                await finish(self._ctx(svc, conn, row), claim_id, enc, outcome, done=True)
                continue
            inquiry = inquiry_for(enc, outcome.primary, trace="")
            jobs.append(_Job(row, enc, outcome, inquiry.service_types))
        if not jobs:
            return jobs
        if self.cfg.reuse_s > 0:
            found = await conn.fetch(
                "SELECT DISTINCT ON (k.i) k.i, x.id, x.trace, x.response_x12"
                " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[])"
                "   WITH ORDINALITY AS k(tenant, payer_id, member_id, patient_id, dos, i)"
                " JOIN exchanges x ON x.reusable AND x.tenant=k.tenant AND x.payer_id=k.payer_id"
                "   AND x.member_id=k.member_id AND x.patient_id=k.patient_id"
                "   AND x.date_of_service=k.dos AND x.at > now() - make_interval(secs => $6)"
                " ORDER BY k.i, x.at DESC",
                [j.row["tenant"] for j in jobs],
                [j.verify.primary.payer_id for j in jobs],
                [j.verify.primary.member_id for j in jobs],
                [j.enc.patient.id for j in jobs],
                [j.enc.date_of_service for j in jobs],
                self.cfg.reuse_s,
            )
            for f in found:
                jobs[f["i"] - 1].reuse = f
        asking = [j for j in jobs if j.reuse is None]
        icns = [
            int(r[0])
            for r in await conn.fetch(
                "SELECT nextval('inquiry_control') FROM generate_series(1, $1)", len(asking)
            )
        ]
        s = self.settings
        for job, icn in zip(asking, icns, strict=True):
            job.trace = f"{icn:09d}"
            job.request = write_270(
                inquiry_for(job.enc, job.verify.primary, trace=job.trace),
                envelope=Envelope(
                    sender_qualifier="ZZ",
                    sender_id=s.x12_submitter_id,
                    receiver_qualifier="ZZ",
                    receiver_id=s.x12_receiver_id,
                    functional_id="HS",
                    version="",
                    interchange_control_number=icn,
                    group_control_number=icn,
                    usage=s.x12_usage,
                ),
            )
        return jobs

    async def _call(self, sem: asyncio.Semaphore, job: _Job) -> None:
        async with sem:
            start = time.perf_counter()
            try:
                job.response = await asyncio.wait_for(
                    self.transport(job.request), timeout=self.cfg.timeout_s
                )
            except TimeoutError:
                job.unavailable = f"no 271 within {self.cfg.timeout_s} s"
            except PayerUnavailable as exc:
                job.unavailable = str(exc)
            except InquiryRejected as exc:
                job.refused = str(exc)
            job.elapsed_ms = (time.perf_counter() - start) * 1000

    def _ctx(
        self,
        svc: Service,
        conn: asyncpg.Connection,
        row: asyncpg.Record,
        pending: list[Encoded] | None = None,
        deferred: Deferred | None = None,
    ) -> Context:
        ctx = svc.context(
            conn,
            tenant=row["tenant"],
            correlation_id=row["claim_id"],
            cause=row["cause"],
            traceparent=row["traceparent"],
        )
        ctx.pending = pending
        ctx.deferred = deferred
        return ctx

    async def _apply_safely(self, svc: Service, conn: asyncpg.Connection, job: _Job) -> None:
        try:
            async with conn.transaction():
                await self._apply(svc, conn, job)
        except Exception as exc:
            if is_transient(exc):
                raise
            claim_id = job.row["claim_id"]
            log.exception("eligibility check failed; holding", extra={"claim": claim_id})
            async with conn.transaction():
                held = Held(
                    [
                        HoldReason(
                            code="ELIGIBILITY-CHECK-FAILED",
                            message=f"the eligibility check failed: {type(exc).__name__}",
                            fix="report it to support; verify eligibility by phone or portal,"
                            " then release",
                        )
                    ]
                )
                await finish(self._ctx(svc, conn, job.row), claim_id, job.enc, held, done=True)

    def _exchange(
        self, job: _Job, outcome: str, *, problem: str | None = None, reusable: bool = False
    ) -> Exchange:
        """A row for ``exchanges``: the 270 and the 271 exactly as sent and received."""
        cov = job.verify.primary
        return Exchange(
            cov.payer_id,
            cov.member_id,
            job.enc.patient.id,
            job.enc.date_of_service,
            job.trace,
            job.request,
            job.response,
            outcome,
            problem,
            reusable,
            job.elapsed_ms,
        )

    async def _apply(
        self,
        svc: Service,
        conn: asyncpg.Connection,
        job: _Job,
        pending: list[Encoded] | None = None,
        deferred: Deferred | None = None,
    ) -> None:
        """Applies one answer; its events go to ``pending`` and its writes to
        ``deferred`` (the caller runs them), or without them at once."""
        row, enc, verify = job.row, job.enc, job.verify
        claim_id = row["claim_id"]
        ctx = self._ctx(svc, conn, row, pending, deferred)
        secondary = verify.secondary.payer_id if verify.secondary else None
        if job.reuse is not None:
            response = response_for(parse_271(job.reuse["response_x12"]), job.reuse["trace"])
            decision = from_271(
                claim_id, enc, verify, response, service_types=job.service_types, reused=True
            )
            if not isinstance(decision, Retry):
                await finish(
                    ctx, claim_id, enc, decision,
                    benefits=[benefit_json(b) for b in response.benefits],
                    secondary=secondary, exchange_id=job.reuse["id"], done=True,
                )  # fmt: skip
                return
        if job.unavailable is not None:
            await self._retry_or_hold(ctx, job, job.unavailable)
            return
        if job.refused is not None:
            refused = HoldReason(
                code="ELIGIBILITY-270-REFUSED",
                message=f"the clearinghouse refused the 270: {job.refused}",
                fix="report it to support; verify eligibility by phone or portal, then release",
            )
            await finish(
                ctx, claim_id, enc, Held([refused]),
                exchange=self._exchange(job, "rejected", problem=job.refused), done=True,
            )  # fmt: skip
            return
        assert job.response is not None
        try:
            response = response_for(parse_271(job.response), job.trace)
        except X12Error as exc:
            await finish(
                ctx, claim_id, enc, unreadable(verify, str(exc)),
                exchange=self._exchange(job, "unreadable", problem=str(exc)), done=True,
            )  # fmt: skip
            return
        decision = from_271(claim_id, enc, verify, response, service_types=job.service_types)
        if isinstance(decision, Retry):
            await self._retry_or_hold(ctx, job, decision.reason)
            return
        reusable = response.active is not None and not response.rejections
        await finish(
            ctx, claim_id, enc, decision,
            benefits=[benefit_json(b) for b in response.benefits],
            secondary=secondary,
            exchange=self._exchange(job, "answered", reusable=reusable), done=True,
        )  # fmt: skip

    async def _retry_or_hold(self, ctx: Context, job: _Job, why: str) -> None:
        """Ask again after the backoff, or hold once the attempts are used up."""
        attempts = int(job.row["attempts"]) + 1
        claim_id = job.row["claim_id"]
        tried = self._exchange(job, "retry", problem=why)
        if attempts >= self.cfg.max_attempts:
            await finish(
                ctx, claim_id, job.enc, no_answer(job.verify, attempts, why),
                exchange=tried, done=True,
            )  # fmt: skip
            return
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
            self.cfg.backoff(attempts),
            job.row["tenant"],
            *tried,
            key=claim_id,
        )


async def on_coverage_reported(ctx: Context, ev: CoverageReported) -> None:
    """A coverage from a bulk upload (the gateway): recorded with history like any other."""
    await record_coverage(ctx.conn, ctx.meta.tenant, ev.patient_id, ev.coverage, source=ev.source)
