"""Underpayments on a later payer's answer (issue 29 part 5, secondary and crossover
payers). Pure.

A later payer (CLP02 2, 3, 20, 21) pays what the prior payers left, up to what its own
contract allows: on each line it owes

    min(left, max(0, contracted - prior paid))

where ``contracted`` is its contract's rate in force on the date of service (times the
units, at most the charge), ``prior paid`` what the earlier payers' postings paid on the
line (their reversals netted), and ``left`` the patient share they left, as the later
payer states it: the charge less its CAS 23 (the prior payers' impact). A line paid short
of that by more than the threshold is an underpayment, its expected amount what the
payer owed and its allowed amount what it paid. A line without CAS 23, whose prior
payment is not posted (yet), a denied line, or a code no rate prices is not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from services.remittance.domain.adjudication import line_denied
from services.remittance.domain.contracts import Book, cents
from services.remittance.domain.ledger import LATER_PAYER, Underpayment
from services.remittance.x12_835.model import RemitClaim

PRIOR_IMPACT = "23"


def later_underpayments(
    clp: RemitClaim, book: Book, threshold_cents: int, prior_paid: Mapping[int, int]
) -> list[Underpayment]:
    """The later payer's lines paid short of what its contract makes it owe."""
    if not book or clp.status_code not in LATER_PAYER:
        return []
    out: list[Underpayment] = []
    for n, line in enumerate(clp.lines, start=1):
        day = line.service_date or clp.statement_from or clp.statement_to
        impact = sum(c.amount.cents for c in line.adjustments if c.reason == PRIOR_IMPACT)
        if day is None or not impact or n not in prior_paid or line.charge.cents <= 0:
            continue
        if line_denied(line) and line.paid.cents == 0 and impact >= line.charge.cents:
            continue  # nothing was left to pay
        try:
            units = Decimal(line.units or "1")
        except InvalidOperation:
            continue
        found = book.expected(line.procedure, line.modifiers, clp.facility_code, day)
        if found is None:
            continue
        contracted = min(cents(found.per_unit_cents, units), line.charge.cents)
        left = line.charge.cents - impact
        owed = min(left, max(0, contracted - prior_paid[n]))
        if owed - line.paid.cents > threshold_cents:
            out.append(
                Underpayment(n, line.procedure, ":".join(line.modifiers), line.units, day,
                             line.paid.cents, line.paid.cents, owed,
                             f"{found.rate.basis}, as a later payer")
            )  # fmt: skip
    return out
