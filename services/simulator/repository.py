"""Every SQL statement of the simulator: the clearinghouse's received interchanges, the
deliveries it schedules, the payers' queues, books and remittances, claim status and
the eligibility roster. Functions take the connection (or context) they run on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg

from runtime.db import columns
from runtime.service import Context
from services.simulator.clearinghouse import StatusRow

# --- control numbers ------------------------------------------------------------------


async def next_interchange_control(conn: asyncpg.Connection) -> int:
    icn: int = await conn.fetchval("SELECT nextval('interchange_control')")
    return icn


async def next_trace_sequence(conn: asyncpg.Connection) -> int:
    seq: int = await conn.fetchval("SELECT nextval('trace_numbers')")
    return seq


# --- received interchanges ------------------------------------------------------------


async def store_received(
    conn: asyncpg.Connection,
    *,
    tenant: str,
    claim_id: str,
    event_id: str,
    traceparent: str | None,
    x12: str,
    sender: str,
    icn: str,
) -> int | None:
    """The new row's id; None when the interchange is stored already (another instance)."""
    received_id: int | None = await conn.fetchval(
        "INSERT INTO received(tenant, claim_id, event_id, traceparent, x12, sender_id,"
        " interchange_control_number) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (tenant, sender_id, interchange_control_number)"
        " WHERE sender_id IS NOT NULL DO NOTHING RETURNING id",
        tenant,
        claim_id,
        event_id,
        traceparent,
        x12,
        sender,
        icn,
    )
    return received_id


async def set_claim_count(conn: asyncpg.Connection, received_id: int, claims: int) -> None:
    await conn.execute("UPDATE received SET claims = $2 WHERE id = $1", received_id, claims)


