"""The simulator's wiring: acknowledge each 837P interchange once, adjudicate after the
payer's delay, answer claim status inquiries.

claim.submitted -> (once per interchange) a 999 and a 277CA, and claim.acknowledged for
each claim in it -> later, per tenant, payer and payee, an 835 (remit.received).

The claims service sends one claim.submitted per claim, each carrying the whole
interchange; the first one to arrive acknowledges every claim of the interchange and
queues each accepted one for adjudication; the others are no-ops. Member accumulators
persist, so a second visit in a plan year sees the deductible already met.

Fault knobs (services.simulator.config) add what real clearinghouses and payers do:
late acknowledgements, 835s delivered twice or out of order, reversals followed by a
corrected payment, PLB interest and recoupments.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import asyncpg

from runtime.db import columns
from runtime.service import Context, Reject, Service
from runtime.settings import settings
from runtime.x12 import ISA_LENGTH, Envelope, X12Error, delimiters_of
from schemas.common import HoldReason
from schemas.events import AckKind, ClaimAcknowledged, ClaimSubmitted, Event, RemitReceived
from services.simulator import x12_status
from services.simulator.adjudicate import (
    Accumulators,
    Adjudication,
    ClaimIn,
    adjudicate,
    payer_claim_number,
    reverse,
)
from services.simulator.config import SimulatorSettings, simulator_settings
from services.simulator.payers import PAYERS, payer, scaled
from services.simulator.x12_in import Interchange837, claim_numbers_by_set, read_837, triage_837
from services.simulator.x12_out import (
    ClaimAck,
    ProviderAdjustment,
    StatusReason,
    front_end_edits,
    interest,
    payment_total,
    recoupment,
    write_277ca,
    write_835,
    write_999,
)

log = logging.getLogger("rcm.simulator")

CLEARINGHOUSE_ID = "SIMCLEARHOUSE"
CLEARINGHOUSE_NAME = "SIM CLEARINGHOUSE"
#: Events the simulator may schedule for later delivery.
SCHEDULABLE: dict[str, type[Event]] = {
    ClaimAcknowledged.TYPE: ClaimAcknowledged,
    RemitReceived.TYPE: RemitReceived,
}


async def _envelope(conn: asyncpg.Connection, sender: str, receiver: str) -> Envelope:
    icn = await conn.fetchval("SELECT nextval('interchange_control')")
    return Envelope(
        sender_qualifier="ZZ",
        sender_id=sender,
        receiver_qualifier="ZZ",
        receiver_id=receiver,
        functional_id="",
        version="",
        interchange_control_number=icn,
        group_control_number=icn,
        usage=settings().x12_usage,
    )


# --- delivery -------------------------------------------------------------------------


async def _schedule(
    ctx: Context,
    event: Event,
    *,
    correlation_id: str,
    delay_s: float,
    status: tuple[str, str, str] | None = None,
) -> None:
    """Emits now, or (delay_s > 0) stores the event for release_scheduled to emit later.

    ``status`` (payer id, claim, state) is the claim status the delivery makes true.
    """
    if delay_s <= 0:
        await ctx.emit(event, correlation_id=correlation_id)
        if status is not None:
            await _set_states(ctx.conn, [status])
        return
    await ctx.conn.execute(
        "INSERT INTO scheduled(tenant, correlation_id, cause, traceparent, event_type, body,"
        " payer_id, patient_control_number, ack_state, due_at)"
        " VALUES ($1, $2, $3, $4, $5, $6::json, $7, $8, $9, now() + make_interval(secs => $10))",
        ctx.meta.tenant,
        correlation_id,
        ctx.meta.id,
        ctx.meta.traceparent,
        event.TYPE,
        event.model_dump_json(),
        status[0] if status else None,
        status[1] if status else None,
        status[2] if status else None,
        delay_s,
    )


@dataclass
class _Awaiting:
    """Acknowledgements for the other claims of an interchange: each waits for that
    claim's own claim.submitted (see release_for_claims), so it joins that claim's trace.
    Stored with one statement (:meth:`store`)."""

    tenant: str
    delay_s: float
    rows: list[tuple[str, str, str, str | None, str | None, str | None, str]] = field(
        default_factory=list
    )

    def add(self, event: Event, pcn: str, status: tuple[str, str, str] | None = None) -> None:
        self.rows.append(
            (pcn, event.TYPE, event.model_dump_json(), *(status or (None, None, None)), pcn)
        )

    async def store(self, conn: asyncpg.Connection) -> None:
        if not self.rows:
            return
        await conn.execute(
            "INSERT INTO scheduled(tenant, correlation_id, event_type, body, payer_id,"
            " patient_control_number, ack_state, await_claim, delay_s)"
            " SELECT $1, c, t, b::json, p, n, a, w, $2 FROM unnest($3::text[], $4::text[],"
            " $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])"
            " WITH ORDINALITY AS r(c, t, b, p, n, a, w, i) ORDER BY i",
            self.tenant,
            self.delay_s,
            *columns(self.rows),
        )


async def release_for_claims(riders: Sequence[tuple[Context, str]]) -> None:
    """The acknowledgements waiting for these claims' own claim.submitted (context, CLM01
    each): emitted now (or scheduled after the configured ack delay), each in its own
    claim's message context and trace. One statement to release, one to set statuses."""
    conn = riders[0][0].conn
    by_claim = {(ctx.meta.tenant, pcn): ctx for ctx, pcn in reversed(riders)}  # the first wins
    rows = await conn.fetch(
        # One index lookup per claim (the OFFSET 0 keeps the planner from scanning the
        # whole partial index once for all of them: its dead entries made that 20 ms).
        "UPDATE scheduled s SET await_claim = NULL, cause = r.cause, traceparent = r.tp,"
        " due_at = now() + make_interval(secs => s.delay_s),"
        " sent_at = CASE WHEN s.delay_s <= 0 THEN now() END"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS r(tenant, pcn, cause, tp)"
        " CROSS JOIN LATERAL (SELECT id FROM scheduled WHERE tenant = r.tenant"
        "   AND await_claim = r.pcn AND due_at IS NULL OFFSET 0) w"
        " WHERE s.id = w.id"
        " RETURNING s.id, r.tenant, r.pcn, s.correlation_id, s.event_type, s.body, s.delay_s,"
        " s.payer_id, s.patient_control_number, s.ack_state",
        *columns(
            (tenant, pcn, ctx.meta.id, ctx.meta.traceparent)
            for (tenant, pcn), ctx in by_claim.items()
        ),
    )
    states = []
    for row in sorted(rows, key=lambda r: r["id"]):
        if row["delay_s"] > 0:
            continue
        event = SCHEDULABLE[row["event_type"]].model_validate_json(row["body"])
        await by_claim[(row["tenant"], row["pcn"])].emit(
            event, correlation_id=row["correlation_id"]
        )
        if row["ack_state"]:
            states.append((row["payer_id"], row["patient_control_number"], row["ack_state"]))
    await _set_states(conn, states)


