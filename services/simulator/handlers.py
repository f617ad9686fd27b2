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
from dataclasses import dataclass, replace

import asyncpg

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
    await_claim: str | None = None,
) -> None:
    """Emits now, or (delay_s > 0) stores the event for release_scheduled to emit later.

    ``status`` (payer id, claim, state) is the claim status the delivery makes true.
    ``await_claim``: the event is for another claim of the interchange; it waits for that
    claim's own claim.submitted (see release_for_claim), so it joins that claim's trace.
    """
    if await_claim is not None:
        await ctx.conn.execute(
            "INSERT INTO scheduled(tenant, correlation_id, event_type, body, payer_id,"
            " patient_control_number, ack_state, await_claim, delay_s)"
            " VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9)",
            ctx.meta.tenant,
            correlation_id,
            event.TYPE,
            event.model_dump_json(),
            status[0] if status else None,
            status[1] if status else None,
            status[2] if status else None,
            await_claim,
            delay_s,
        )
        return
    if delay_s <= 0:
        await ctx.emit(event, correlation_id=correlation_id)
        if status is not None:
            await _set_state(ctx.conn, *status)
        return
    await ctx.conn.execute(
        "INSERT INTO scheduled(tenant, correlation_id, cause, traceparent, event_type, body,"
        " payer_id, patient_control_number, ack_state, due_at)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, now() + make_interval(secs => $10))",
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


async def release_for_claim(ctx: Context, pcn: str) -> None:
    """The acknowledgements waiting for this claim's own claim.submitted: emitted now (or
    scheduled after the configured ack delay) in this message's context and trace."""
    rows = await ctx.conn.fetch(
        "UPDATE scheduled SET await_claim = NULL, cause = $3, traceparent = $4,"
        " due_at = now() + make_interval(secs => delay_s),"
        " sent_at = CASE WHEN delay_s <= 0 THEN now() END"
        " WHERE tenant = $1 AND await_claim = $2 AND due_at IS NULL"
        " RETURNING id, correlation_id, event_type, body, delay_s, payer_id,"
        " patient_control_number, ack_state",
        ctx.meta.tenant,
        pcn,
        ctx.meta.id,
        ctx.meta.traceparent,
    )
    for row in sorted(rows, key=lambda r: r["id"]):
        if row["delay_s"] > 0:
            continue
        event = SCHEDULABLE[row["event_type"]].model_validate_json(row["body"])
        await ctx.emit(event, correlation_id=row["correlation_id"])
        if row["ack_state"]:
            await _set_state(
                ctx.conn, row["payer_id"], row["patient_control_number"], row["ack_state"]
            )


async def _set_state(conn: asyncpg.Connection, payer_id: str, pcn: str, state: str) -> None:
    """received -> pending or rejected once the 277CA is out; never backwards."""
    await conn.execute(
        "UPDATE claim_status SET state = $3, updated_at = now()"
        " WHERE payer_id = $1 AND patient_control_number = $2 AND state = 'received'",
        payer_id,
        pcn,
        state,
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
            if row["ack_state"]:
                await _set_state(
                    conn, row["payer_id"], row["patient_control_number"], row["ack_state"]
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


async def on_submitted(ctx: Context, ev: ClaimSubmitted) -> None:
    try:
        sender, icn = _interchange_id(ev.x12)
    except X12Error as exc:
        raise Reject("bad-x12", f"837 envelope unreadable: {exc}") from exc
    conn = ctx.conn
    # Every claim of an interchange arrives with the whole interchange; only the first
    # reads and stores it. The others are compared by digest, not by sending it again.
    digest = hashlib.sha256(ev.x12.encode()).hexdigest()
    same_sql = (
        "SELECT encode(sha256(convert_to(x12, 'UTF8')), 'hex') = $4 FROM received"
        " WHERE tenant = $1 AND sender_id = $2 AND interchange_control_number = $3"
    )
    same = await conn.fetchval(same_sql, ctx.meta.tenant, sender, icn, digest)
    received_id = None
    if same is None:
        received_id = await conn.fetchval(
            "INSERT INTO received(tenant, claim_id, event_id, traceparent, x12, sender_id,"
            " interchange_control_number) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (tenant, sender_id, interchange_control_number)"
            " WHERE sender_id IS NOT NULL DO NOTHING RETURNING id",
            ctx.meta.tenant,
            ev.claim_id,
            ctx.meta.id,
            ctx.meta.traceparent,
            ev.x12,
            sender,
            icn,
        )
        if received_id is None:  # another instance stored it just now
            same = await conn.fetchval(same_sql, ctx.meta.tenant, sender, icn, digest)
    if received_id is None:
        if not same:
            raise Reject(
                "duplicate-interchange",
                f"ISA13 {icn} from {sender} was already used for another interchange;"
                f" claim {ev.claim_id} is not acknowledged",
            )
        log.debug("interchange %s already acknowledged; claim %s rides on it", icn, ev.claim_id)
        await release_for_claim(ctx, ev.patient_control_number)
        return
    try:
        inter = triage_837(ev.x12)
    except X12Error as exc:  # rolls back the received row with the message's savepoint
        raise Reject("bad-x12", f"837 envelope unreadable: {exc}") from exc
    await conn.execute(
        "UPDATE received SET claims = $2 WHERE id = $1",
        received_id,
        sum(1 for _ in inter.claims()),
    )
    await _acknowledge(ctx, ev, inter, received_id)


async def _acknowledge(
    ctx: Context, ev: ClaimSubmitted, inter: Interchange837, received_id: int
) -> None:
    cfg = simulator_settings()
    conn = ctx.conn
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
                await _schedule(
                    ctx,
                    ClaimAcknowledged(
                        claim_id=pcn,
                        patient_control_number=pcn,
                        kind=AckKind.ack_999,
                        accepted=ts.error is None,
                        errors=errors,
                        x12=ack_999,
                    ),
                    correlation_id=pcn,
                    delay_s=cfg.ack_delay_s,
                    await_claim=None if pcn == ev.patient_control_number else pcn,
                )
    if ev.patient_control_number not in seen:
        await ctx.emit(
            ClaimAcknowledged(
                claim_id=ev.claim_id,
                patient_control_number=ev.patient_control_number,
                kind=AckKind.ack_999,
                accepted=False,
                errors=[
                    HoldReason(
                        code="999-NOCLAIM",
                        message=f"claim {ev.patient_control_number} is not in interchange"
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
    for ack in acks:
        c = ack.claim
        days = [ln.service_date or c.date_of_service for ln in c.lines]
        await conn.execute(
            "INSERT INTO claim_status(payer_id, patient_control_number, tenant, member_id,"
            " received_id, charge_cents, service_from, service_to, state, category, code)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'received', $9, $10)"
            " ON CONFLICT (payer_id, patient_control_number) DO UPDATE SET"
            " tenant = EXCLUDED.tenant, member_id = EXCLUDED.member_id,"
            " received_id = EXCLUDED.received_id, charge_cents = EXCLUDED.charge_cents,"
            " service_from = EXCLUDED.service_from, service_to = EXCLUDED.service_to,"
            " state = 'received', category = EXCLUDED.category, code = EXCLUDED.code,"
            " payer_claim_number = NULL, paid_cents = NULL, adjudicated_on = NULL,"
            " trace_number = NULL, updated_at = now()",
            c.payer_id,
            c.patient_control_number,
            ctx.meta.tenant,
            c.member_id,
            received_id,
            c.total_charge_cents,
            min(days),
            max(days),
            ack.reasons[0].category if ack.reasons else None,
            ack.reasons[0].code if ack.reasons else None,
        )
        errors = [
            HoldReason(
                code=f"{r.category}:{r.code}",
                message=r.message,
                fix="correct the claim and resubmit",
            )
            for r in ack.reasons
        ]
        await _schedule(
            ctx,
            ClaimAcknowledged(
                claim_id=c.patient_control_number,
                patient_control_number=c.patient_control_number,
                kind=AckKind.ack_277ca,
                accepted=ack.accepted,
                errors=errors,
                x12=text,
            ),
            correlation_id=c.patient_control_number,
            delay_s=cfg.ack_delay_s,
            status=(
                c.payer_id,
                c.patient_control_number,
                "pending" if ack.accepted else "rejected",
            ),
            await_claim=(
                None
                if c.patient_control_number == ev.patient_control_number
                else c.patient_control_number
            ),
        )
        if ack.accepted:
            await conn.execute(
                "INSERT INTO pending_adjudications(received_id, tenant, payer_id, billing_npi,"
                " patient_control_number, due_at)"
                " VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))"
                " ON CONFLICT DO NOTHING",
                received_id,
                ctx.meta.tenant,
                c.payer_id,
                c.billing_npi,
                c.patient_control_number,
                _payer_delay(cfg, c.payer_id),
            )


# --- the payers -----------------------------------------------------------------------


@dataclass
class _Batch:
    """The claims of one 835: one tenant, payer and payee."""

    results: list[Adjudication]
    cause: str
    traceparent: str | None


async def adjudicate_due(svc: Service) -> int:
    """One payer cycle: every claim whose delay has passed, one 835 per tenant, payer, payee.

    First releases scheduled deliveries whose time has come (late acknowledgements, 835s
    held back); an 835 sent here with no delay overtakes any still held.
    """
    assert svc.pool is not None
    cfg = simulator_settings()
    done = await release_scheduled(svc)
    async with svc.pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT p.id, p.tenant, p.payer_id, p.billing_npi, p.patient_control_number,"
            " p.received_id, r.x12, r.event_id, r.traceparent FROM pending_adjudications p"
            " JOIN received r ON r.id = p.received_id WHERE p.done_at IS NULL"
            " AND p.due_at <= now() ORDER BY p.id LIMIT 500 FOR UPDATE OF p SKIP LOCKED"
        )
        fixes = await conn.fetch(
            "SELECT c.*, r.x12 FROM corrections c JOIN received r ON r.id = c.received_id"
            " WHERE c.done_at IS NULL AND c.due_at <= now() ORDER BY c.id LIMIT 100"
            " FOR UPDATE OF c SKIP LOCKED"
        )
        if rows or fixes:
            await _pay(svc, conn, cfg, rows, fixes)
            done += len(rows) + len(fixes)
    return done


async def _pay(
    svc: Service,
    conn: asyncpg.Connection,
    cfg: SimulatorSettings,
    rows: list[asyncpg.Record],
    fixes: list[asyncpg.Record],
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    parsed: dict[int, dict[str, ClaimIn]] = {}

    def claim_of(received_id: int, x12: str, pcn: str) -> ClaimIn:
        if received_id not in parsed:
            parsed[received_id] = {c.patient_control_number: c for c in read_837(x12).claims()}
        try:
            return parsed[received_id][pcn]
        except KeyError:
            raise X12Error(f"claim {pcn} is not in its interchange") from None

    batches: dict[tuple[str, str, str], _Batch] = {}
    for fix in fixes:
        key = (fix["tenant"], fix["payer_id"], fix["billing_npi"])
        batch = batches.setdefault(key, _Batch([], fix["event_id"], fix["traceparent"]))
        claim = claim_of(fix["received_id"], fix["x12"], fix["patient_control_number"])
        batch.results += await _correct(conn, cfg, claim, fix, today)
    for row in rows:
        key = (row["tenant"], row["payer_id"], row["billing_npi"])
        batch = batches.setdefault(key, _Batch([], row["event_id"], row["traceparent"]))
        claim = await _with_roster(
            conn, claim_of(row["received_id"], row["x12"], row["patient_control_number"])
        )
        result, acc_before = await _adjudicate_one(conn, cfg, claim, today, row["tenant"])
        batch.results.append(result)
        rng = random.Random(f"{cfg.seed}:reverse:{claim.patient_control_number}")
        if result.paid_cents > 0 and rng.random() < cfg.reversal_rate:
            await _plan_correction(conn, cfg, row, claim, acc_before, today)
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


async def _with_roster(conn: asyncpg.Connection, claim: ClaimIn) -> ClaimIn:
    """The claim with the member's coverage dates from the payer's enrollment roster.

    The roster (``enrollment``, migration 0002_eligibility_roster, kept by
    services/simulator/eligibility.py) is fed from encounter.created. A member it does not know gets no coverage dates, so CO-26 and
    CO-27 cannot fire for them.
    """
    row = await conn.fetchrow(
        "SELECT effective_date, termination_date FROM enrollment"
        " WHERE payer_id = $1 AND member_id = $2",
        claim.payer_id,
        claim.member_id,
    )
    if row is None:
        return claim
    return replace(
        claim,
        coverage_effective=row["effective_date"],
        coverage_termination=row["termination_date"],
    )


async def _adjudicate_one(
    conn: asyncpg.Connection, cfg: SimulatorSettings, claim: ClaimIn, today: dt.date, tenant: str
) -> tuple[Adjudication, Accumulators]:
    """The claim's adjudication, and the accumulators it was adjudicated against."""
    year = claim.date_of_service.year
    acc = await _accumulators(conn, claim, year)
    paid_before = await conn.fetch(
        "SELECT patient_control_number FROM paid_claims WHERE payer_id = $1 AND"
        " patient_control_number = $2",
        claim.payer_id,
        claim.patient_control_number,
    )
    result = adjudicate(
        claim,
        acc,
        today,
        paid_claims={r[0] for r in paid_before},
        rng=random.Random(f"{cfg.seed}:{claim.patient_control_number}"),
        denial_rate=cfg.denial_rate,
        denials=cfg.denials(),
    )
    if result.accumulators is not None:
        await _store_accumulators(conn, claim, result.accumulators)
    if result.paid_cents > 0:
        await conn.execute(
            "INSERT INTO paid_claims(payer_id, patient_control_number, payer_claim_number,"
            " paid_cents, tenant, billing_npi) VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT (payer_id, patient_control_number) DO UPDATE SET"
            " payer_claim_number = EXCLUDED.payer_claim_number, paid_cents = EXCLUDED.paid_cents",
            claim.payer_id,
            claim.patient_control_number,
            result.payer_claim_number,
            result.paid_cents,
            tenant,
            claim.billing_npi,
        )
    return result, acc


async def _accumulators(conn: asyncpg.Connection, claim: ClaimIn, year: int) -> Accumulators:
    row = await conn.fetchrow(
        "SELECT deductible_met_cents, oop_met_cents FROM accumulators"
        " WHERE payer_id = $1 AND member_id = $2 AND year = $3 FOR UPDATE",
        claim.payer_id,
        claim.member_id,
        year,
    )
    return Accumulators(year, row[0], row[1]) if row else Accumulators(year)


async def _store_accumulators(conn: asyncpg.Connection, claim: ClaimIn, a: Accumulators) -> None:
    await conn.execute(
        "INSERT INTO accumulators(payer_id, member_id, year, deductible_met_cents, oop_met_cents)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (payer_id, member_id, year) DO UPDATE SET"
        " deductible_met_cents = EXCLUDED.deductible_met_cents,"
        " oop_met_cents = EXCLUDED.oop_met_cents",
        claim.payer_id,
        claim.member_id,
        a.year,
        a.deductible_met_cents,
        a.oop_met_cents,
    )


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


async def _correct(
    conn: asyncpg.Connection,
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
    now = await _accumulators(conn, claim, fix["acc_year"])
    assert original.accumulators is not None
    assert corrected.accumulators is not None
    await _store_accumulators(
        conn,
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
    await conn.execute(
        "UPDATE paid_claims SET payer_claim_number = $3, paid_cents = $4"
        " WHERE payer_id = $1 AND patient_control_number = $2",
        claim.payer_id,
        claim.patient_control_number,
        corrected.payer_claim_number,
        corrected.paid_cents,
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
