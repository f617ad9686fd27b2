"""The claims service's SQL on claims, claim_events and claim_timers.

:func:`write_step` is the one statement that writes a claim's state; :func:`record`
writes a timeline row alone. Both send ``also`` (timer writes, :class:`Also`) in the same
round trip, as CTEs. The batcher's and the timers' own queries follow at the end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from runtime.service import Context
from services.claims.saga import Decision, State, Timer

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
    "coverages",
    "cob",
    "cob_level",
    "rendering_npi",
}
MONEY = {"paid_cents", "adjusted_cents", "patient_responsibility_cents"}


@dataclass(frozen=True, slots=True)
class Also:
    """One more data-modifying statement sent in the same round trip as a step's write
    (a CTE of it). ``sql`` may use $1 (the claim id) and {0}, {1}, ... for ``args``.
    It must not touch the claims row itself (one statement updates a row once)."""

    sql: str
    args: tuple[Any, ...] = ()


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


def _check(columns: Any) -> None:
    unknown = set(columns) - COLUMNS
    if unknown:
        raise ValueError(f"not claim columns: {unknown}")


# --- the claim's row and timeline -----------------------------------------------------


async def record(
    ctx: Context,
    claim_id: str,
    event_type: str,
    d: Decision,
    from_state: State | None,
    detail: dict[str, Any] | None = None,
    *,
    also: Sequence[Also] = (),
) -> None:
    """A timeline row (and ``also``) for a step that leaves the state as it is."""
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


async def write_step(
    ctx: Context,
    claim_id: str,
    d: Decision,
    event_type: str,
    from_state: State | None,
    fields: Mapping[str, Any],
    detail: dict[str, Any] | None = None,
    *,
    add: Mapping[str, int] | None = None,
    also: Sequence[Also] = (),
    then: tuple[Decision, str] | None = None,
) -> State:
    """Moves the claim to ``d.to`` (a new row when ``from_state`` is None) with ``fields``
    set and ``add`` added to its money, its timeline row and ``also``, in one statement.
    ``then`` = (decision, event type) chains a second transition the claim makes at once
    (PAID -> CLOSED when nothing is left to collect). Returns the state it leaves."""
    assert d.to is not None
    _check(fields)
    events: list[Any] = [claim_id, ctx.meta.id, event_type, d.kind, from_state, d.to.value]
    events.append(_detail(d, detail))
    final = d.to
    if then is not None:
        d2, then_type = then
        assert d2.to is not None
        final = d2.to
        events += [claim_id, ctx.meta.id, then_type, d2.kind, d.to.value, d2.to.value]
        events.append(_detail(d2, None))
    if from_state is None:
        cols = ["claim_id", "tenant", "state", *fields]
        params = [claim_id, ctx.meta.tenant, final.value, *fields.values()]
        marks = ", ".join(f"${i}" for i in range(1, len(params) + 1))
        write = f"c AS (INSERT INTO claims({', '.join(cols)}) VALUES ({marks}))"
    else:
        sums = dict(add or {})
        if set(sums) - MONEY:
            raise ValueError(f"only money is added: {set(sums) - MONEY}")
        sets = "".join(f", {c} = ${i}" for i, c in enumerate(fields, start=3))
        sets += "".join(f", {c} = {c} + ${i}" for i, c in enumerate(sums, start=3 + len(fields)))
        params = [claim_id, final.value, *fields.values(), *sums.values()]
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
    return final


async def record_facts(ctx: Context, claim_id: str, state: State, facts: Mapping[str, Any]) -> None:
    """Sets columns of a claim whose state stays (money from a late adjudication)."""
    _check(facts)
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(facts, start=2))
    await ctx.defer(
        f"UPDATE claims SET {sets} WHERE claim_id = $1", claim_id, *facts.values(), key=claim_id
    )
    if isinstance(ctx.batch, BatchLocks):
        ctx.batch.moved(claim_id, ctx.meta.tenant, state, facts)


async def submitted_pcns(conn: asyncpg.Connection, claim_id: str) -> list[str]:
    """The CLM01s the claim was sent under, oldest first."""
    rows = await conn.fetch(
        "SELECT patient_control_number FROM submissions WHERE claim_id = $1 ORDER BY id",
        claim_id,
    )
    return [r[0] for r in rows]


# --- locks --------------------------------------------------------------------------

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


async def prelock(conn: asyncpg.Connection, pairs: Sequence[tuple[str, bool]]) -> BatchLocks:
    """Takes the claim locks for these (name, resolve) pairs in one round trip, in the
    order given."""
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


# --- timers: the rows (services/claims/timers.py fires them) --------------------------


def clear_timers(timers: Sequence[Timer]) -> Also:
    """Also: drop these timers of the claim."""
    listed = ", ".join(f"'{Timer(t).value}'" for t in timers)
    return Also(f"DELETE FROM claim_timers WHERE claim_id = $1 AND kind IN ({listed})")


def start_timer(
    timer: Timer, tenant: str, due_in_s: float, detail: dict[str, Any] | None = None
) -> Also:
    """Also: (re)start a timer of the claim, due in ``due_in_s`` seconds."""
    return Also(
        "INSERT INTO claim_timers(claim_id, kind, tenant, due_at, detail)"
        f" VALUES ($1, '{Timer(timer).value}', {{0}}, now() + make_interval(secs => {{1}}),"
        " {2}::jsonb)"
        " ON CONFLICT (claim_id, kind) DO UPDATE SET due_at = EXCLUDED.due_at, attempts = 0,"
        " detail = EXCLUDED.detail",
        (tenant, float(due_in_s), orjson.dumps(detail or {}).decode()),
    )


def start_filing_clock(tenant: str, first_check: dt.date, detail: dict[str, Any]) -> Also:
    """Also: the timely-filing timer, unless the claim has one: due at ``first_check``."""
    return Also(
        "INSERT INTO claim_timers(claim_id, kind, tenant, due_at, detail)"
        " VALUES ($1, 'filing', {0}, greatest({1}::date::timestamptz, now()), {2}::jsonb)"
        " ON CONFLICT (claim_id, kind) DO NOTHING",
        (tenant, first_check, orjson.dumps(detail).decode()),
    )


def retry_timer_in(timer: Timer, due_in_s: float) -> Also:
    """Also: one more attempt of the timer, due in ``due_in_s`` seconds."""
    return Also(
        "UPDATE claim_timers SET attempts = attempts + 1,"
        " due_at = now() + make_interval(secs => {0})"
        f" WHERE claim_id = $1 AND kind = '{Timer(timer).value}'",
        (float(due_in_s),),
    )


def retry_timer_on(timer: Timer, day: dt.date) -> Also:
    """Also: one more attempt of the timer, due on ``day``."""
    return Also(
        "UPDATE claim_timers SET attempts = attempts + 1, due_at = {0}::date::timestamptz"
        f" WHERE claim_id = $1 AND kind = '{Timer(timer).value}'",
        (day,),
    )


async def drop_timer(conn: asyncpg.Connection, claim_id: str, timer: Timer) -> None:
    """Drops a timer whose claim left the states it watches."""
    await conn.execute(
        "DELETE FROM claim_timers WHERE claim_id = $1 AND kind = $2", claim_id, timer.value
    )


# --- the batcher's queries ------------------------------------------------------------

#: The waiting claims whose tenant and payer have a full interchange's worth waiting or
#: whose oldest has waited the window out: only they are locked and read. Locking every
#: waiting claim at each tick (20 a second) wrote a row lock to the WAL for each and read
#: and parsed its coded claim again, though most waited on (docs/performance.md).
READY = (
    "SELECT claim_id FROM (SELECT claim_id, state_since, count(*) OVER g AS waiting,"
    " min(state_since) OVER g AS oldest"
    " FROM claims WHERE state = 'CODED' AND outgoing_frequency IS NOT NULL"
    " WINDOW g AS (PARTITION BY tenant, payer_id)) w"
    " WHERE waiting >= $2 OR oldest <= now() - make_interval(secs => $3)"
    " ORDER BY state_since LIMIT $1"
)

#: Seconds until the oldest waiting claim's group is ripe (None: nothing waits).
RIPENS_IN = (
    "SELECT extract(epoch FROM min(state_since) + make_interval(secs => $1) - now())"
    " FROM claims WHERE state = 'CODED' AND outgoing_frequency IS NOT NULL"
)

_PICK = (
    "SELECT claim_id, tenant, coded, patient_control_number, outgoing_frequency,"
    " payer_claim_number, traceparent, cob, coverages, date_of_service,"
    " state_since <= now() - make_interval(secs => $2) AS ripe"
    " FROM claims WHERE claim_id = ANY($1::text[])"
    " AND state = 'CODED' AND outgoing_frequency IS NOT NULL"
    " ORDER BY state_since FOR UPDATE SKIP LOCKED"
)


async def pick_waiting(
    conn: asyncpg.Connection, claim_ids: list[str], window_s: float
) -> list[asyncpg.Record]:
    """Locks the claims still waiting in CODED (another instance may have sent some)."""
    return list(await conn.fetch(_PICK, claim_ids, window_s))


async def sent_as_originals(
    conn: asyncpg.Connection, pcns: list[tuple[str, int]]
) -> set[tuple[str, int]]:
    """Which of these (CLM01, payer's place in the order) went out as an original already."""
    rows = await conn.fetch(
        "SELECT patient_control_number, cob_level FROM submissions"
        " WHERE patient_control_number = ANY($1::text[]) AND frequency_code = '1'",
        [p for p, _ in pcns],
    )
    return {(r[0], int(r[1])) for r in rows}


async def cob_facts(conn: asyncpg.Connection, claim_id: str) -> asyncpg.Record | None:
    """What deciding the claim's next payer needs: its coverages, date of service and
    the earlier payers' answers it carries."""
    return await conn.fetchrow(
        "SELECT coverages, date_of_service, cob, cob_level FROM claims WHERE claim_id = $1",
        claim_id,
    )


async def park_early_answer(
    conn: asyncpg.Connection, claim_id: str, event_id: str, event_json: str
) -> None:
    sql = "INSERT INTO early_answers VALUES ($1, $2, $3::jsonb) ON CONFLICT DO NOTHING"
    await conn.execute(sql, claim_id, event_id, event_json)


async def take_early_answers(conn: asyncpg.Connection, claim_id: str) -> list[tuple[str, str]]:
    """(event id, event) of the 835s that waited for this claim to cross over to their
    payer, oldest first."""
    rows = await conn.fetch(
        "DELETE FROM early_answers WHERE claim_id = $1 RETURNING at, event_id, event::text",
        claim_id,
    )
    return [(r["event_id"], r["event"]) for r in sorted(rows, key=lambda r: r["at"])]


async def next_control_numbers(conn: asyncpg.Connection) -> tuple[int, int]:
    """A new interchange (ISA13) and group (GS06) control number."""
    icn, gcn = await conn.fetchrow(
        "SELECT nextval('interchange_control'), nextval('group_control')"
    )
    return int(icn), int(gcn)


async def save_interchange(
    conn: asyncpg.Connection,
    icn: int,
    gcn: int,
    tenant: str,
    payer_id: str,
    sent: Sequence[tuple[str, str, str, int]],
    x12: str,
) -> None:
    """The interchange and a submission per claim in it: ``sent`` holds (claim id,
    CLM01, frequency code, the payer's place in the order)."""
    await conn.execute(
        "INSERT INTO interchanges(interchange_control_number, group_control_number, tenant,"
        " payer_id, claim_ids, frequency_codes, x12) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        icn,
        gcn,
        tenant,
        payer_id,
        [c for c, _, _, _ in sent],
        [f for _, _, f, _ in sent],
        x12,
    )
    await conn.execute(
        "INSERT INTO submissions(claim_id, patient_control_number, frequency_code,"
        " interchange_control_number, cob_level)"
        " SELECT c, p, f, $4, l"
        " FROM unnest($1::text[], $2::text[], $3::text[], $5::smallint[]) AS u(c, p, f, l)",
        [c for c, _, _, _ in sent],
        [p for _, p, _, _ in sent],
        [f for _, _, f, _ in sent],
        icn,
        [level for _, _, _, level in sent],
    )


# --- the timers' queries ----------------------------------------------------------------


async def due_ack_timers(conn: asyncpg.Connection, read_up_to: float) -> list[asyncpg.Record]:
    """Ack timers due by ``read_up_to`` (epoch seconds: how far the 999/277CA files have
    been read; timers.py)."""
    return list(
        await conn.fetch(
            "SELECT t.claim_id, t.tenant, t.attempts, t.detail, c.state, c.frequency_code,"
            " c.patient_control_number, c.payer_id, c.total_charge_cents"
            " FROM claim_timers t JOIN claims c USING (claim_id)"
            " WHERE t.kind = 'ack' AND t.due_at <= least(now(), to_timestamp($1))"
            " ORDER BY t.due_at LIMIT 200 FOR UPDATE OF t, c SKIP LOCKED",
            read_up_to,
        )
    )


async def due_remit_timers(
    conn: asyncpg.Connection, limit: int, read_up_to: float
) -> list[asyncpg.Record]:
    """835 waits due by ``read_up_to`` (epoch seconds: how far the payers' answers have
    been read; timers.py)."""
    return list(
        await conn.fetch(
            "SELECT t.claim_id, t.tenant, t.attempts, c.state, c.coded, c.payer_id,"
            " c.patient_control_number, c.payer_claim_number"
            " FROM claim_timers t JOIN claims c USING (claim_id)"
            " WHERE t.kind = 'remit' AND t.due_at <= least(now(), to_timestamp($2))"
            " ORDER BY t.due_at LIMIT $1 FOR UPDATE OF t SKIP LOCKED",
            limit,
            read_up_to,
        )
    )


async def due_filing_timers(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT t.claim_id, t.tenant, t.detail, c.state, c.self_pay, c.payer_id,"
            " c.date_of_service"
            " FROM claim_timers t JOIN claims c USING (claim_id)"
            " WHERE t.kind = 'filing' AND t.due_at <= now() ORDER BY t.due_at LIMIT 200"
            " FOR UPDATE OF t SKIP LOCKED"
        )
    )