async def _set_states(conn: asyncpg.Connection, states: Sequence[tuple[str, str, str]]) -> None:
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


async def release_scheduled(svc: Service) -> int:
    """Emits scheduled events whose time has come, in due order."""
    assert svc.pool is not None
    async with svc.pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT id, tenant, correlation_id, cause, traceparent, event_type, body, payer_id,"
            " patient_control_number, ack_state FROM scheduled"
            " WHERE sent_at IS NULL AND due_at <= now() ORDER BY due_at, id LIMIT 500"
            " FOR UPDATE SKIP LOCKED"
        )
        for row in rows:
            event = SCHEDULABLE[row["event_type"]].model_validate_json(row["body"])
            ctx = svc.context(
                conn,
                tenant=row["tenant"],
                correlation_id=row["correlation_id"],
                cause=row["cause"],
                traceparent=row["traceparent"],
            )
            await ctx.emit(event)
        await _set_states(
            conn,
            [
                (r["payer_id"], r["patient_control_number"], r["ack_state"])
                for r in rows
                if r["ack_state"]
            ],
        )
        if rows:
            await conn.execute(
                "UPDATE scheduled SET sent_at = now() WHERE id = ANY($1::bigint[])",
                [r["id"] for r in rows],
            )
        return len(rows)


# --- the clearinghouse front end ------------------------------------------------------


def _edits(claim: ClaimIn, cfg: SimulatorSettings) -> tuple[StatusReason, ...]:
    reasons = front_end_edits(claim, PAYERS)
    if cfg.front_end_edits:
        return reasons
    # With the edits off, only an unknown payer is still rejected: there is no one to send
    # the claim to.
    return tuple(r for r in reasons if r.code == "116")


