"""Timers kept in PostgreSQL (claims.claim_timers), so they survive restarts.

- ack: no 999/277CA within ``ack_timeout_s`` of sending -> an alert (timeline row,
  metric, log line without PHI) and the same interchange sent again (same ISA13, the
  clearinghouse dedupes it), up to ``ack_max_resends`` times with doubling waits;
- remit: no 835 by the payer's usual day -> a 276 claim status inquiry POSTed to the
  clearinghouse, whose 277 answer is recorded on the timeline;
- filing: warnings before the payer's timely-filing deadline, then its passing.

Each runs under ``svc.every``; rows are taken FOR UPDATE SKIP LOCKED so several
instances share the work, and claim rows are locked the same way so a timer never
races an event being applied to the claim.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import orjson
from prometheus_client import CollectorRegistry, Counter
from pydantic import ValidationError

from runtime.service import Context, Service
from runtime.settings import settings
from runtime.x12 import X12Error
from schemas.events import ClaimCoded, ClaimSubmitted
from services.claims.config import claims_settings
from services.claims.handlers import timeline
from services.claims.saga import FILED, Decision, State, filing_deadline, next_filing_check
from services.claims.x12_276 import read_277, render_276
from services.claims.x12_837 import Party, Unbuildable

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


async def ack_timeouts(svc: Service) -> int:
    """Claims sent with no acknowledgement in time: alert and resend the interchange."""
    assert svc.pool is not None
    cfg = claims_settings()
    async with svc.pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT t.claim_id, t.tenant, t.attempts, t.detail, c.state, c.frequency_code,"
            " c.patient_control_number, c.payer_id, c.total_charge_cents"
            " FROM claim_timers t JOIN claims c USING (claim_id)"
            " WHERE t.kind = 'ack' AND t.due_at <= now() ORDER BY t.due_at LIMIT 200"
            " FOR UPDATE OF t, c SKIP LOCKED"
        )
        for row in rows:
            ctx = _ctx(svc, conn, row, "ack")
            claim_id = row["claim_id"]
            if row["state"] != State.SUBMITTED:
                await _drop(conn, claim_id, "ack")
                continue
            icn = int(orjson.loads(row["detail"]).get("interchange", 0))
            inter = await conn.fetchrow(
                "SELECT group_control_number, x12 FROM interchanges"
                " WHERE interchange_control_number = $1",
                icn,
            )
            attempts = row["attempts"]
            if inter is None or attempts >= cfg.ack_max_resends:
                await timeline(
                    ctx,
                    claim_id,
                    "rcm.claims.ack-timeout",
                    Decision(
                        "anomaly",
                        None,
                        f"no 999/277CA after {attempts} resends; a person must follow up",
                    ),
                    State.SUBMITTED,
                    {"alert": "ack-gave-up", "interchange_control_number": f"{icn:09d}"},
                )
                _alert(svc, "ack-gave-up", claim_id, interchange=f"{icn:09d}")
                await _drop(conn, claim_id, "ack")
                continue
            await timeline(
                ctx,
                claim_id,
                "rcm.claims.ack-timeout",
                Decision("note", None, "no 999/277CA in time; interchange sent again"),
                State.SUBMITTED,
                {
                    "alert": "ack-timeout",
                    "interchange_control_number": f"{icn:09d}",
                    "resend": attempts + 1,
                },
            )
            _alert(svc, "ack-timeout", claim_id, interchange=f"{icn:09d}", resend=attempts + 1)
            await ctx.emit(
                ClaimSubmitted(
                    claim_id=claim_id,
                    patient_control_number=row["patient_control_number"],
                    payer_id=row["payer_id"] or "",
                    interchange_control_number=f"{icn:09d}",
                    group_control_number=str(inter["group_control_number"]),
                    transaction_control_number="0001",
                    frequency_code=row["frequency_code"] or "1",
                    total_charge_cents=row["total_charge_cents"] or 0,
                    x12=inter["x12"],
                ),
                correlation_id=claim_id,
            )
            await conn.execute(
                "UPDATE interchanges SET resends = greatest(resends, $2), last_sent_at = now()"
                " WHERE interchange_control_number = $1",
                icn,
                attempts + 1,
            )
            await conn.execute(
                "UPDATE claim_timers SET attempts = attempts + 1,"
                " due_at = now() + make_interval(secs => $2) WHERE claim_id = $1 AND kind = 'ack'",
                claim_id,
                cfg.ack_timeout_s * 2 ** (attempts + 1),
            )
        return len(rows)


async def _drop(conn: asyncpg.Connection, claim_id: str, kind: str) -> None:
    await conn.execute("DELETE FROM claim_timers WHERE claim_id = $1 AND kind = $2", claim_id, kind)


# --- remit: 276/277 -------------------------------------------------------------


@dataclass(slots=True)
class Inquiry:
    claim_id: str
    tenant: str
    trace: str
    icn: int
    x12: str


async def status_inquiries(svc: Service) -> int:
    """Claims with no 835 by the payer's usual day: ask the clearinghouse (276/277)."""
    inquiries = await _due_inquiries(svc)
    if not inquiries:
        return 0
    s = settings()
    cfg = claims_settings()
    headers = {
        "Authorization": f"Bearer {s.clearinghouse_token.get_secret_value()}",
        "Content-Type": "application/edi-x12",
    }
    url = f"{s.clearinghouse_url.rstrip('/')}/x12/276"
    async with httpx.AsyncClient(timeout=cfg.inquiry_timeout_s) as client:
        answers = await asyncio.gather(*(_ask(client, url, headers, q) for q in inquiries))
    assert svc.pool is not None
    async with svc.pool.acquire() as conn, conn.transaction():
        for q, (detail, ok) in zip(inquiries, answers, strict=True):
            ctx = svc.context(
                conn, tenant=q.tenant, correlation_id=q.claim_id, cause=f"timer:276:{q.trace}"
            )
            note = "claim status (277) recorded" if ok else "claim status inquiry failed"
            await timeline(
                ctx, q.claim_id, "rcm.claims.status-277", Decision("note", None, note), None, detail
            )
    return len(inquiries)


