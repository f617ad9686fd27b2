"""The payer cycle, a timer: scheduled deliveries released, then every claim whose delay
has passed adjudicated and paid, one 835 per tenant, payer and payee.

A cycle that finds nothing asks to run again when the soonest waiting work falls due
(``Service.wake_when_due`` names the timer to wake, so the timer is a ``PayerCycle``
object that knows itself, rather than a function).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

from runtime.service import Service
from runtime.x12 import X12Error
from services.simulator import delivery, payer, replaced, repository, repository_mailbox, secondary
from services.simulator.config import SimulatorSettings
from services.simulator.model import Accumulators, Adjudication, ClaimIn
from services.simulator.payers import payer as plan_of
from services.simulator.x12_835 import ProviderAdjustment, write_835
from services.simulator.x12_837 import read_837


@dataclass(eq=False)
class PayerCycle:
    """One payer cycle per call (register it with ``Service.every``)."""

    cfg: SimulatorSettings

    async def __call__(self, svc: Service) -> int:
        """Adjudicates what is due; its 835s become answer files (mailbox.py)."""
        assert svc.pool is not None
        done = 0
        async with svc.pool.acquire() as conn, conn.transaction():
            rows = await repository.due_adjudications(conn)
            fixes = await repository.due_corrections(conn)
            if rows or fixes:
                await pay(svc, conn, self.cfg, rows, fixes)
                done += len(rows) + len(fixes)
            else:
                await svc.wake_when_due(self, conn, repository.NEXT_DUE)
        return done


async def _claims_of(
    conn: asyncpg.Connection, rows: list[asyncpg.Record]
) -> list[tuple[asyncpg.Record, ClaimIn]]:
    """Each queue row with its claim. Each interchange is read from the database and
    parsed once per cycle, however many of its claims are due in it (about 25 share one)."""
    parsed: dict[int, dict[str, ClaimIn]] = {
        r["id"]: {c.patient_control_number: c for c in read_837(r["x12"]).claims()}
        for r in await repository.received_x12(conn, list({r["received_id"] for r in rows}))
    }

    def claim_of(received_id: int, pcn: str) -> ClaimIn:
        try:
            return parsed[received_id][pcn]
        except KeyError:
            raise X12Error(f"claim {pcn} is not in its interchange") from None

    return [(r, claim_of(r["received_id"], r["patient_control_number"])) for r in rows]


async def pay(
    svc: Service,
    conn: asyncpg.Connection,
    cfg: SimulatorSettings,
    rows: list[asyncpg.Record],
    fixes: list[asyncpg.Record],
) -> None:
    """Adjudicates the due claims and corrections against the books, one 835 a batch."""
    today = dt.datetime.now(dt.UTC).date()
    both = await _claims_of(conn, [*rows, *fixes])
    fixed, due = both[len(rows) :], both[: len(rows)]
    wanted = [(c, fix["acc_year"]) for fix, c in fixed] + [
        (c, c.date_of_service.year) for _, c in due
    ]
    books = payer.Books.from_rows(*await repository.read_books(conn, *payer.Books.keys(wanted)))
    batches: dict[tuple[str, str, str], payer.Batch] = {}
    answered: replaced.Answered = []
    for fix, claim in fixed:
        key = (fix["tenant"], fix["payer_id"], fix["billing_npi"])
        cause = payer.cause_of(fix["event_id"])
        batch = batches.setdefault(key, payer.Batch([], cause, fix["traceparent"]))
        before = Accumulators(fix["acc_year"], fix["acc_deductible_cents"], fix["acc_oop_cents"])
        corrected = payer.correct(books, cfg, claim, fix, today)
        batch.results += corrected
        answered += [(fix["tenant"], r, before) for r in corrected]
    standing = await replaced.standing(conn, [c for _, c in due])
    crossed: dict[tuple[str, str, str], payer.Batch] = {}  # the next payers' 835s, later
    for row, claim in due:
        key = (row["tenant"], row["payer_id"], row["billing_npi"])
        batch = batches.setdefault(key, payer.Batch([], row["event_id"], row["traceparent"]))
        claim = books.with_roster(claim)
        if await _take_back(conn, books, row, claim, standing, batch, answered, today):
            continue  # a void: the reversal is its whole answer
        result, acc_before = payer.adjudicate_one(books, cfg, claim, today, row["tenant"])
        answered.append((row["tenant"], result, acc_before))
        onward = secondary.crossover(claim, result, plan_of(claim.payer_id))
        if onward is not None and not payer.crosses_over(cfg, claim):
            onward = None
        if onward is not None:  # the payer forwards it: the next payer answers it itself
            result = secondary.forwarded(result, plan_of(onward.payer_id))
            later, _ = payer.adjudicate_one(
                books, cfg, books.with_roster(onward), today, row["tenant"]
            )
            ckey = (row["tenant"], onward.payer_id, row["billing_npi"])
            cbatch = crossed.setdefault(ckey, payer.Batch([], row["event_id"], row["traceparent"]))
            cbatch.results.append(later)
            answered.append((row["tenant"], later, None))
        batch.results.append(result)
        if onward is None and payer.reversed_later(cfg, claim, result):
            await _plan_correction(conn, cfg, row, claim, acc_before, today)
        elif onward is None and payer.appealable(result):  # kept for an appeal
            await _plan_correction(conn, cfg, row, claim, acc_before, today, appeal=True)
    await replaced.remember(conn, answered)
    accumulators, paid = books.changes()
    if accumulators:
        await repository.write_accumulators(conn, accumulators)
    if paid:
        await repository.write_paid(conn, paid)
    for (tenant, payer_id, npi), batch in batches.items():
        if not batch.results:  # a void with nothing to reverse
            continue
        await _send_835(svc, conn, cfg, tenant, payer_id, npi, batch, today)
    for (tenant, payer_id, npi), batch in crossed.items():  # after the primary's, its delay
        delay = payer.payer_delay(cfg, payer_id)
        await _send_835(svc, conn, cfg, tenant, payer_id, npi, batch, today, delay_s=delay)
    await repository.mark_done(conn, [r["id"] for r in rows], [r["id"] for r in fixes])


async def _take_back(
    conn: asyncpg.Connection,
    books: payer.Books,
    row: asyncpg.Record,
    claim: ClaimIn,
    standing: dict[tuple[str, str], replaced.Standing],
    batch: payer.Batch,
    answered: replaced.Answered,
    today: dt.date,
) -> bool:
    """A replacement or void of a claim whose answer moved money: that answer's reversal
    goes into the batch first (and planned reprocessings of it are dropped). True for a
    void: the reversal, if any, is its whole answer; a void is never adjudicated."""
    if not replaced.replaces(claim):
        return False
    found = standing.pop((claim.payer_id, claim.patient_control_number), None)
    if found is not None:
        reversal = replaced.take_back(books, claim, found, row["payer_id"], today)
        batch.results.append(reversal)
        answered.append((row["tenant"], reversal, None))
        books.pay(
            claim, found.payer_claim_number, 0, tenant=row["tenant"], billing_npi=claim.billing_npi
        )
        await replaced.drop_plans(conn, claim)
    return claim.frequency_code == replaced.VOID


async def _plan_correction(
    conn: asyncpg.Connection,
    cfg: SimulatorSettings,
    row: asyncpg.Record,
    claim: ClaimIn,
    acc_before: Accumulators,
    today: dt.date,
    *,
    appeal: bool = False,
) -> None:
    """Remembers what the original adjudication saw, so it can be replayed and reversed:
    after ``reversal_after_s``, or (``appeal``) once an appeal of the claim arrives."""
    if await repository.correction_planned(conn, claim.payer_id, claim.patient_control_number):
        return  # one reversal per claim is enough for any test
    await repository.plan_correction(
        conn,
        row["tenant"],
        claim.payer_id,
        claim.billing_npi,
        row["received_id"],
        claim.patient_control_number,
        payer.APPEAL_WAIT + row["event_id"] if appeal else row["event_id"],
        row["traceparent"],
        today,
        acc_before.year,
        acc_before.deductible_met_cents,
        acc_before.oop_met_cents,
        payer.APPEAL_WAIT_S if appeal else cfg.reversal_after_s,
    )


async def _provider_adjustments(
    conn: asyncpg.Connection,
    cfg: SimulatorSettings,
    tenant: str,
    payer_id: str,
    npi: str,
    trace: str,
    results: list[Adjudication],
) -> list[ProviderAdjustment]:
    rng, kind = payer.plb_draw(cfg, trace)
    if kind is None:
        return []
    if kind == "recoupment":
        earlier = await repository.paid_to_payee(conn, payer_id, tenant, npi)
        taken = payer.recoupment_from(rng, earlier, results)
        if taken is not None:
            pcn, adjustment = taken
            await repository.recoup(conn, payer_id, pcn, adjustment.amount_cents)
            return [adjustment]
    return payer.interest_on(rng, cfg, results)


async def _send_835(
    svc: Service,
    conn: asyncpg.Connection,
    cfg: SimulatorSettings,
    tenant: str,
    payer_id: str,
    npi: str,
    batch: payer.Batch,
    today: dt.date,
    *,
    delay_s: float = 0.0,
) -> None:
    trace = payer.trace_number(payer_id, today, await repository.next_trace_sequence(conn))
    plb = await _provider_adjustments(conn, cfg, tenant, payer_id, npi, trace, batch.results)
    icn = await repository.next_interchange_control(conn)
    text = write_835(
        batch.results,
        plan=plan_of(payer_id),
        envelope=delivery.envelope(svc.settings, icn, payer_id, svc.settings.x12_submitter_id),
        payment_date=today,
        trace_number=trace,
        adjustments=plb,
    )
    twice, late = payer.delivery_faults(cfg, trace)
    deliveries = 2 if twice else 1
    await repository.store_remit(
        conn, trace, tenant, payer_id, len(batch.results), text, deliveries
    )
    await repository.finalize_statuses(
        conn,
        (
            (
                payer_id,
                r.claim.patient_control_number,
                *payer.final_status(r),
                r.payer_claim_number,
                r.paid_cents,
                today,
                trace,
            )
            for r in batch.results
        ),
    )
    delay_s += cfg.out_of_order_s if late else 0.0
    # a file in the mailbox's inbound folder (delivered twice: under two names)
    names = [f"{trace}.835", f"{trace}-2.835"][:deliveries]
    await repository_mailbox.queue_files(conn, [(n, "835", text, [], delay_s) for n in names])
