"""A replacement (frequency 7) or a void (8) at the simulated payer.

The payer keeps its last answer that moved money for each claim (table ``answers``:
the lines and amounts its 835 sent, and how far it moved the member's accumulators).
A replacement arriving for a claim with such an answer is answered with the reversal of
that answer (CLP02 22, every amount negated, its payer claim number) and then the
replacement's own adjudication, in the same 835; a void gets the reversal only. The
accumulators move back by what the reversed answer added, before the replacement is
adjudicated. A claim whose last answer was a full denial (nothing paid, nothing the
patient's) has nothing to reverse: its replacement is adjudicated as any claim.

Every answer the payer cycle sends is remembered here (:func:`remember`), the
reversals and corrected payments of :func:`services.simulator.payer.correct` too, so a
later replacement reverses the answer that stands. Its statements are here, not in
repository.py (at the house's size limit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
import orjson

from services.simulator.adjudicate import REVERSAL, reverse
from services.simulator.model import DENIED, Accumulators, Adjudication, Cas, ClaimIn, LineResult
from services.simulator.payer import Books

REPLACEMENT, VOID = "7", "8"

_READ = (
    "SELECT payer_id, patient_control_number, answer FROM answers"
    " WHERE (payer_id, patient_control_number) IN"
    " (SELECT * FROM unnest($1::text[], $2::text[])) FOR UPDATE"
)
_UPSERT = (
    "INSERT INTO answers(payer_id, patient_control_number, tenant, payer_claim_number, answer)"
    " VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (payer_id, patient_control_number)"
    " DO UPDATE SET tenant = EXCLUDED.tenant, payer_claim_number = EXCLUDED.payer_claim_number,"
    " answer = EXCLUDED.answer, answered_at = now()"
)
_FORGET = "DELETE FROM answers WHERE payer_id = $1 AND patient_control_number = $2"
#: A replaced or voided claim's planned reprocessing (a retroactive reversal, a row
#: kept for an appeal) would reverse an answer that no longer stands: it is dropped.
_DROP_PLANS = (
    "UPDATE corrections SET done_at = now() WHERE payer_id = $1"
    " AND patient_control_number = $2 AND done_at IS NULL"
)


@dataclass(frozen=True, slots=True)
class Standing:
    """The answer that stands for one claim, read back: what a reversal negates."""

    status: str
    payer_claim_number: str
    frequency_code: str
    charge_cents: int
    paid_cents: int
    patient_responsibility_cents: int
    lines: tuple[LineResult, ...]
    claim_adjustments: tuple[Cas, ...]
    #: (plan year, deductible, out-of-pocket) the answer added to the accumulators.
    moved: tuple[int, int, int] | None


def replaces(claim: ClaimIn) -> bool:
    return claim.frequency_code in (REPLACEMENT, VOID)


def moved_money(result: Adjudication) -> bool:
    return result.status != DENIED and (
        result.paid_cents != 0 or result.patient_responsibility_cents != 0
    )


def _cas(items: Sequence[Cas]) -> list[list[Any]]:
    return [[c.group, c.reason, c.amount_cents] for c in items]


def to_json(result: Adjudication, before: Accumulators | None) -> bytes:
    moved = None
    if before is not None and result.accumulators is not None:
        after = result.accumulators
        moved = [
            before.year,
            after.deductible_met_cents - before.deductible_met_cents,
            after.oop_met_cents - before.oop_met_cents,
        ]
    lines = [
        {
            "n": ln.line_number,
            "code": ln.procedure_code,
            "mods": list(ln.modifiers),
            "units": ln.units,
            "charge": ln.charge_cents,
            "allowed": ln.allowed_cents,
            "paid": ln.paid_cents,
            "cas": _cas(ln.adjustments),
            "remarks": list(ln.remarks),
            "date": ln.service_date.isoformat(),
            "ref": ln.control_number,
            "denied": ln.denied,
        }
        for ln in result.lines
    ]
    return orjson.dumps(
        {
            "status": result.status,
            "number": result.payer_claim_number,
            "freq": result.claim.frequency_code,
            "charge": result.charge_cents,
            "paid": result.paid_cents,
            "pr": result.patient_responsibility_cents,
            "lines": lines,
            "claim_cas": _cas(result.claim_adjustments),
            "moved": moved,
        }
    )


def from_json(raw: str | bytes) -> Standing:
    a = orjson.loads(raw)
    lines = tuple(
        LineResult(
            line_number=ln["n"],
            procedure_code=ln["code"],
            modifiers=tuple(ln["mods"]),
            units=ln["units"],
            charge_cents=ln["charge"],
            allowed_cents=ln["allowed"],
            paid_cents=ln["paid"],
            adjustments=tuple(Cas(*c) for c in ln["cas"]),
            remarks=tuple(ln["remarks"]),
            service_date=dt.date.fromisoformat(ln["date"]),
            control_number=ln["ref"],
            denied=ln["denied"],
        )
        for ln in a["lines"]
    )
    return Standing(
        status=a["status"],
        payer_claim_number=a["number"],
        frequency_code=a["freq"],
        charge_cents=a["charge"],
        paid_cents=a["paid"],
        patient_responsibility_cents=a["pr"],
        lines=lines,
        claim_adjustments=tuple(Cas(*c) for c in a["claim_cas"]),
        moved=(a["moved"][0], a["moved"][1], a["moved"][2]) if a["moved"] else None,
    )


def take_back(
    books: Books, claim: ClaimIn, standing: Standing, payer_id: str, today: dt.date
) -> Adjudication:
    """The reversal of the standing answer (sent ahead of the replacement's answer), the
    member's accumulators moved back by what it added. Pure but for ``books``."""
    answered = Adjudication(
        claim=replace(claim, frequency_code=standing.frequency_code),
        payer_id=payer_id,
        status=standing.status,
        payer_claim_number=standing.payer_claim_number,
        charge_cents=standing.charge_cents,
        paid_cents=standing.paid_cents,
        patient_responsibility_cents=standing.patient_responsibility_cents,
        lines=standing.lines,
        claim_adjustments=standing.claim_adjustments,
    )
    if standing.moved is not None:
        year, deductible, oop = standing.moved
        now = books.accumulators_of(claim, year)
        books.set_accumulators(
            claim,
            Accumulators(
                year,
                max(0, now.deductible_met_cents - deductible),
                max(0, now.oop_met_cents - oop),
            ),
        )
    return reverse(answered, today)


async def standing(
    conn: asyncpg.Connection, claims: Iterable[ClaimIn]
) -> dict[tuple[str, str], Standing]:
    """The standing answers of these replacement and void claims, locked."""
    keys = sorted({(c.payer_id, c.patient_control_number) for c in claims if replaces(c)})
    if not keys:
        return {}
    rows = await conn.fetch(_READ, [k[0] for k in keys], [k[1] for k in keys])
    return {(r["payer_id"], r["patient_control_number"]): from_json(r["answer"]) for r in rows}


async def drop_plans(conn: asyncpg.Connection, claim: ClaimIn) -> None:
    await conn.execute(_DROP_PLANS, claim.payer_id, claim.patient_control_number)


#: What the payer cycle answered: (tenant, the answer, the accumulators it saw).
Answered = list[tuple[str, Adjudication, Accumulators | None]]


async def remember(conn: asyncpg.Connection, answered: Answered) -> None:
    """Keeps each claim's answer that now stands, in the order the 835s carry them: a
    reversal forgets the claim's answer, an answer that moved money replaces it."""
    for tenant, result, before in answered:
        key = (result.payer_id, result.claim.patient_control_number)
        if result.status == REVERSAL:
            await conn.execute(_FORGET, *key)
        elif moved_money(result):
            await conn.execute(
                _UPSERT,
                *key,
                tenant,
                result.payer_claim_number,
                to_json(result, before).decode(),
            )