async def received_x12(conn: asyncpg.Connection, ids: list[int]) -> list[asyncpg.Record]:
    """(id, x12) of these received interchanges."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, x12 FROM received WHERE id = ANY($1::bigint[])", ids
    )
    return rows


# --- claim status ---------------------------------------------------------------------


async def receive_statuses(
    conn: asyncpg.Connection, tenant: str, received_id: int, rows: Sequence[StatusRow]
) -> None:
    """Each claim of a received interchange is 'received' (its 277CA not out yet)."""
    await conn.execute(
        "INSERT INTO claim_status(payer_id, patient_control_number, tenant, member_id,"
        " received_id, charge_cents, service_from, service_to, state, category, code)"
        " SELECT p, n, $1, m, $2, c, f, t, 'received', g, d FROM unnest($3::text[],"
        " $4::text[], $5::text[], $6::bigint[], $7::date[], $8::date[], $9::text[], $10::text[])"
        " AS s(p, n, m, c, f, t, g, d)"
        " ON CONFLICT (payer_id, patient_control_number) DO UPDATE SET"
        " tenant = EXCLUDED.tenant, member_id = EXCLUDED.member_id,"
        " received_id = EXCLUDED.received_id, charge_cents = EXCLUDED.charge_cents,"
        " service_from = EXCLUDED.service_from, service_to = EXCLUDED.service_to,"
        " state = 'received', category = EXCLUDED.category, code = EXCLUDED.code,"
        " payer_claim_number = NULL, paid_cents = NULL, adjudicated_on = NULL,"
        " trace_number = NULL, updated_at = now()",
        tenant,
        received_id,
        *columns(rows),
    )


async def set_states(conn: asyncpg.Connection, states: Sequence[tuple[str, str, str]]) -> None:
    """received -> pending or rejected once the 277CA is out; never backwards.
    (payer id, CLM01, state) each."""
    if not states:
        return
    await conn.execute(
        "UPDATE claim_status c SET state = s.state, updated_at = now()"
        " FROM unnest($1::text[], $2::text[], $3::text[]) AS s(payer_id, pcn, state)"
        " WHERE c.payer_id = s.payer_id AND c.patient_control_number = s.pcn"
        " AND c.state = 'received'",
        *columns(states),
    )


async def finalize_statuses(conn: asyncpg.Connection, rows: Iterable[tuple[Any, ...]]) -> None:
    """(payer id, CLM01, category, code, payer claim number, paid, adjudicated on, trace)."""
    await conn.executemany(
        "UPDATE claim_status SET state = 'finalized', category = $3, code = $4,"
        " payer_claim_number = $5, paid_cents = $6, adjudicated_on = $7, trace_number = $8,"
        " updated_at = now() WHERE payer_id = $1 AND patient_control_number = $2",
        list(rows),
    )


async def claim_status_by_pcn(
    conn: asyncpg.Connection, payer_id: str, pcn: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM claim_status WHERE payer_id = $1 AND patient_control_number = $2",
        payer_id,
        pcn,
    )
    return row


async def claim_status_by_payer_claim_number(
    conn: asyncpg.Connection, payer_id: str, payer_claim_number: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM claim_status WHERE payer_id = $1 AND payer_claim_number = $2",
        payer_id,
        payer_claim_number,
    )
    return row


# --- the payers' queues ---------------------------------------------------------------

#: Seconds until the soonest adjudication or correction falls due; None: none waits.
#: Work already due is left out: another instance holds it, or it failed and the timer's
#: pause and period find it again; it must not hide what comes due later.
NEXT_DUE = (
    "SELECT extract(epoch FROM least("
    "(SELECT min(due_at) FROM pending_adjudications WHERE done_at IS NULL AND due_at > now()),"
    " (SELECT min(due_at) FROM corrections WHERE done_at IS NULL AND due_at > now())) - now())"
)


async def queue_adjudications(
    conn: asyncpg.Connection,
    received_id: int,
    tenant: str,
    claims: Iterable[tuple[str, str, str, float]],
) -> None:
    """(payer id, billing NPI, CLM01, seconds until due) each."""
    await conn.execute(
        "INSERT INTO pending_adjudications(received_id, tenant, payer_id, billing_npi,"
        " patient_control_number, due_at)"
        " SELECT $1, $2, p, b, n, now() + make_interval(secs => d)"
        " FROM unnest($3::text[], $4::text[], $5::text[], $6::float8[])"
        " WITH ORDINALITY AS a(p, b, n, d, i) ORDER BY i ON CONFLICT DO NOTHING",
        received_id,
        tenant,
        *columns(claims),
    )


async def due_adjudications(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT p.id, p.tenant, p.payer_id, p.billing_npi, p.patient_control_number,"
        " p.received_id, r.event_id, r.traceparent FROM pending_adjudications p"
        " JOIN received r ON r.id = p.received_id WHERE p.done_at IS NULL"
        " AND p.due_at <= now() ORDER BY p.id LIMIT 500 FOR UPDATE OF p SKIP LOCKED"
    )
    return rows


async def due_corrections(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT c.* FROM corrections c"
        " WHERE c.done_at IS NULL AND c.due_at <= now() ORDER BY c.id LIMIT 100"
        " FOR UPDATE SKIP LOCKED"
    )
    return rows


async def mark_done(conn: asyncpg.Connection, adjudications: list[int], fixes: list[int]) -> None:
    if adjudications:
        await conn.execute(
            "UPDATE pending_adjudications SET done_at = now() WHERE id = ANY($1::bigint[])",
            adjudications,
        )
    if fixes:
        await conn.execute(
            "UPDATE corrections SET done_at = now() WHERE id = ANY($1::bigint[])", fixes
        )


async def correction_planned(conn: asyncpg.Connection, payer_id: str, pcn: str) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM corrections WHERE payer_id = $1 AND patient_control_number = $2",
        payer_id,
        pcn,
    )
    return bool(found)


async def plan_correction(conn: asyncpg.Connection, *args: Any) -> None:
    """(tenant, payer id, billing NPI, received id, CLM01, event id, traceparent,
    adjudicated on, accumulator year, deductible met, out-of-pocket met, delay)."""
    await conn.execute(
        "INSERT INTO corrections(tenant, payer_id, billing_npi, received_id,"
        " patient_control_number, event_id, traceparent, adjudicated_on, acc_year,"
        " acc_deductible_cents, acc_oop_cents, due_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
        " now() + make_interval(secs => $12))",
        *args,
    )


# --- the payers' books ----------------------------------------------------------------


async def read_books(
    conn: asyncpg.Connection,
    members: list[tuple[str, str]],
    keys: list[tuple[str, str, int]],
    pcns: list[tuple[str, str]],
) -> tuple[list[asyncpg.Record], list[asyncpg.Record], list[asyncpg.Record]]:
    """The roster of these members, their accumulators (locked) and the claims already
    paid: three queries."""
    roster = await conn.fetch(
        "SELECT payer_id, member_id, effective_date, termination_date FROM enrollment"
        " WHERE (payer_id, member_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))",
        *columns(members),
    )
    acc = await conn.fetch(
        "SELECT payer_id, member_id, year, deductible_met_cents, oop_met_cents"
        " FROM accumulators WHERE (payer_id, member_id, year) IN"
        " (SELECT * FROM unnest($1::text[], $2::text[], $3::int[]))"
        " ORDER BY payer_id, member_id, year FOR UPDATE",
        *columns(keys),
    )
    paid = await conn.fetch(
        "SELECT payer_id, patient_control_number FROM paid_claims"
        " WHERE (payer_id, patient_control_number) IN"
        " (SELECT * FROM unnest($1::text[], $2::text[]))",
        *columns(pcns),
    )
    return roster, acc, paid


async def write_accumulators(
    conn: asyncpg.Connection, rows: Sequence[tuple[str, str, int, int, int]]
) -> None:
    """(payer id, member id, year, deductible met, out-of-pocket met) each."""
    await conn.execute(
        "INSERT INTO accumulators(payer_id, member_id, year, deductible_met_cents,"
        " oop_met_cents) SELECT * FROM unnest($1::text[], $2::text[], $3::int[],"
        " $4::bigint[], $5::bigint[]) ON CONFLICT (payer_id, member_id, year) DO UPDATE"
        " SET deductible_met_cents = EXCLUDED.deductible_met_cents,"
        " oop_met_cents = EXCLUDED.oop_met_cents",
        *columns(rows),
    )


async def write_paid(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """(payer id, CLM01, payer claim number, paid, tenant, billing NPI) each."""
    # a correction names no tenant or payee: the row it corrects keeps its own
    await conn.execute(
        "INSERT INTO paid_claims(payer_id, patient_control_number, payer_claim_number,"
        " paid_cents, tenant, billing_npi) SELECT * FROM unnest($1::text[], $2::text[],"
        " $3::text[], $4::bigint[], $5::text[], $6::text[])"
        " ON CONFLICT (payer_id, patient_control_number) DO UPDATE SET"
        " payer_claim_number = EXCLUDED.payer_claim_number,"
        " paid_cents = EXCLUDED.paid_cents",
        *columns(rows),
    )


async def paid_to_payee(
    conn: asyncpg.Connection, payer_id: str, tenant: str, npi: str
) -> list[asyncpg.Record]:
    """The claims a payer has paid this payee, by CLM01."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT patient_control_number, payer_claim_number, paid_cents FROM paid_claims"
        " WHERE payer_id = $1 AND tenant = $2 AND billing_npi = $3 AND paid_cents > 0"
        " ORDER BY patient_control_number",
        payer_id,
        tenant,
        npi,
    )
    return rows


