"""Timers kept in PostgreSQL (claims.claim_timers), so they survive restarts.

- ack: no 999/277CA within ``ack_timeout_s`` of sending -> an alert (timeline row,
  metric, log line without PHI) and the same interchange sent again (same ISA13, the
  clearinghouse dedupes it), up to ``ack_max_resends`` times with doubling waits;
- remit: no 835 by the payer's usual day, counted from the claim's latest acknowledgement
  (the payer's receipt) -> a 276 claim status inquiry POSTed to the clearinghouse, whose
  277 answer is recorded on the timeline; at most ``status_inquiries_per_tick`` a tick;
- filing: warnings before the payer's timely-filing deadline, then its passing.

Each runs under ``svc.every``; rows are taken FOR UPDATE SKIP LOCKED so several
instances share the work, and claim rows are locked the same way so a timer never
races an event being applied to the claim.

The ack and 835 waits are due by what has been read, not only by the clock: a wait
fires once this instance has applied the topic its answer comes on (x12.file-received,
claim.adjudicated) up to the deadline (``Service.read_up_to``). While claims works
through a backlog (a burst, a restart after an outage) the answers in it are not
mistaken for missing ones: no resend and no 276 for a claim whose 999 or 835 is
waiting in the backlog. (With several instances each judges by its own partitions.)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from prometheus_client import CollectorRegistry, Counter
from pydantic import ValidationError

from runtime.core_client import CoreClient, CoreRejected, CoreUnavailable
from runtime.service import Context, Service
from runtime.x12 import X12Error
from schemas.events import ClaimAdjudicated, ClaimCoded
from schemas.events_transport import X12FileReceived, X12InterchangeReady
from services.claims import directory, partners, repository_files, saga
from services.claims import repository as repo
from services.claims.config import ClaimsSettings
from services.claims.handlers import Change, apply
from services.claims.saga import State, Timer, filing_deadline, next_filing_check
from services.claims.x12_276 import read_277, render_276
from services.claims.x12_837 import Unbuildable

log = logging.getLogger("rcm.claims.timers")

_ALERTS: dict[int, Counter] = {}


def alerts(svc: Service) -> Counter:
    """rcm_claims_alerts{kind}: ack-timeout, ack-gave-up, no-remit, filing-warning, ..."""
    registry: CollectorRegistry = svc.metrics.registry
    counter = _ALERTS.get(id(registry))
    if counter is None:
        counter = _ALERTS[id(registry)] = Counter(
            "rcm_claims_alerts", "Claims needing attention", ["kind"], registry=registry
        )
    return counter


def _ctx(svc: Service, conn: asyncpg.Connection, row: asyncpg.Record, what: str) -> Context:
    return svc.context(
        conn, tenant=row["tenant"], correlation_id=row["claim_id"], cause=f"timer:{what}"
    )


def _alert(svc: Service, kind: str, claim_id: str, **extra: Any) -> None:
    alerts(svc).labels(kind).inc()
    log.warning("claim alert: %s", kind, extra={"claim": claim_id, "alert": kind, **extra})


# --- ack ----------------------------------------------------------------------


async def ack_timeouts(svc: Service, *, cfg: ClaimsSettings) -> int:
    """Claims sent with no acknowledgement in time: alert and resend the interchange."""
    assert svc.pool is not None
    async with svc.pool.acquire() as conn, conn.transaction():
        rows = await repo.due_ack_timers(conn, await svc.read_up_to(X12FileReceived.TOPIC))
        for row in rows:
            if State(row["state"]) not in saga.ACK_RESEND.start:
                await repo.drop_timer(conn, row["claim_id"], Timer.ACK)
                continue
            await _ack_timeout(svc, conn, cfg, row)
        return len(rows)


async def _ack_timeout(
    svc: Service, conn: asyncpg.Connection, cfg: ClaimsSettings, row: asyncpg.Record
) -> None:
    ctx = _ctx(svc, conn, row, "ack")
    claim_id, attempts = row["claim_id"], row["attempts"]
    icn = int(orjson.loads(row["detail"]).get("interchange", 0))
    inter = await repository_files.interchange(conn, icn)
    detail: dict[str, Any] = {"interchange_control_number": f"{icn:09d}"}
    if inter is None or attempts >= cfg.ack_max_resends:
        note = f"no 999/277CA after {attempts} resends; a person must follow up"
        change = Change(detail={"alert": "ack-gave-up", **detail})
        await apply(ctx, cfg, saga.ACK_GAVE_UP, claim_id, State.SUBMITTED, change, note=note)
        _alert(svc, "ack-gave-up", claim_id, interchange=f"{icn:09d}")
        return
    change = Change(
        detail={"alert": "ack-timeout", **detail, "resend": attempts + 1},
        retry_in_s=cfg.ack_timeout_s * 2 ** (attempts + 1),
    )
    note = "no 999/277CA in time; interchange sent again"
    await apply(ctx, cfg, saga.ACK_RESEND, claim_id, State.SUBMITTED, change, note=note)
    _alert(svc, "ack-timeout", claim_id, interchange=f"{icn:09d}", resend=attempts + 1)
    if await repository_files.interchange_resent(
        conn, icn, attempts + 1
    ):  # the first of its claims
        again = X12InterchangeReady(
            interchange_control_number=f"{icn:09d}",
            payer_id=inter["payer_id"] or "",
            claims=max(1, inter["claims"]),
            x12=inter["x12"],
            resend=attempts + 1,
        )
        await ctx.emit(again, correlation_id=f"icn:{icn:09d}")


# --- remit: 276/277 -------------------------------------------------------------


@dataclass(slots=True)
class Inquiry:
    claim_id: str
    tenant: str
    trace: str
    icn: int
    x12: str
    payer: str


async def status_inquiries(svc: Service, *, cfg: ClaimsSettings, core: CoreClient) -> int:
    """Claims with no 835 by the payer's usual day: ask the clearinghouse (276/277) over
    CAQH CORE, through the process's one pooled client (``core``)."""
    inquiries = await _due_inquiries(svc, cfg)
    if not inquiries:
        return 0
    answers = await asyncio.gather(*(_ask(core, cfg, q) for q in inquiries))
    assert svc.pool is not None
    async with svc.pool.acquire() as conn, conn.transaction():
        for q, (detail, ok) in zip(inquiries, answers, strict=True):
            ctx = svc.context(
                conn, tenant=q.tenant, correlation_id=q.claim_id, cause=f"timer:276:{q.trace}"
            )
            note = "claim status (277) recorded" if ok else "claim status inquiry failed"
            change = Change(detail=detail)
            await apply(ctx, cfg, saga.STATUS_ANSWER, q.claim_id, None, change, note=note)
    return len(inquiries)