async def _ask(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], q: Inquiry
) -> tuple[dict[str, Any], bool]:
    base: dict[str, Any] = {"inquiry_trace": q.trace, "interchange_control_number": f"{q.icn:09d}"}
    try:
        resp = await client.post(url, content=q.x12.encode(), headers=headers)
    except httpx.HTTPError as exc:
        return {**base, "error": f"clearinghouse unreachable: {type(exc).__name__}"}, False
    if resp.status_code != 200:
        return {**base, "error": f"clearinghouse answered HTTP {resp.status_code}"}, False
    try:
        answer = read_277(resp.text)
    except X12Error as exc:
        return {**base, "error": f"277 unreadable: {exc}"}, False
    if answer.traces and q.trace not in answer.traces:
        return {**base, "error": "277 answers another inquiry", "traces": answer.traces}, False
    return {
        **base,
        "statuses": [st.as_dict() for st in answer.statuses],
        "payer_claim_number": answer.payer_claim_number,
    }, True


async def _due_inquiries(svc: Service) -> list[Inquiry]:
    """Takes due remit timers, renders their 276s and moves the timers on, in one
    transaction; the HTTP calls happen after it commits, outside any lock."""
    assert svc.pool is not None
    s = settings()
    cfg = claims_settings()
    out: list[Inquiry] = []
    async with svc.pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT t.claim_id, t.tenant, t.attempts, c.state, c.coded, c.payer_id,"
            " c.patient_control_number, c.payer_claim_number"
            " FROM claim_timers t JOIN claims c USING (claim_id)"
            " WHERE t.kind = 'remit' AND t.due_at <= now() ORDER BY t.due_at LIMIT 20"
            " FOR UPDATE OF t SKIP LOCKED"
        )
        for row in rows:
            claim_id = row["claim_id"]
            ctx = _ctx(svc, conn, row, "remit")
            if row["state"] not in (State.SUBMITTED, State.ACCEPTED):
                await _drop(conn, claim_id, "remit")
                continue
            if row["attempts"] >= cfg.max_status_inquiries:
                await timeline(
                    ctx,
                    claim_id,
                    "rcm.claims.no-remit",
                    Decision(
                        "anomaly",
                        None,
                        f"no 835 after {row['attempts']} status inquiries; a person must follow up",
                    ),
                    State(row["state"]),
                    {"alert": "no-remit"},
                )
                _alert(svc, "no-remit-gave-up", claim_id)
                await _drop(conn, claim_id, "remit")
                continue
            icn, gcn = await conn.fetchrow(
                "SELECT nextval('interchange_control'), nextval('group_control')"
            )
            trace = f"{claim_id}-{row['attempts'] + 1}"
            try:
                claim = ClaimCoded.model_validate_json(row["coded"])
                text = render_276(
                    claim,
                    patient_control_number=row["patient_control_number"],
                    payer_claim_number=row["payer_claim_number"],
                    trace=trace,
                    interchange=icn,
                    group=gcn,
                    submitter=Party(s.x12_submitter_name, s.x12_submitter_id),
                    receiver=Party(s.x12_receiver_name, s.x12_receiver_id),
                    at=dt.datetime.now(dt.UTC),
                    usage=s.x12_usage,
                )
            except (Unbuildable, ValidationError, TypeError) as exc:
                await timeline(
                    ctx,
                    claim_id,
                    "rcm.claims.no-remit",
                    Decision("anomaly", None, "no 835 in time and no 276 can be built"),
                    State(row["state"]),
                    {"alert": "no-remit", "error": str(exc)[:500]},
                )
                _alert(svc, "no-remit", claim_id)
                await _drop(conn, claim_id, "remit")
                continue
            await timeline(
                ctx,
                claim_id,
                "rcm.claims.no-remit",
                Decision(
                    "note", None, "no 835 by the payer's usual day; status inquiry (276) sent"
                ),
                State(row["state"]),
                {
                    "alert": "no-remit",
                    "inquiry_trace": trace,
                    "interchange_control_number": f"{icn:09d}",
                },
            )
            _alert(svc, "no-remit", claim_id, inquiry=trace)
            await conn.execute(
                "UPDATE claim_timers SET attempts = attempts + 1,"
                " due_at = now() + make_interval(secs => $2) WHERE claim_id = $1 AND kind = 'remit'",
                claim_id,
                cfg.remit_wait_s(row["payer_id"]),
            )
            out.append(Inquiry(claim_id, row["tenant"], trace, icn, text))
    return out


