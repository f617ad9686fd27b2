"""Coordination of benefits, pure: which payer a claim goes to after the one that just
answered, and what that payer's answer says to the next (837P loops 2320/2330/2430).

The encounter's coverages give the order (priority 1, 2, 3, those in force on the date
of service). When a payer's 835 posts a payment that leaves the patient a share and a
next payer exists:

- the payer crossed the claim over itself (``ClaimAdjudicated.crossed_over``: 835
  NM1*TT, RARC MA18 or N89): the claim waits for the next payer's 835, no claim is sent;
- otherwise the claim goes to the next payer with every earlier payer's adjudication.

A denied claim, a reversal, or a payment that leaves the patient nothing goes no
further: there is nothing for a later payer to coordinate.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import Field

from schemas.common import Adjustment, Contract, Coverage
from schemas.events import AdjudicationStatus, ClaimAdjudicated, ClaimLine


class Next(StrEnum):
    SEND = "send"  # build the next payer's 837P
    CROSSOVER = "crossover"  # the payer forwarded it: wait for the next payer's 835


@dataclass(frozen=True, slots=True)
class Onward:
    how: Next
    level: int  # the next payer's place: 2 secondary, 3 tertiary
    coverage: Coverage  # the next payer's
    current: Coverage  # the coverage of the payer that answered


class PriorLine(Contract):
    """One service line as an earlier payer adjudicated it (loop 2430)."""

    line_number: int
    procedure_code: str
    modifiers: list[str] = Field(default_factory=list)
    units: int = 1
    paid_cents: int
    adjustments: list[Adjustment] = Field(default_factory=list)


class PriorPayer(Contract):
    """An earlier payer's adjudication of the claim: 2320, 2330A/B and 2430 of the next
    payer's claim."""

    coverage: Coverage
    level: int
    payer_claim_number: str | None = None
    adjudicated_on: dt.date
    paid_cents: int
    patient_responsibility_cents: int
    claim_adjustments: list[Adjustment] = Field(default_factory=list)  # claim-level CAS
    lines: list[PriorLine] = Field(default_factory=list)


class Cob(Contract):
    """The claim's other payers as its 837P reports them (2320/2330): those that answered
    before the payer billed now (``level``, ``coverage``), and those after it."""

    level: int
    coverage: Coverage
    prior: list[PriorPayer] = Field(default_factory=list)
    later: list[Coverage] = Field(default_factory=list)


def in_force(coverages: Sequence[Coverage], on: dt.date) -> list[Coverage]:
    """The coverages in force on the date of service, primary first."""
    return sorted(
        (
            c
            for c in coverages
            if c.effective_date <= on and (c.termination_date is None or on <= c.termination_date)
        ),
        key=lambda c: c.priority,
    )


def later_payers(coverages: Sequence[Coverage], on: dt.date, payer_id: str) -> list[Coverage]:
    """The coverages after ``payer_id``'s in the claim's order (none if it is not there)."""
    order = in_force(coverages, on)
    at = next((n for n, c in enumerate(order) if c.payer_id == payer_id), None)
    return [] if at is None else order[at + 1 :]


def onward(ev: ClaimAdjudicated, coverages: Sequence[Coverage], on: dt.date) -> Onward | None:
    """Where the claim goes after ``ev``'s payer, if anywhere."""
    if ev.status not in (AdjudicationStatus.paid, AdjudicationStatus.partially_paid):
        return None
    if ev.patient_responsibility_cents <= 0:
        return None
    order = in_force(coverages, on)
    at = next((n for n, c in enumerate(order) if c.payer_id == ev.payer_id), None)
    if at is None or at + 1 >= len(order):
        return None
    how = Next.CROSSOVER if ev.crossed_over else Next.SEND
    return Onward(how, at + 2, order[at + 1], order[at])


def claim_level(ev: ClaimAdjudicated) -> list[Adjustment]:
    """The claim-level CAS of an 835 claim: its adjustments less its lines' (the event
    carries claim and line CAS together)."""
    left = Counter((a.group, a.reason, a.amount_cents) for ln in ev.lines for a in ln.adjustments)
    out: list[Adjustment] = []
    for a in ev.adjustments:
        key = (a.group, a.reason, a.amount_cents)
        if left[key] > 0:
            left[key] -= 1
        else:
            out.append(a)
    return out


def prior_payer(ev: ClaimAdjudicated, coverage: Coverage, level: int) -> PriorPayer:
    """The payer's answer as the next payer's claim reports it."""
    return PriorPayer(
        coverage=coverage,
        level=level,
        payer_claim_number=ev.payer_claim_number,
        adjudicated_on=ev.payment_date or dt.datetime.now(dt.UTC).date(),
        paid_cents=ev.paid_cents,
        patient_responsibility_cents=ev.patient_responsibility_cents,
        claim_adjustments=claim_level(ev),
        lines=[
            PriorLine(
                line_number=ln.line_number,
                procedure_code=ln.procedure_code,
                modifiers=list(ln.modifiers),
                units=max(1, ln.units),
                paid_cents=ln.paid_cents,
                adjustments=list(ln.adjustments),
            )
            for ln in ev.lines
        ],
    )


def lines_match(prior: PriorPayer, lines: Sequence[ClaimLine]) -> bool:
    """Can the payer's answer be reported line by line (2430)? Every billed line has
    the payer's line for it, in order, and each balances: charge = paid + its CAS."""
    if len(prior.lines) != len(lines):
        return False
    for ours, theirs in zip(lines, prior.lines, strict=True):
        if ours.procedure_code != theirs.procedure_code:
            return False
        cas = sum(a.amount_cents for a in theirs.adjustments)
        if ours.charge_cents != theirs.paid_cents + cas:
            return False
    return True