STATUS_PAYLOAD = "X12_276_Request_005010X212"


async def _ask(core: CoreClient, cfg: ClaimsSettings, q: Inquiry) -> tuple[dict[str, Any], bool]:
    """One 276 over CORE; the outcome in words for the claim's timeline (a failure is
    recorded there and the remit timer asks again later: no inquiry is lost)."""
    base: dict[str, Any] = {"inquiry_trace": q.trace, "interchange_control_number": f"{q.icn:09d}"}
    try:
        reply = await asyncio.wait_for(
            core.exchange(STATUS_PAYLOAD, q.x12, payer=q.payer), timeout=cfg.inquiry_timeout_s
        )
    except TimeoutError:
        return {**base, "error": f"no 277 within {cfg.inquiry_timeout_s:g} s"}, False
    except CoreUnavailable as exc:
        return {**base, "error": f"clearinghouse unavailable: {exc}"}, False
    except CoreRejected as exc:
        return {**base, "error": f"clearinghouse refused the 276: {exc}", "core": exc.kind}, False
    try:
        answer = read_277(reply.payload)
    except X12Error as exc:
        return {**base, "error": f"277 unreadable: {exc}"}, False
    if answer.traces and q.trace not in answer.traces:
        return {**base, "error": "277 answers another inquiry", "traces": answer.traces}, False
    return {
        **base,
        "statuses": [st.as_dict() for st in answer.statuses],
        "payer_claim_number": answer.payer_claim_number,
    }, True


async def _due_inquiries(svc: Service, cfg: ClaimsSettings) -> list[Inquiry]:
    """Takes due remit timers, renders their 276s and moves the timers on, in one
    transaction; the HTTP calls happen after it commits, outside any lock."""
    assert svc.pool is not None
    out: list[Inquiry] = []
    async with svc.pool.acquire() as conn, conn.transaction():
        up_to = await svc.read_up_to(ClaimAdjudicated.TOPIC)
        for row in await repo.due_remit_timers(conn, cfg.status_inquiries_per_tick, up_to):
            claim_id, state = row["claim_id"], State(row["state"])
            if state not in saga.STATUS_INQUIRY.start:
                await repo.drop_timer(conn, claim_id, Timer.REMIT)
                continue
            ctx = _ctx(svc, conn, row, "remit")
            if row["attempts"] >= cfg.max_status_inquiries:
                note = f"no 835 after {row['attempts']} status inquiries; a person must follow up"
                change = Change(detail={"alert": "no-remit"})
                await apply(ctx, cfg, saga.NO_REMIT_GAVE_UP, claim_id, state, change, note=note)
                _alert(svc, "no-remit-gave-up", claim_id)
                continue
            inquiry = await _inquiry(svc, conn, cfg, ctx, row)
            if inquiry is not None:
                out.append(inquiry)
    return out