# --- timely filing ----------------------------------------------------------------


async def filing_deadlines(svc: Service) -> int:
    """Warnings before the timely-filing deadline of claims the payer does not have yet."""
    assert svc.pool is not None
    cfg = claims_settings()
    today = dt.datetime.now(dt.UTC).date()
    async with svc.pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT t.claim_id, t.tenant, t.detail, c.state, c.self_pay, c.payer_id,"
            " c.date_of_service"
            " FROM claim_timers t JOIN claims c USING (claim_id)"
            " WHERE t.kind = 'filing' AND t.due_at <= now() ORDER BY t.due_at LIMIT 200"
            " FOR UPDATE OF t SKIP LOCKED"
        )
        for row in rows:
            claim_id = row["claim_id"]
            state = State(row["state"])
            if state in FILED or row["self_pay"] or row["date_of_service"] is None:
                await _drop(conn, claim_id, "filing")
                continue
            ctx = _ctx(svc, conn, row, "filing")
            # the payer coding billed, else the encounter's primary coverage
            payer_id = row["payer_id"] or orjson.loads(row["detail"]).get("payer_id")
            deadline = filing_deadline(row["date_of_service"], cfg.filing_days(payer_id))
            left = (deadline - today).days
            if left < 0:
                await timeline(
                    ctx,
                    claim_id,
                    "rcm.claims.timely-filing",
                    Decision(
                        "anomaly",
                        None,
                        "timely-filing deadline passed before the payer accepted the claim",
                    ),
                    state,
                    {"alert": "filing-deadline-passed", "deadline": deadline.isoformat()},
                )
                _alert(svc, "filing-deadline-passed", claim_id)
                await _drop(conn, claim_id, "filing")
                continue
            await timeline(
                ctx,
                claim_id,
                "rcm.claims.timely-filing",
                Decision("note", None, f"timely-filing deadline in {left} days"),
                state,
                {"alert": "filing-warning", "deadline": deadline.isoformat(), "days_left": left},
            )
            _alert(svc, "filing-warning", claim_id, days_left=left)
            nxt = next_filing_check(deadline, today, cfg.warn_days())
            await conn.execute(
                "UPDATE claim_timers SET attempts = attempts + 1, due_at = $2::date::timestamptz"
                " WHERE claim_id = $1 AND kind = 'filing'",
                claim_id,
                nxt,
            )
        return len(rows)
