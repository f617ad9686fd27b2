"""How a CLP posts: the claim's ledger rows by category, and the lines allowed below the
contract in force on their date of service. Pure."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from services.remittance.domain.adjudication import DENIED, REVERSAL, line_denied
from services.remittance.domain.contracts import Book, cents
from services.remittance.x12_835.model import RemitClaim, RemitLine

_PATIENT_SHARE = {"1": "deductible", "2": "coinsurance", "3": "copay"}


def ledger_category(group: str, reason: str) -> str:
    """What a CAS amount is on the ledger."""
    if group == "CO":
        return "contractual"
    if group == "PR":
        return _PATIENT_SHARE.get(reason, "patient_other")
    return "other_adjustment"


class LedgerRow(NamedTuple):
    line_number: int  # 0: claim level
    procedure: str | None
    kind: str  # charge | payment | adjustment
    group: str | None
    reason: str | None
    amount_cents: int  # + charge, - payment, - adjustment (as the CLP states them)
    category: str


def ledger_rows(clp: RemitClaim) -> list[LedgerRow]:
    """The claim's ledger, per line: charge, payment, then each CAS by category.

    Line charges and payments post on their lines; whatever the claim states beyond its
    lines (no lines, or claim-level CAS moving the payment) posts on line 0, so the rows
    always sum to the claim's own charge and paid. A reversal posts its stated (negative)
    amounts, which undo the original's rows.
    """
    rows: list[LedgerRow] = []
    line_charge = line_paid = 0
    for n, line in enumerate(clp.lines, start=1):
        line_charge += line.charge.cents
        line_paid += line.paid.cents
        rows.append(LedgerRow(n, line.procedure, "charge", None, None, line.charge.cents, "charge"))
        rows.append(
            LedgerRow(n, line.procedure, "payment", None, None, -line.paid.cents, "payment")
        )
    if not clp.lines or clp.charge.cents != line_charge:
        rows.append(
            LedgerRow(0, None, "charge", None, None, clp.charge.cents - line_charge, "charge")
        )
    if not clp.lines or clp.paid.cents != line_paid:
        rows.append(
            LedgerRow(0, None, "payment", None, None, line_paid - clp.paid.cents, "payment")
        )
    for c in clp.adjustments:
        rows.append(
            LedgerRow(
                0,
                None,
                "adjustment",
                c.group,
                c.reason,
                -c.amount.cents,
                ledger_category(c.group, c.reason),
            )
        )
    for n, line in enumerate(clp.lines, start=1):
        for c in line.adjustments:
            rows.append(
                LedgerRow(
                    n,
                    line.procedure,
                    "adjustment",
                    c.group,
                    c.reason,
                    -c.amount.cents,
                    ledger_category(c.group, c.reason),
                )
            )
    return rows


# --- underpayment --------------------------------------------------------------------------


class Underpayment(NamedTuple):
    line_number: int
    procedure: str
    modifiers: str  # colon-joined, as SVC01 states them
    units: str
    service_date: dt.date
    allowed_cents: int
    paid_cents: int
    contracted_cents: int  # expected: min(rate x units, charge)
    basis: str  # the contract rate, in words

    @property
    def shortfall_cents(self) -> int:
        return self.contracted_cents - self.allowed_cents


def line_allowed(line: RemitLine) -> int:
    """AMT*B6 when stated, else what was paid plus what the patient owes."""
    if line.allowed is not None:
        return line.allowed.cents
    pr = sum(c.amount.cents for c in line.adjustments if c.group == "PR")
    return line.paid.cents + pr


#: CLP02 of a claim processed as secondary or tertiary (coordination of benefits).
LATER_PAYER = ("2", "3", "20", "21")


def underpayments(clp: RemitClaim, book: Book, threshold_cents: int = 0) -> list[Underpayment]:
    """Paid lines allowed below the contract in force on their date of service by more
    than ``threshold_cents``: expected min(rate x units, charge).

    Denied lines are denials, not underpayments; reversals, a later payer's answers
    (CLP02 2, 3, 20, 21: it pays what the prior payer left, not its fee), lines without a
    date of service (SVC DTM, else the claim's statement dates) and codes no rate in force
    prices are not checked. The place of service is CLP08 (a professional claim's).
    """
    if not book or clp.status_code in (REVERSAL, DENIED, *LATER_PAYER):
        return []
    out: list[Underpayment] = []
    for n, line in enumerate(clp.lines, start=1):
        day = line.service_date or clp.statement_from or clp.statement_to
        if day is None or line_denied(line) or line.charge.cents <= 0:
            continue
        try:
            units = Decimal(line.units or "1")
        except InvalidOperation:
            continue
        found = book.expected(line.procedure, line.modifiers, clp.facility_code, day)
        if found is None:
            continue
        expected = min(cents(found.per_unit_cents, units), line.charge.cents)
        allowed = line_allowed(line)
        if expected - allowed > threshold_cents:
            out.append(
                Underpayment(n, line.procedure, ":".join(line.modifiers), line.units, day,
                             allowed, line.paid.cents, expected, found.rate.basis)
            )  # fmt: skip
    return out
