"""Claims handlers: apply each event to the saga once.

Every state change, its timeline row and any outgoing event share the consumer's
transaction, so a claim can never be half-moved. A coded claim waits in CODED with
what it goes out as (``outgoing_frequency``); services/claims/batch.py gathers the
waiting claims per tenant and payer into one 837P interchange.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from runtime.service import Context
from schemas.codec import Message, Meta
from schemas.events import (
    AdjudicationStatus,
    ClaimAcknowledged,
    ClaimAdjudicated,
    ClaimCoded,
    ClaimHeld,
    EligibilityChecked,
    EncounterCreated,
    Event,
    StatementIssued,
)
from schemas.events_payments import ClaimBalanceZero
from schemas.events_workqueue import ClaimFixed, ClaimVoidRequested
from schemas.ids import claim_id_for
from services.claims import metrics as saga_metrics
from services.claims.config import claims_settings
from services.claims.saga import FILED, Decision, State, decide, filing_deadline, next_submission

COLUMNS = {
    "encounter_id",
    "hold_stage",
    "self_pay",
    "payer_id",
    "patient_control_number",
    "date_of_service",
    "total_charge_cents",
    "frequency_code",
    "payer_claim_number",
    "paid_cents",
    "adjusted_cents",
    "patient_responsibility_cents",
    "coded",
    "outgoing_frequency",
    "traceparent",
}

KINDS = ("ack", "remit", "filing")


@dataclass(frozen=True, slots=True)
class Also:
    """One more data-modifying statement sent in the same round trip as a step's write
    (a CTE of it). ``sql`` may use $1 (the claim id) and {0}, {1}, ... for ``args``.
    It must not touch the claims row itself (one statement updates a row once)."""

    sql: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Applied:
    """What step() did: the claim it resolved to, the decision, the state and row before."""

    claim_id: str
    d: Decision
    before: State | None
    row: Mapping[str, Any] | None


def _ctes(also: Sequence[Also], first: int) -> tuple[str, list[Any]]:
    parts: list[str] = []
    params: list[Any] = []
    n = first
    for i, a in enumerate(also):
        marks = [f"${n + k}" for k in range(len(a.args))]
        parts.append(f"a{i} AS ({a.sql.format(*marks)})")
        params.extend(a.args)
        n += len(a.args)
    return "".join(f"{p}, " for p in parts), params


def _detail(d: Decision, detail: dict[str, Any] | None) -> str:
    body = dict(detail or {})
    if d.note:
        body["note"] = d.note
    return orjson.dumps(body).decode()


_EVENT_COLS = "claim_id, event_id, event_type, kind, from_state, to_state, detail"


async def timeline(
    ctx: Context,
    claim_id: str,
    event_type: str,
    d: Decision,
    from_state: State | None,
    detail: dict[str, Any] | None = None,
    *,
    also: Sequence[Also] = (),
) -> None:
    ctes, extra = _ctes(also, 8)
    await ctx.defer(
        f"{'WITH ' + ctes[:-2] + ' ' if ctes else ''}INSERT INTO claim_events({_EVENT_COLS})"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
        claim_id,
        ctx.meta.id,
        event_type,
        d.kind,
        from_state,
        d.to,
        _detail(d, detail),
        *extra,
        key=claim_id,
    )


async def move(
    ctx: Context,
    claim_id: str,
    to: State,
    event_type: str,
    from_state: State | None,
    fields: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
    note: str = "",
    *,
    create: bool | None = None,
    also: Sequence[Also] = (),
    then: tuple[State, str, str] | None = None,
) -> None:
    """Applies one transition: the state, the fields, the timeline row and ``also``, in
    one statement. ``then`` = (state, event type, note) chains a second transition the
    claim makes at once (PAID -> CLOSED when nothing is left to collect)."""
    fields = fields or {}
    unknown = set(fields) - COLUMNS
    if unknown:
        raise ValueError(f"not claim columns: {unknown}")
    d = Decision("transition", to, note)
    events: list[Any] = [claim_id, ctx.meta.id, event_type, d.kind, from_state, to.value]
    events.append(_detail(d, detail))
    final = to
    if then is not None:
        final = then[0]
        d2 = Decision("transition", then[0], then[2])
        events += [claim_id, ctx.meta.id, then[1], d2.kind, to.value, then[0].value]
        events.append(_detail(d2, None))
    if create if create is not None else from_state is None:
        cols = ["claim_id", "tenant", "state", *fields]
        params = [claim_id, ctx.meta.tenant, final.value, *fields.values()]
        marks = ", ".join(f"${i}" for i in range(1, len(params) + 1))
        write = f"c AS (INSERT INTO claims({', '.join(cols)}) VALUES ({marks}))"
    else:
        sets = "".join(f", {c} = ${i}" for i, c in enumerate(fields, start=3))
        params = [claim_id, final.value, *fields.values()]
        write = (
            f"c AS (UPDATE claims SET state = $2, state_since = now(){sets} WHERE claim_id = $1)"
        )
    n = len(params)
    rows = ", ".join(
        "(" + ", ".join(f"${n + r * 7 + k}" for k in range(1, 8)) + "::jsonb)"
        for r in range(len(events) // 7)
    )
    ctes, extra = _ctes(also, n + len(events) + 1)
    await ctx.defer(
        f"WITH {ctes}{write} INSERT INTO claim_events({_EVENT_COLS}) VALUES {rows}",
        *params,
        *events,
        *extra,
        key=claim_id,
    )
    if isinstance(ctx.batch, BatchLocks):
        ctx.batch.moved(claim_id, ctx.meta.tenant, final, fields)
    saga_metrics.moved(ctx, from_state, to, then[0] if then is not None else None)


Locked = tuple[str, Mapping[str, Any] | None]
#: The claim columns a lock answers with (claims_for_update, migration 0006).
_LOCKED_COLUMNS = ("frequency_code", "payer_claim_number", "payer_id")


class BatchLocks:
    """The claim locks a batch took up front (:func:`prelock`) and each claim's row as the
    batch's steps leave it: a transition updates the row here as it defers its write
    (:meth:`moved`), so the next event of the claim in the batch needs no second read."""

    def __init__(self, rows: Sequence[asyncpg.Record]) -> None:
        self._ids: dict[tuple[str, bool], str] = {}
        self._rows: dict[str, dict[str, Any] | None] = {}
        for r in rows:
            self.add(r)

    def add(self, r: Mapping[str, Any]) -> None:
        self._ids[(r["name"], r["resolve"])] = r["claim_id"]
        self._rows[r["claim_id"]] = dict(r) if r["state"] is not None else None

    def take(self, name: str, resolve: bool) -> Locked | None:
        claim_id = self._ids.get((name, resolve))
        if claim_id is None:
            return None
        return claim_id, self._rows[claim_id]

    def moved(self, claim_id: str, tenant: str, state: State, fields: Mapping[str, Any]) -> None:
        """The claim is now in ``state`` with ``fields`` (a claim this batch did not lock
        is not tracked)."""
        if claim_id not in self._rows:
            return
        before = self._rows[claim_id]
        row = (  # a new dict: a handler may still hold the row it was given
            dict(before)
            if before is not None
            else {"claim_id": claim_id, "tenant": tenant, **dict.fromkeys(_LOCKED_COLUMNS)}
        )
        row["state"] = state.value
        row.update((k, v) for k, v in fields.items() if k in _LOCKED_COLUMNS)
        self._rows[claim_id] = row

    def forget(self, claim_id: str) -> None:
        """The claim changed in a way not tracked here: its next lock reads it again."""
        self._rows.pop(claim_id, None)
        for key in [k for k, v in self._ids.items() if v == claim_id]:
            del self._ids[key]


def lock_names(ev: Event, meta: Meta) -> list[tuple[str, bool]]:
    """The (name, resolve) pairs the handler of ``ev`` passes to :func:`lock`."""
    match ev:
        case EncounterCreated():
            return [(claim_id_for(meta.tenant, ev.encounter_id), False)]
        case ClaimAcknowledged() | ClaimAdjudicated() | ClaimBalanceZero():
            return [(ev.claim_id, True)]
        case StatementIssued():
            return [(name, True) for name in ev.claim_ids]
        case EligibilityChecked() | ClaimHeld() | ClaimCoded() | ClaimFixed():
            return [(ev.claim_id, False)]
        case ClaimVoidRequested():
            return [(ev.claim_id, False)]
    return []


async def prelock(conn: asyncpg.Connection, topic: str, messages: Sequence[Message]) -> BatchLocks:
    """Takes every claim lock a batch's handlers will ask for, in one round trip and in
    claim id order, so batches of different topics never deadlock (the runtime's
    before_batch hook)."""
    pairs = sorted({p for m in messages for p in lock_names(m.event, m.meta)})
    if not pairs:
        return BatchLocks([])
    rows = await conn.fetch(
        "SELECT * FROM claims_for_update($1::text[], $2::boolean[])",
        [n for n, _ in pairs],
        [r for _, r in pairs],
    )
    return BatchLocks(rows)


async def lock(ctx: Context, name: str, *, resolve: bool = False) -> Locked:
    """Serialises the claim's events (advisory lock) and returns its id and row, locked
    (None when there is no claim yet). ``resolve``: ``name`` may be a CLM01 the claim was
    sent under (acknowledgements, remittances and statements name claims by CLM01).
    A lock the batch took up front (``ctx.batch``) is used; a row read here first runs
    the writes deferred so far, so it is the claim as the steps before left it."""
    locks = ctx.batch if isinstance(ctx.batch, BatchLocks) else None
    if locks is not None and (hit := locks.take(name, resolve)) is not None:
        return hit
    await ctx.flush()
    row = await ctx.conn.fetchrow("SELECT * FROM claim_for_update($1, $2)", name, resolve)
    assert row is not None
    if locks is not None:
        locks.add({**dict(row), "name": name, "resolve": resolve})
        return locks.take(name, resolve)  # type: ignore[return-value]
    return row["claim_id"], (row if row["state"] is not None else None)


async def step(
    ctx: Context,
    name: str,
    event: Event,
    fields: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
    facts: dict[str, Any] | None = None,
    *,
    resolve: bool = False,
    locked: Locked | None = None,
    also: Callable[[Decision], Sequence[Also]] | None = None,
) -> Applied:
    """Applies an event to the saga. ``facts`` are recorded even when the event is late
    (money from an adjudication that reached us after the patient's statement).
    ``locked`` is lock()'s answer when the caller took the lock already; ``also`` gives
    the statements to send with the write, once the decision is known."""
    claim_id, row = locked if locked is not None else await lock(ctx, name, resolve=resolve)
    if row is not None and row["tenant"] != ctx.meta.tenant:
        d = Decision("anomaly", None, "event from another tenant ignored")
        await timeline(ctx, claim_id, event.TYPE, d, State(row["state"]), detail)
        return Applied(claim_id, d, State(row["state"]), row)
    current = State(row["state"]) if row else None
    d = decide(current, event)
    extra = also(d) if also is not None else ()
    if d.kind == "transition" and d.to is not None:
        merged = {**(fields or {}), **(facts or {})}
        await move(ctx, claim_id, d.to, event.TYPE, current, merged, detail, also=extra)
        return Applied(claim_id, d, current, row)
    await timeline(ctx, claim_id, event.TYPE, d, current, detail, also=extra)
    if d.kind == "late" and facts:
        if set(facts) - COLUMNS:
            raise ValueError(f"not claim columns: {set(facts) - COLUMNS}")
        sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(facts, start=2))
        await ctx.defer(
            f"UPDATE claims SET {sets} WHERE claim_id = $1", claim_id, *facts.values(), key=claim_id
        )
        if isinstance(ctx.batch, BatchLocks) and current is not None:
            ctx.batch.moved(claim_id, ctx.meta.tenant, current, facts)
    return Applied(claim_id, d, current, row)


# --- timers (the rows; services/claims/timers.py fires them) ---------------------


def clear(*kinds: str) -> Also:
    """Also: drop these timers of the claim."""
    if not kinds or set(kinds) - set(KINDS):
        raise ValueError(f"timer kinds are {KINDS}, got {kinds}")
    listed = ", ".join(f"'{k}'" for k in kinds)
    return Also(f"DELETE FROM claim_timers WHERE claim_id = $1 AND kind IN ({listed})")


def timer(kind: str, tenant: str, due_in_s: float, detail: dict[str, Any] | None = None) -> Also:
    """Also: (re)start a timer of the claim, due in ``due_in_s`` seconds."""
    if kind not in KINDS:
        raise ValueError(f"timer kinds are {KINDS}, got {kind!r}")
    return Also(
        "INSERT INTO claim_timers(claim_id, kind, tenant, due_at, detail)"
        f" VALUES ($1, '{kind}', {{0}}, now() + make_interval(secs => {{1}}), {{2}}::jsonb)"
        " ON CONFLICT (claim_id, kind) DO UPDATE SET due_at = EXCLUDED.due_at, attempts = 0,"
        " detail = EXCLUDED.detail",
        (tenant, float(due_in_s), orjson.dumps(detail or {}).decode()),
    )


async def run_also(conn: asyncpg.Connection, claim_id: str, also: Also) -> None:
    """Runs an Also on its own."""
    marks = [f"${i}" for i in range(2, 2 + len(also.args))]
    await conn.execute(also.sql.format(*marks), claim_id, *also.args)


def filing_clock(tenant: str, date_of_service: dt.date, payer_id: str | None) -> Also:
    """Also: the timely-filing timer, unless the claim has one: due at the first warning."""
    cfg = claims_settings()
    deadline = filing_deadline(date_of_service, cfg.filing_days(payer_id))
    first_warning = deadline - dt.timedelta(days=max(cfg.warn_days(), default=0))
    return Also(
        "INSERT INTO claim_timers(claim_id, kind, tenant, due_at, detail)"
        " VALUES ($1, 'filing', {0}, greatest({1}::date::timestamptz, now()), {2}::jsonb)"
        " ON CONFLICT (claim_id, kind) DO NOTHING",
        (
            tenant,
            first_warning,
            orjson.dumps({"deadline": deadline.isoformat(), "payer_id": payer_id}).decode(),
        ),
    )


# --- handlers ---------------------------------------------------------------


def _primary_payer(enc: EncounterCreated) -> str | None:
    covs = sorted(enc.coverages, key=lambda c: c.priority)
    return covs[0].payer_id if covs else None


async def on_encounter(ctx: Context, ev: EncounterCreated) -> None:
    claim_id = claim_id_for(ctx.meta.tenant, ev.encounter_id)
    payer = _primary_payer(ev)

    def also(d: Decision) -> list[Also]:
        # the timely-filing clock starts with the date of service (a claim held before
        # its encounter arrived gets it too)
        if d.kind in ("transition", "late") and payer is not None:
            return [filing_clock(ctx.meta.tenant, ev.date_of_service, payer)]
        return []

    await step(
        ctx,
        claim_id,
        ev,
        {"encounter_id": ev.encounter_id, "date_of_service": ev.date_of_service},
        also=also,
    )


async def on_eligibility(ctx: Context, ev: EligibilityChecked) -> None:
    await step(
        ctx,
        ev.claim_id,
        ev,
        {
            "encounter_id": ev.encounter_id,
            "self_pay": ev.self_pay,
            "payer_id": ev.payer_id,
            "date_of_service": ev.encounter.date_of_service,
        },
        {"active": ev.active, "payer_id": ev.payer_id, "self_pay": ev.self_pay},
    )


async def on_held(ctx: Context, ev: ClaimHeld) -> None:
    await step(
        ctx,
        ev.claim_id,
        ev,
        {"encounter_id": ev.encounter_id, "hold_stage": ev.stage.value},
        {"stage": ev.stage.value, "reasons": [r.model_dump() for r in ev.reasons]},
    )


async def on_coded(ctx: Context, ev: ClaimCoded) -> None:
    """CODED, with what the claim goes out as; the batcher sends it within its window."""
    fields: dict[str, Any] = {
        "encounter_id": ev.encounter_id,
        "self_pay": ev.self_pay,
        "payer_id": ev.payer_id,
        "patient_control_number": ev.patient_control_number,
        "hold_stage": None,
        "date_of_service": ev.date_of_service,
        "total_charge_cents": ev.total_charge_cents,
        "coded": ev.model_dump_json(),
        "outgoing_frequency": None if ev.self_pay else "1",
        "traceparent": ctx.meta.traceparent,
    }
    detail: dict[str, Any] = {"lines": len(ev.lines), "findings": [f.edit for f in ev.findings]}
    locked = await lock(ctx, ev.claim_id)
    row = locked[1]
    if not ev.self_pay and row is not None and row["frequency_code"] is not None:
        # Sent before: a replacement, or a new original under a new CLM01.
        submitted = [
            r[0]
            for r in await ctx.conn.fetch(
                "SELECT patient_control_number FROM submissions WHERE claim_id = $1 ORDER BY id",
                ev.claim_id,
            )
        ]
        freq, pcn = next_submission(
            coded_pcn=ev.patient_control_number,
            submitted_pcns=submitted,
            payer_claim_number=row["payer_claim_number"],
            new_pcn=lambda attempt: claim_id_for(ctx.meta.tenant, ev.encounter_id, attempt),
        )
        fields["outgoing_frequency"] = freq
        fields["patient_control_number"] = pcn
        detail["goes_out_as"] = {"frequency_code": freq, "patient_control_number": pcn}
    await step(ctx, ev.claim_id, ev, fields, detail, locked=locked)


def _ack_also(d: Decision) -> list[Also]:
    if d.kind not in ("transition", "note"):
        return []
    if d.to is State.REJECTED:
        return [clear("ack", "remit")]
    if d.to is State.ACCEPTED:
        return [clear("ack", "filing")]  # the payer has it: timely filing is met
    return [clear("ack")]


async def on_acknowledged(ctx: Context, ev: ClaimAcknowledged) -> None:
    fields = {"hold_stage": "clearinghouse"} if not ev.accepted else None
    await step(
        ctx,
        ev.claim_id,
        ev,
        fields,
        {
            "ack": ev.kind.value,
            "accepted": ev.accepted,
            "patient_control_number": ev.patient_control_number,
            "errors": [e.model_dump() for e in ev.errors],
        },
        resolve=True,
        also=_ack_also,
    )


def _adjudicated_also(d: Decision) -> list[Also]:
    return [clear(*KINDS)] if d.kind in ("transition", "late") else []


async def on_adjudicated(ctx: Context, ev: ClaimAdjudicated) -> None:
    detail = {
        "status": ev.status.value,
        "paid_cents": ev.paid_cents,
        "patient_responsibility_cents": ev.patient_responsibility_cents,
        "trace_number": ev.trace_number,
        "payer_claim_number": ev.payer_claim_number,
        "adjustments": [a.model_dump() for a in ev.adjustments],
        "denial_category": ev.denial_category,
    }
    if ev.status is AdjudicationStatus.reversed:
        await _reversed(ctx, ev, detail)
        return
    fields = {
        "payer_claim_number": ev.payer_claim_number,
        "paid_cents": ev.paid_cents,
        "adjusted_cents": ev.adjusted_cents,
        "patient_responsibility_cents": ev.patient_responsibility_cents,
    }
    claim_id, row = await lock(ctx, ev.claim_id, resolve=True)
    current = State(row["state"]) if row is not None else None
    d = decide(current, ev)
    if (
        d.kind == "transition"
        and d.to in (State.PAID, State.PARTIALLY_PAID)
        and ev.patient_responsibility_cents == 0
        and row is not None
        and row["tenant"] == ctx.meta.tenant
    ):
        # Nothing left to collect: PAID and CLOSED in one write, two timeline rows.
        await move(
            ctx,
            claim_id,
            d.to,
            ev.TYPE,
            current,
            fields,
            detail,
            also=[clear(*KINDS)],
            then=(
                State.CLOSED,
                "rcm.claims.balance-zero",
                "insurance paid in full after contractual adjustments; balance zero",
            ),
        )
        return
    await step(
        ctx,
        ev.claim_id,
        ev,
        None,
        detail,
        facts=fields,
        locked=(claim_id, row),
        also=_adjudicated_also,
    )


async def _reversed(ctx: Context, ev: ClaimAdjudicated, detail: dict[str, Any]) -> None:
    """The payer took its payment back (CLP02 22, negative amounts): the claim awaits
    adjudication again, its money is what remains, and the wait for an 835 restarts."""
    applied = await step(ctx, ev.claim_id, ev, None, detail, resolve=True)
    if applied.d.kind != "transition":
        return
    await ctx.flush()  # the money below is added to what the step wrote
    if isinstance(ctx.batch, BatchLocks):
        ctx.batch.forget(applied.claim_id)
    payer = await ctx.conn.fetchval(
        "UPDATE claims SET paid_cents = paid_cents + $2,"
        " patient_responsibility_cents = patient_responsibility_cents + $3,"
        " adjusted_cents = adjusted_cents + $4,"
        " payer_claim_number = coalesce($5, payer_claim_number) WHERE claim_id = $1"
        " RETURNING payer_id",
        applied.claim_id,
        ev.paid_cents,
        ev.patient_responsibility_cents,
        ev.adjusted_cents,
        ev.payer_claim_number,
    )
    await run_also(
        ctx.conn,
        applied.claim_id,
        timer("remit", ctx.meta.tenant, claims_settings().remit_wait_s(payer)),
    )


async def on_statement(ctx: Context, ev: StatementIssued) -> None:
    for named in ev.claim_ids:
        await step(
            ctx,
            named,
            ev,
            None,
            {"statement_id": ev.statement_id, "balance_cents": ev.balance_cents},
            resolve=True,
        )


async def on_fixed(ctx: Context, ev: ClaimFixed) -> None:
    """A person fixed a held, rejected or denied claim: it flows again from eligibility
    (RECEIVED) or coding (ELIGIBLE). When it is coded again, on_coded decides whether it
    goes out as a replacement or a new original."""
    await step(
        ctx,
        ev.claim_id,
        ev,
        {"hold_stage": None, "outgoing_frequency": None},
        {
            "reenter": ev.reenter.value,
            "fixed_by": ev.fixed_by,
            "fixed_at": ev.fixed_at.isoformat(),
            "changed": ev.changed,
            "note": ev.note,
        },
        also=lambda d: [clear("ack", "remit")] if d.kind == "transition" else [],
    )


async def on_balance_zero(ctx: Context, ev: ClaimBalanceZero) -> None:
    await step(
        ctx,
        ev.claim_id,
        ev,
        None,
        {"closed_by": ev.closed_by, "at": ev.at.isoformat()},
        resolve=True,
    )


async def request_void(ctx: Context, claim_id: str, reason: str) -> bool:
    """Queues a void (frequency 8, REF*F8) of a claim the payer adjudicated.

    The claim goes back to CODED with outgoing frequency 8 and the batcher sends it; the
    payer answers with a reversal. Returns False (and records an anomaly) when there is
    nothing at the payer to void.
    """
    _, row = await lock(ctx, claim_id)
    current = State(row["state"]) if row else None
    if row is None or current not in FILED or not row["payer_claim_number"]:
        await timeline(
            ctx,
            claim_id,
            "rcm.claims.void",
            Decision("anomaly", None, "nothing adjudicated at the payer to void"),
            current,
            {"reason": reason},
        )
        return False
    await move(
        ctx,
        claim_id,
        State.CODED,
        "rcm.claims.void",
        current,
        {"outgoing_frequency": "8"},
        {"reason": reason, "payer_claim_number": row["payer_claim_number"]},
    )
    return True


async def on_void_requested(ctx: Context, ev: ClaimVoidRequested) -> None:
    """A person asked for a void (from the gateway): queue it for the batcher."""
    await request_void(ctx, ev.claim_id, f"{ev.reason} (by {ev.requested_by})")