def _payer_delay(cfg: SimulatorSettings, payer_id: str) -> float:
    days = PAYERS[payer_id].days_to_pay if payer_id in PAYERS else 0
    return cfg.delay_s + days * cfg.seconds_per_payer_day


def _interchange_id(text: str) -> tuple[str, str]:
    """(ISA06 sender, ISA13 control number), read from the ISA alone."""
    d = delimiters_of(text)
    isa = text[text.find("ISA") :][:ISA_LENGTH].split(d.element)
    return isa[6].strip(), isa[13].strip()


_STORED_SQL = (
    "SELECT r.tenant, r.sender_id, r.interchange_control_number,"
    " encode(sha256(convert_to(r.x12, 'UTF8')), 'hex') FROM received r"
    " JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(tenant, sender, icn)"
    " ON r.tenant = k.tenant AND r.sender_id = k.sender AND r.interchange_control_number = k.icn"
)


async def _stored(
    conn: asyncpg.Connection, keys: set[tuple[str, str, str]]
) -> dict[tuple[str, str, str], str]:
    """The SHA-256 of each stored interchange, by (tenant, ISA06, ISA13)."""
    rows = await conn.fetch(_STORED_SQL, *columns(sorted(keys)))
    return {(r[0], r[1], r[2]): r[3] for r in rows}


async def on_submitted(items: Sequence[tuple[Context, ClaimSubmitted]]) -> None:
    """Every claim of an interchange arrives with the whole interchange; the first to
    arrive stores, reads and acknowledges it, and the others ride on it (their waiting
    acknowledgements are released in their own trace). A rider is compared with what was
    stored by digest; a different interchange under a used control number is refused."""
    conn = items[0][0].conn
    keyed = []
    for ctx, ev in items:
        try:
            sender, icn = _interchange_id(ev.x12)
        except X12Error as exc:
            raise Reject("bad-x12", f"837 envelope unreadable: {exc}") from exc
        digest = hashlib.sha256(ev.x12.encode()).hexdigest()
        keyed.append((ctx, ev, (ctx.meta.tenant, sender, icn), digest))
    stored = await _stored(conn, {key for _, _, key, _ in keyed})
    riders: list[tuple[Context, str]] = []
    for ctx, ev, key, digest in keyed:
        tenant, sender, icn = key
        if key not in stored:
            received_id = await conn.fetchval(
                "INSERT INTO received(tenant, claim_id, event_id, traceparent, x12, sender_id,"
                " interchange_control_number) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                " ON CONFLICT (tenant, sender_id, interchange_control_number)"
                " WHERE sender_id IS NOT NULL DO NOTHING RETURNING id",
                tenant,
                ev.claim_id,
                ctx.meta.id,
                ctx.meta.traceparent,
                ev.x12,
                sender,
                icn,
            )
            if received_id is not None:
                stored[key] = digest
                await _receive(ctx, ev, received_id)
                continue
            stored.update(await _stored(conn, {key}))  # another instance stored it just now
        if stored[key] != digest:
            raise Reject(
                "duplicate-interchange",
                f"ISA13 {icn} from {sender} was already used for another interchange;"
                f" claim {ev.claim_id} is not acknowledged",
            )
        log.debug("interchange %s already acknowledged; claim %s rides on it", icn, ev.claim_id)
        riders.append((ctx, ev.patient_control_number))
    if riders:
        await release_for_claims(riders)


async def _receive(ctx: Context, ev: ClaimSubmitted, received_id: int) -> None:
    try:
        inter = triage_837(ev.x12)
    except X12Error as exc:  # rolls back the received row with the batch
        raise Reject("bad-x12", f"837 envelope unreadable: {exc}") from exc
    await ctx.conn.execute(
        "UPDATE received SET claims = $2 WHERE id = $1",
        received_id,
        sum(1 for _ in inter.claims()),
    )
    await _acknowledge(ctx, ev, inter, received_id)