async def _inquiry(
    svc: Service, conn: asyncpg.Connection, cfg: ClaimsSettings, ctx: Context, row: asyncpg.Record
) -> Inquiry | None:
    """The claim's 276, its timeline note and its timer moved on; None when no 276 can be
    built (the timer is then dropped) or the payer directory says the payer answers no
    real-time 276 (the note says to ask on its portal; the timer moves on)."""
    s = svc.settings
    claim_id, state = row["claim_id"], State(row["state"])
    icn, gcn = await repo.next_control_numbers(conn)
    trace = f"{claim_id}-{row['attempts'] + 1}"
    me = partners.identity(await partners.for_tenant(conn, row["tenant"]), s)  # ISA, 1000A
    try:
        text = render_276(
            ClaimCoded.model_validate_json(row["coded"]),
            patient_control_number=row["patient_control_number"],
            payer_claim_number=row["payer_claim_number"],
            trace=trace,
            interchange=icn,
            group=gcn,
            submitter=me.submitter,
            receiver=me.receiver,
            at=dt.datetime.now(dt.UTC),
            usage=s.x12_usage,
        )
    except (Unbuildable, ValidationError, TypeError) as exc:
        note = "no 835 in time and no 276 can be built"
        change = Change(detail={"alert": "no-remit", "error": str(exc)[:500]})
        await apply(ctx, cfg, saga.NO_REMIT_GAVE_UP, claim_id, state, change, note=note)
        _alert(svc, "no-remit", claim_id)
        return None
    detail = {
        "alert": "no-remit",
        "inquiry_trace": trace,
        "interchange_control_number": f"{icn:09d}",
    }
    payer = await directory.one(conn, row["tenant"], row["payer_id"])
    wait = cfg.remit_wait_s(payer.days_to_pay if payer is not None else None)
    if payer is not None and not payer.realtime_276:  # the directory: no CORE 276 there
        change = Change(detail={"alert": "no-remit", "realtime_276": False}, retry_in_s=wait)
        note = "no 835 by the payer's usual day; it answers no real-time 276: ask on its portal"
        await apply(ctx, cfg, saga.STATUS_INQUIRY, claim_id, state, change, note=note)
        _alert(svc, "no-remit", claim_id)
        return None
    change = Change(detail=detail, retry_in_s=wait)
    note = "no 835 by the payer's usual day; status inquiry (276) sent"
    await apply(ctx, cfg, saga.STATUS_INQUIRY, claim_id, state, change, note=note)
    _alert(svc, "no-remit", claim_id, inquiry=trace)
    return Inquiry(claim_id, row["tenant"], trace, icn, text, row["payer_id"] or "")


# --- timely filing ----------------------------------------------------------------


async def filing_deadlines(svc: Service, *, cfg: ClaimsSettings) -> int:
    """Warnings before the timely-filing deadline of claims the payer does not have yet."""
    assert svc.pool is not None
    today = dt.datetime.now(dt.UTC).date()
    async with svc.pool.acquire() as conn, conn.transaction():
        rows = await repo.due_filing_timers(conn)
        for row in rows:
            claim_id, state = row["claim_id"], State(row["state"])
            watched = state in saga.FILING_WARNING.start
            if not watched or row["self_pay"] or row["date_of_service"] is None:
                await repo.drop_timer(conn, claim_id, Timer.FILING)
                continue
            ctx = _ctx(svc, conn, row, "filing")
            # the payer coding billed, else the encounter's primary coverage
            payer_id = row["payer_id"] or orjson.loads(row["detail"]).get("payer_id")
            payer = await directory.one(conn, row["tenant"], payer_id)
            days = cfg.filing_days(payer.timely_filing_days if payer is not None else None)
            deadline = filing_deadline(row["date_of_service"], days)
            left = (deadline - today).days
            if left < 0:
                note = "timely-filing deadline passed before the payer accepted the claim"
                detail = {"alert": "filing-deadline-passed", "deadline": deadline.isoformat()}
                change = Change(detail=detail)
                await apply(ctx, cfg, saga.FILING_PASSED, claim_id, state, change, note=note)
                _alert(svc, "filing-deadline-passed", claim_id)
                continue
            warning = {
                "alert": "filing-warning",
                "deadline": deadline.isoformat(),
                "days_left": left,
            }
            nxt = next_filing_check(deadline, today, cfg.warn_days())
            change = Change(detail=warning, retry_on=nxt)
            note = f"timely-filing deadline in {left} days"
            await apply(ctx, cfg, saga.FILING_WARNING, claim_id, state, change, note=note)
            _alert(svc, "filing-warning", claim_id, days_left=left)
        return len(rows)
