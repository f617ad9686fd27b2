"""The eligibility service's periodic work: asking the payers (270/271).

:meth:`Verifier.verify_due` claims due checks with FOR UPDATE SKIP LOCKED (so several
instances share the work and a check is never asked twice at once), reuses a recent 271
for the same member, payer, patient and date when there is one
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
import logging
import time
from dataclasses import dataclass

import asyncpg

from runtime.db import is_transient
from runtime.service import Context, Deferred, Service, run_deferred
from runtime.settings import Settings
from runtime.x12 import X12Error
from schemas.codec import Encoded
from schemas.common import HoldReason
from schemas.events import EncounterCreated
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
    with_subscribers,
)
from services.eligibility.handlers import finish
from services.eligibility.repository import (
    NEXT_DUE,
    Exchange,
    ReuseKey,
    claim_due_checks,
    coverages_on_file,
    defer_retry,
    inquiry_control_numbers,
    reusable_271s,
    without_realtime_270,
)
from services.eligibility.x12_270 import envelope_for, write_270
from services.eligibility.x12_271 import benefit_json, parse_271, read_through

log = logging.getLogger("rcm.eligibility")


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


class Verifier:
    """The verification timer, with its settings, the pipeline's X12 envelope settings
    and the payer transport."""

    def __init__(self, cfg: EligibilitySettings, s: Settings, transport: Transport) -> None:
        self.cfg = cfg
        self.settings = s
        self.transport = transport

    async def verify_due(self, svc: Service) -> int:
        """One run: claim due checks, ask the payers, apply the answers. Returns the count.
        With none due, it is woken when the next retry is (not a period later)."""
        assert svc.pool is not None
        async with svc.pool.acquire() as conn, conn.transaction():
            rows = await claim_due_checks(conn, self.cfg.batch)
            if not rows:
                await svc.wake_when_due(self.verify_due, conn, NEXT_DUE)
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
        on_file = await coverages_on_file(
            conn, [(r["tenant"], e.patient.id) for r, e in zip(rows, encs, strict=True)]
        )
        no_270 = await without_realtime_270(
            conn,
            self.cfg.claims_schema,
            (
                (r["tenant"], c.payer_id)
                for r, e in zip(rows, encs, strict=True)
                for c in e.coverages
            ),
        )
        jobs: list[_Job] = []
        for row, enc in zip(rows, encs, strict=True):
            claim_id = row["claim_id"]
            mine = with_subscribers(enc, on_file.get((row["tenant"], enc.patient.id), []))
            outcome = precheck(claim_id, enc, mine)
            if isinstance(outcome, Verify) and (row["tenant"], outcome.primary.payer_id) in no_270:
                outcome = decide(claim_id, enc, mine)  # no real-time 270 there: the registry
            if not isinstance(outcome, Verify):  # the registry changed since: it decides
                await finish(self._ctx(svc, conn, row), claim_id, enc, outcome, done=True)
                continue
            inquiry = inquiry_for(enc, outcome.primary, trace="")
            jobs.append(_Job(row, enc, outcome, inquiry.service_types))
        if not jobs:
            return jobs
        if self.cfg.reuse_s > 0:
            keys = [
                ReuseKey(
                    j.row["tenant"],
                    j.verify.primary.payer_id,
                    j.verify.primary.member_id,
                    j.enc.patient.id,
                    j.enc.date_of_service,
                )
                for j in jobs
            ]
            for i, found in (await reusable_271s(conn, keys, self.cfg.reuse_s)).items():
                jobs[i].reuse = found
        asking = [j for j in jobs if j.reuse is None]
        icns = await inquiry_control_numbers(conn, len(asking))
        s = self.settings
        for job, icn in zip(asking, icns, strict=True):
            job.trace = f"{icn:09d}"
            job.request = write_270(
                inquiry_for(job.enc, job.verify.primary, trace=job.trace),
                envelope=envelope_for(s, icn),
            )
        return jobs

    async def _call(self, sem: asyncio.Semaphore, job: _Job) -> None:
        async with sem:
            start = time.perf_counter()
            try:
                job.response = await asyncio.wait_for(
                    self.transport(job.request, payer=job.verify.primary.payer_id),
                    timeout=self.cfg.timeout_s,
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
            reply = parse_271(job.response)
            response = response_for(reply, job.trace)
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
            exchange=self._exchange(
                job, "answered", reusable=reusable, problem=read_through(reply.warnings)
            ),
            done=True,
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
        await defer_retry(
            ctx,
            claim_id,
            job.row["tenant"],
            attempts,
            why,
            self.cfg.backoff(attempts),
            tried,
        )
