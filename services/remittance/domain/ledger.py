"""How a CLP posts: the claim's ledger rows by category, and the lines allowed below the
contracted fee. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import NamedTuple

from services.remittance.domain.adjudication import DENIED, REVERSAL, line_denied
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
    units: str
    allowed_cents: int
    contracted_cents: int

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


def underpayments(clp: RemitClaim, fees: Mapping[str, int]) -> list[Underpayment]:
    """Paid lines allowed below the contract: min(fee x units, charge), fees per unit.

    Denied lines are denials, not underpayments; reversals, a later payer's answers
    (CLP02 2, 3, 20, 21: it pays what the prior payer left, not its fee) and codes
    without a contracted fee are not checked.
    """
    if clp.status_code in (REVERSAL, DENIED, *LATER_PAYER):
        return []
    out: list[Underpayment] = []
    for n, line in enumerate(clp.lines, start=1):
        fee = fees.get(line.procedure)
        if fee is None or line_denied(line) or line.charge.cents <= 0:
            continue
        try:
            units = Decimal(line.units or "1")
        except InvalidOperation:
            continue
        contracted = int((Decimal(fee) * units).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        expected = min(contracted, line.charge.cents)
        allowed = line_allowed(line)
        if allowed < expected:
            out.append(Underpayment(n, line.procedure, line.units, allowed, expected))
    return out