async def recoup(conn: asyncpg.Connection, payer_id: str, pcn: str, amount: int) -> None:
    await conn.execute(
        "UPDATE paid_claims SET paid_cents = paid_cents - $3"
        " WHERE payer_id = $1 AND patient_control_number = $2",
        payer_id,
        pcn,
        amount,
    )


async def store_remit(
    conn: asyncpg.Connection,
    trace: str,
    tenant: str,
    payer_id: str,
    claims: int,
    x12: str,
    deliveries: int,
) -> None:
    await conn.execute(
        "INSERT INTO remits(trace_number, tenant, payer_id, claims, x12, deliveries)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        trace,
        tenant,
        payer_id,
        claims,
        x12,
        deliveries,
    )


# --- the eligibility roster -----------------------------------------------------------


async def enrol(ctx: Context, *args: Any) -> None:
    """(payer id, member id, plan, group, effective, termination, subscriber birth date,
    dependents' birth dates); deferred, so a batch's enrolments go as one executemany."""
    await ctx.defer(
        "INSERT INTO enrollment(payer_id, member_id, plan, group_number, effective_date,"
        " termination_date, subscriber_birth_date, dependents)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8::date[])"
        " ON CONFLICT (payer_id, member_id) DO UPDATE SET plan=EXCLUDED.plan,"
        " group_number=EXCLUDED.group_number, effective_date=EXCLUDED.effective_date,"
        " termination_date=EXCLUDED.termination_date,"
        " subscriber_birth_date=coalesce(EXCLUDED.subscriber_birth_date,"
        "   enrollment.subscriber_birth_date),"
        " dependents=ARRAY(SELECT DISTINCT unnest(enrollment.dependents || EXCLUDED.dependents)),"
        " updated_at=now()",
        *args,
    )


ROSTER = (
    "SELECT nextval('interchange_control') AS icn, e.payer_id, e.member_id, e.plan,"
    " e.effective_date, e.termination_date, e.subscriber_birth_date, e.dependents,"
    " a.deductible_met_cents, a.oop_met_cents"
    " FROM unnest($1::text[], $2::text[], $3::int[]) WITH ORDINALITY AS q(payer_id, member_id, year, n)"
    " LEFT JOIN enrollment e ON e.payer_id=q.payer_id AND e.member_id=q.member_id"
    " LEFT JOIN accumulators a ON a.payer_id=q.payer_id AND a.member_id=q.member_id"
    " AND a.year=q.year ORDER BY q.n"
)


async def read_roster(
    conn: asyncpg.Connection, keys: Sequence[tuple[str, str, int]]
) -> list[asyncpg.Record]:
    """For each (payer id, member id, year), in order: a new interchange control number,
    the member's enrollment and accumulators (NULLs when unknown)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        ROSTER, *(list(c) for c in zip(*keys, strict=True))
    )
    return rows


async def asked_unknown(
    conn: asyncpg.Connection, payer_id: str, member_id: str, person: str
) -> dt.datetime:
    """When a member (or dependent) not on the roster was first asked about."""
    first: dt.datetime = await conn.fetchval(
        "INSERT INTO eligibility_unknown(payer_id, member_id, person) VALUES ($1,$2,$3)"
        " ON CONFLICT (payer_id, member_id, person)"
        " DO UPDATE SET asked=eligibility_unknown.asked+1 RETURNING first_asked_at",
        payer_id,
        member_id,
        person,
    )
    return first