async def _acknowledge(
    ctx: Context, ev: ClaimSubmitted, inter: Interchange837, received_id: int
) -> None:
    """The interchange's 999 and 277CA: this claim's own acknowledgements are delivered
    now (or after the ack delay), the other claims' wait for their own claim.submitted;
    every accepted claim is queued for its payer. A few statements per interchange."""
    cfg = simulator_settings()
    conn = ctx.conn
    own = ev.patient_control_number
    awaiting = _Awaiting(ctx.meta.tenant, cfg.ack_delay_s)
    submitter = inter.sender_id.strip()
    ack_999 = write_999(inter, envelope=await _envelope(conn, CLEARINGHOUSE_ID, submitter))
    raw = claim_numbers_by_set(ev.x12)
    seen: set[str] = set()
    for group in inter.groups:
        for ts in group.sets:
            if ts.error is None:
                pcns = [c.patient_control_number for c in ts.claims]
                errors: list[HoldReason] = []
            else:
                pcns = raw.get((group.control_number, ts.control_number), [])
                errors = [
                    HoldReason(
                        code="999-R",
                        message=str(ts.error),
                        fix="correct the 837 and resubmit",
                    )
                ]
            for pcn in pcns:
                seen.add(pcn)
                set_ack = ClaimAcknowledged(
                    claim_id=pcn,
                    patient_control_number=pcn,
                    kind=AckKind.ack_999,
                    accepted=ts.error is None,
                    errors=errors,
                    x12=ack_999,
                )
                if pcn == own:
                    await _schedule(ctx, set_ack, correlation_id=pcn, delay_s=cfg.ack_delay_s)
                else:
                    awaiting.add(set_ack, pcn)
    if own not in seen:
        await ctx.emit(
            ClaimAcknowledged(
                claim_id=ev.claim_id,
                patient_control_number=own,
                kind=AckKind.ack_999,
                accepted=False,
                errors=[
                    HoldReason(
                        code="999-NOCLAIM",
                        message=f"claim {own} is not in interchange"
                        f" {inter.interchange_control_number}",
                        fix="resubmit the claim",
                    )
                ],
                x12=ack_999,
            ),
            correlation_id=ev.claim_id,
        )
    claims = list(inter.claims())
    if not claims:
        await awaiting.store(conn)
        return
    today = dt.datetime.now(dt.UTC).date()
    acks = [ClaimAck(c, _edits(c, cfg)) for c in claims]
    text = write_277ca(
        acks,
        envelope=await _envelope(conn, CLEARINGHOUSE_ID, submitter),
        source_name=CLEARINGHOUSE_NAME,
        source_id=CLEARINGHOUSE_ID,
        receiver_name=submitter,
        receiver_id=submitter,
        received=today,
        processed=today,
        batch_reference=inter.interchange_control_number,
        receipt_trace=f"R{received_id}",
    )
    statuses = []
    for ack in acks:
        c = ack.claim
        days = [ln.service_date or c.date_of_service for ln in c.lines]
        statuses.append(
            (
                c.payer_id,
                c.patient_control_number,
                c.member_id,
                c.total_charge_cents,
                min(days),
                max(days),
                ack.reasons[0].category if ack.reasons else None,
                ack.reasons[0].code if ack.reasons else None,
            )
        )
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
        ctx.meta.tenant,
        received_id,
        *columns(statuses),
    )
    for ack in acks:
        c = ack.claim
        pcn = c.patient_control_number
        claim_ack = ClaimAcknowledged(
            claim_id=pcn,
            patient_control_number=pcn,
            kind=AckKind.ack_277ca,
            accepted=ack.accepted,
            errors=[
                HoldReason(
                    code=f"{r.category}:{r.code}",
                    message=r.message,
                    fix="correct the claim and resubmit",
                )
                for r in ack.reasons
            ],
            x12=text,
        )
        status = (c.payer_id, pcn, "pending" if ack.accepted else "rejected")
        if pcn == own:
            await _schedule(
                ctx, claim_ack, correlation_id=pcn, delay_s=cfg.ack_delay_s, status=status
            )
        else:
            awaiting.add(claim_ack, pcn, status)
    await awaiting.store(conn)
    accepted = [a.claim for a in acks if a.accepted]
    if accepted:
        await conn.execute(
            "INSERT INTO pending_adjudications(received_id, tenant, payer_id, billing_npi,"
            " patient_control_number, due_at)"
            " SELECT $1, $2, p, b, n, now() + make_interval(secs => d)"
            " FROM unnest($3::text[], $4::text[], $5::text[], $6::float8[])"
            " WITH ORDINALITY AS a(p, b, n, d, i) ORDER BY i ON CONFLICT DO NOTHING",
            received_id,
            ctx.meta.tenant,
            *columns(
                (c.payer_id, c.billing_npi, c.patient_control_number, _payer_delay(cfg, c.payer_id))
                for c in accepted
            ),
        )


# --- the payers -----------------------------------------------------------------------


@dataclass
class _Batch:
    """The claims of one 835: one tenant, payer and payee."""

    results: list[Adjudication]
    cause: str
    traceparent: str | None


#: Seconds until the soonest delivery, adjudication or correction falls due; None: none
#: waits. Work already due is left out: another instance holds it, or it failed and the
#: timer's pause and period find it again; it must not hide what comes due later.
_NEXT_DUE = (
    "SELECT extract(epoch FROM least("
    "(SELECT min(due_at) FROM scheduled WHERE sent_at IS NULL AND due_at > now()),"
    " (SELECT min(due_at) FROM pending_adjudications WHERE done_at IS NULL AND due_at > now()),"
    " (SELECT min(due_at) FROM corrections WHERE done_at IS NULL AND due_at > now())) - now())"
)


async def adjudicate_due(svc: Service) -> int:
    """One payer cycle: every claim whose delay has passed, one 835 per tenant, payer, payee.

    First releases scheduled deliveries whose time has come (late acknowledgements, 835s
    held back); an 835 sent here with no delay overtakes any still held. A cycle that
    finds nothing asks to run again when the soonest waiting work falls due.
    """
    assert svc.pool is not None
    cfg = simulator_settings()
    done = await release_scheduled(svc)
    async with svc.pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT p.id, p.tenant, p.payer_id, p.billing_npi, p.patient_control_number,"
            " p.received_id, r.event_id, r.traceparent FROM pending_adjudications p"
            " JOIN received r ON r.id = p.received_id WHERE p.done_at IS NULL"
            " AND p.due_at <= now() ORDER BY p.id LIMIT 500 FOR UPDATE OF p SKIP LOCKED"
        )
        fixes = await conn.fetch(
            "SELECT c.* FROM corrections c"
            " WHERE c.done_at IS NULL AND c.due_at <= now() ORDER BY c.id LIMIT 100"
            " FOR UPDATE SKIP LOCKED"
        )
        if rows or fixes:
            await _pay(svc, conn, cfg, rows, fixes)
            done += len(rows) + len(fixes)
        else:
            await svc.wake_when_due(adjudicate_due, conn, _NEXT_DUE)
    return done


async def _pay(
    svc: Service,
    conn: asyncpg.Connection,
    cfg: SimulatorSettings,
    rows: list[asyncpg.Record],
    fixes: list[asyncpg.Record],
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    # Each interchange is read from the database and parsed once per cycle, however
    # many of its claims are due in it (about 25 share one).
    parsed: dict[int, dict[str, ClaimIn]] = {
        r["id"]: {c.patient_control_number: c for c in read_837(r["x12"]).claims()}
        for r in await conn.fetch(
            "SELECT id, x12 FROM received WHERE id = ANY($1::bigint[])",
            list({r["received_id"] for r in [*rows, *fixes]}),
        )
    }

    def claim_of(received_id: int, pcn: str) -> ClaimIn:
        try:
            return parsed[received_id][pcn]
        except KeyError:
            raise X12Error(f"claim {pcn} is not in its interchange") from None

    fixed = [(fix, claim_of(fix["received_id"], fix["patient_control_number"])) for fix in fixes]
    due = [(row, claim_of(row["received_id"], row["patient_control_number"])) for row in rows]
    books = await _Books.load(
        conn,
        [(c, fix["acc_year"]) for fix, c in fixed] + [(c, c.date_of_service.year) for _, c in due],
    )
    batches: dict[tuple[str, str, str], _Batch] = {}
    for fix, claim in fixed:
        key = (fix["tenant"], fix["payer_id"], fix["billing_npi"])
        batch = batches.setdefault(key, _Batch([], fix["event_id"], fix["traceparent"]))
        batch.results += _correct(books, cfg, claim, fix, today)
    for row, claim in due:
        key = (row["tenant"], row["payer_id"], row["billing_npi"])
        batch = batches.setdefault(key, _Batch([], row["event_id"], row["traceparent"]))
        claim = books.with_roster(claim)
        result, acc_before = _adjudicate_one(books, cfg, claim, today, row["tenant"])
        batch.results.append(result)
        rng = random.Random(f"{cfg.seed}:reverse:{claim.patient_control_number}")
        if result.paid_cents > 0 and rng.random() < cfg.reversal_rate:
            await _plan_correction(conn, cfg, row, claim, acc_before, today)
    await books.flush(conn)
    for (tenant, payer_id, npi), batch in batches.items():
        await _send_835(svc, conn, cfg, tenant, payer_id, npi, batch, today)
    if rows:
        await conn.execute(
            "UPDATE pending_adjudications SET done_at = now() WHERE id = ANY($1::bigint[])",
            [r["id"] for r in rows],
        )
    if fixes:
        await conn.execute(
            "UPDATE corrections SET done_at = now() WHERE id = ANY($1::bigint[])",
            [r["id"] for r in fixes],
        )


class _Books:
    """What the payer knows of the members and claims of one cycle: the enrollment
    roster (kept by services/simulator/eligibility.py from encounter.created; a member it
    does not know gets no coverage dates, so CO-26 and CO-27 cannot fire), the members'
    accumulators (locked) and the claims already paid. Read with three queries, changed
    in memory in adjudication order, written back with two (:meth:`flush`)."""

    def __init__(
        self,
        roster: dict[tuple[str, str], tuple[dt.date, dt.date | None]],
        accumulators: dict[tuple[str, str, int], Accumulators],
        paid: set[tuple[str, str]],
    ) -> None:
        self.roster = roster
        self.accumulators = accumulators
        self.paid = paid
        self._acc_changed: set[tuple[str, str, int]] = set()
        self._paid_rows: dict[tuple[str, str], tuple[str, int, str | None, str | None]] = {}

    @classmethod
    async def load(cls, conn: asyncpg.Connection, claims: list[tuple[ClaimIn, int]]) -> _Books:
        """The books for these claims (at least one), each with the plan year its
        accumulators count in."""
        members = sorted({(c.payer_id, c.member_id) for c, _ in claims})
        keys = sorted({(c.payer_id, c.member_id, year) for c, year in claims})
        pcns = sorted({(c.payer_id, c.patient_control_number) for c, _ in claims})
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
        return cls(
            {(r[0], r[1]): (r[2], r[3]) for r in roster},
            {(r[0], r[1], r[2]): Accumulators(r[2], r[3], r[4]) for r in acc},
            {(r[0], r[1]) for r in paid},
        )

    def with_roster(self, claim: ClaimIn) -> ClaimIn:
        """The claim with the member's coverage dates from the payer's roster."""
        dates = self.roster.get((claim.payer_id, claim.member_id))
        if dates is None:
            return claim
        return replace(claim, coverage_effective=dates[0], coverage_termination=dates[1])

    def accumulators_of(self, claim: ClaimIn, year: int) -> Accumulators:
        return self.accumulators.get((claim.payer_id, claim.member_id, year), Accumulators(year))

    def set_accumulators(self, claim: ClaimIn, a: Accumulators) -> None:
        key = (claim.payer_id, claim.member_id, a.year)
        self.accumulators[key] = a
        self._acc_changed.add(key)

    def pay(
        self,
        claim: ClaimIn,
        payer_claim_number: str,
        paid_cents: int,
        *,
        tenant: str | None = None,
        billing_npi: str | None = None,
    ) -> None:
        key = (claim.payer_id, claim.patient_control_number)
        self.paid.add(key)
        self._paid_rows[key] = (payer_claim_number, paid_cents, tenant, billing_npi)

    async def flush(self, conn: asyncpg.Connection) -> None:
        if self._acc_changed:
            keys = sorted(self._acc_changed)
            await conn.execute(
                "INSERT INTO accumulators(payer_id, member_id, year, deductible_met_cents,"
                " oop_met_cents) SELECT * FROM unnest($1::text[], $2::text[], $3::int[],"
                " $4::bigint[], $5::bigint[]) ON CONFLICT (payer_id, member_id, year) DO UPDATE"
                " SET deductible_met_cents = EXCLUDED.deductible_met_cents,"
                " oop_met_cents = EXCLUDED.oop_met_cents",
                *columns(
                    (
                        *k,
                        self.accumulators[k].deductible_met_cents,
                        self.accumulators[k].oop_met_cents,
                    )
                    for k in keys
                ),
            )
        if self._paid_rows:
            # a correction names no tenant or payee: the row it corrects keeps its own
            await conn.execute(
                "INSERT INTO paid_claims(payer_id, patient_control_number, payer_claim_number,"
                " paid_cents, tenant, billing_npi) SELECT * FROM unnest($1::text[], $2::text[],"
                " $3::text[], $4::bigint[], $5::text[], $6::text[])"
                " ON CONFLICT (payer_id, patient_control_number) DO UPDATE SET"
                " payer_claim_number = EXCLUDED.payer_claim_number,"
                " paid_cents = EXCLUDED.paid_cents",
                *columns((*k, *v) for k, v in sorted(self._paid_rows.items())),
            )
        self._acc_changed, self._paid_rows = set(), {}


def _adjudicate_one(
    books: _Books, cfg: SimulatorSettings, claim: ClaimIn, today: dt.date, tenant: str
) -> tuple[Adjudication, Accumulators]:
    """The claim's adjudication, and the accumulators it was adjudicated against."""
    acc = books.accumulators_of(claim, claim.date_of_service.year)
    result = adjudicate(
        claim,
        acc,
        today,
        paid_claims=(
            {claim.patient_control_number}
            if (claim.payer_id, claim.patient_control_number) in books.paid
            else set()
        ),
        rng=random.Random(f"{cfg.seed}:{claim.patient_control_number}"),
        denial_rate=cfg.denial_rate,
        denials=cfg.denials(),
    )
    if result.accumulators is not None:
        books.set_accumulators(claim, result.accumulators)
    if result.paid_cents > 0:
        books.pay(
            claim,
            result.payer_claim_number,
            result.paid_cents,
            tenant=tenant,
            billing_npi=claim.billing_npi,
        )
    return result, acc


async def _plan_correction(
    conn: asyncpg.Connection,
    cfg: SimulatorSettings,
    row: asyncpg.Record,
    claim: ClaimIn,
    acc_before: Accumulators,
    today: dt.date,
) -> None:
    """Remembers what the original adjudication saw, so it can be replayed and reversed."""
    before = await conn.fetchval(
        "SELECT 1 FROM corrections WHERE payer_id = $1 AND patient_control_number = $2",
        claim.payer_id,
        claim.patient_control_number,
    )
    if before:
        return  # one reversal per claim is enough for any test
    await conn.execute(
        "INSERT INTO corrections(tenant, payer_id, billing_npi, received_id,"
        " patient_control_number, event_id, traceparent, adjudicated_on, acc_year,"
        " acc_deductible_cents, acc_oop_cents, due_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
        " now() + make_interval(secs => $12))",
        row["tenant"],
        claim.payer_id,
        claim.billing_npi,
        row["received_id"],
        claim.patient_control_number,
        row["event_id"],
        row["traceparent"],
        today,
        acc_before.year,
        acc_before.deductible_met_cents,
        acc_before.oop_met_cents,
        cfg.reversal_after_s,
    )


def _correct(
    books: _Books,
    cfg: SimulatorSettings,
    claim: ClaimIn,
    fix: asyncpg.Record,
    today: dt.date,
) -> list[Adjudication]:
    """The reversal of a paid claim and its corrected payment (a retroactive fee change)."""
    acc_before = Accumulators(fix["acc_year"], fix["acc_deductible_cents"], fix["acc_oop_cents"])
    plan = payer(claim.payer_id)
    original = adjudicate(
        claim,
        acc_before,
        fix["adjudicated_on"],
        plan=plan,
        rng=random.Random(f"{cfg.seed}:{claim.patient_control_number}"),
        denial_rate=cfg.denial_rate,
        denials=cfg.denials(),
    )
    corrected_plan = replace(plan, fees=scaled(plan.fees, cfg.correction_factor))
    corrected = adjudicate(claim, acc_before, fix["adjudicated_on"], plan=corrected_plan)
    corrected = replace(
        corrected,
        payer_claim_number=payer_claim_number(replace(claim, frequency_code="7")),
        received=today,
    )
    # The member's accumulators move by the difference the correction made.
    now = books.accumulators_of(claim, fix["acc_year"])
    assert original.accumulators is not None
    assert corrected.accumulators is not None
    books.set_accumulators(
        claim,
        Accumulators(
            now.year,
            now.deductible_met_cents
            + corrected.accumulators.deductible_met_cents
            - original.accumulators.deductible_met_cents,
            now.oop_met_cents
            + corrected.accumulators.oop_met_cents
            - original.accumulators.oop_met_cents,
        ),
    )
    books.pay(
        claim,
        corrected.payer_claim_number,
        corrected.paid_cents,
        tenant=fix["tenant"],
        billing_npi=fix["billing_npi"],
    )
    return [reverse(original, today), corrected]


async def _provider_adjustments(
    conn: asyncpg.Connection,
    cfg: SimulatorSettings,
    tenant: str,
    payer_id: str,
    npi: str,
    trace: str,
    results: list[Adjudication],
) -> list[ProviderAdjustment]:
    rng = random.Random(f"{cfg.seed}:plb:{trace}")
    if cfg.plb_rate <= 0 or rng.random() >= cfg.plb_rate:
        return []
    in_batch = {r.claim.patient_control_number for r in results}
    if rng.random() < 0.5:
        earlier = await conn.fetch(
            "SELECT patient_control_number, payer_claim_number, paid_cents FROM paid_claims"
            " WHERE payer_id = $1 AND tenant = $2 AND billing_npi = $3 AND paid_cents > 0"
            " ORDER BY patient_control_number",
            payer_id,
            tenant,
            npi,
        )
        earlier = [e for e in earlier if e["patient_control_number"] not in in_batch]
        room = payment_total(results)
        if earlier and room > 0:
            e = rng.choice(earlier)
            amount = min(max(1, e["paid_cents"] // 10), room)
            await conn.execute(
                "UPDATE paid_claims SET paid_cents = paid_cents - $3"
                " WHERE payer_id = $1 AND patient_control_number = $2",
                payer_id,
                e["patient_control_number"],
                amount,
            )
            return [recoupment(amount, e["payer_claim_number"])]
    paid = [r for r in results if r.paid_cents > 0 and r.status != "22"]
    if not paid:
        return []
    r = rng.choice(paid)
    amount = max(1, int(r.paid_cents * cfg.interest_rate))
    return [interest(amount, r.payer_claim_number)]


async def _send_835(
    svc: Service,
    conn: asyncpg.Connection,
    cfg: SimulatorSettings,
    tenant: str,
    payer_id: str,
    npi: str,
    batch: _Batch,
    today: dt.date,
) -> None:
    s = settings()
    plan = payer(payer_id)
    seq = await conn.fetchval("SELECT nextval('trace_numbers')")
    trace = f"{payer_id}{today:%y%m%d}{seq:08d}"
    plb = await _provider_adjustments(conn, cfg, tenant, payer_id, npi, trace, batch.results)
    text = write_835(
        batch.results,
        plan=plan,
        envelope=await _envelope(conn, payer_id, s.x12_submitter_id),
        payment_date=today,
        trace_number=trace,
        adjustments=plb,
    )
    rng = random.Random(f"{cfg.seed}:deliver:{trace}")
    twice = rng.random() < cfg.duplicate_835_rate
    late = rng.random() < cfg.out_of_order_rate
    await conn.execute(
        "INSERT INTO remits(trace_number, tenant, payer_id, claims, x12, deliveries)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        trace,
        tenant,
        payer_id,
        len(batch.results),
        text,
        2 if twice else 1,
    )
    await conn.executemany(
        "UPDATE claim_status SET state = 'finalized', category = $3, code = $4,"
        " payer_claim_number = $5, paid_cents = $6, adjudicated_on = $7, trace_number = $8,"
        " updated_at = now() WHERE payer_id = $1 AND patient_control_number = $2",
        [
            (
                payer_id,
                r.claim.patient_control_number,
                *_final_status(r),
                r.payer_claim_number,
                r.paid_cents,
                today,
                trace,
            )
            for r in batch.results
        ],
    )
    ctx = svc.context(
        conn, tenant=tenant, correlation_id=trace, cause=batch.cause, traceparent=batch.traceparent
    )
    event = RemitReceived(trace_number=trace, payer_id=payer_id, source="simulator", x12=text)
    for _ in range(2 if twice else 1):
        await _schedule(
            ctx, event, correlation_id=trace, delay_s=cfg.out_of_order_s if late else 0.0
        )


def _final_status(r: Adjudication) -> tuple[str, str]:
    if r.status == "22":
        return x12_status.REVERSED
    if r.paid_cents > 0:
        return x12_status.PAID
    if r.denied:
        return x12_status.DENIED
    return x12_status.NO_PAYMENT
