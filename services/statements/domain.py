"""Patient A/R: ledger postings, payment application, statement figures. Pure, no I/O.

The ledger is one signed amount per posting, in integer cents, per guarantor and claim
(claim ``None``: the account's unapplied money, a credit when negative). Charges and
refunds are positive; payments and adjustments are negative; so for any set of postings

    balance = charges - payments - adjustments = sum(amount_cents)

where payments are insurance payments plus patient payments net of refunds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from schemas.common import Coverage
from schemas.events import ClaimAdjudicated
from services.statements.descriptions import describe
from services.statements.payer_kinds import MEDICAID, MEDICARE
from services.statements.practice import Practice

DUE_DAYS = 30
BUCKETS = ((30, "0-30"), (60, "31-60"), (90, "61-90"), (120, "91-120"))
BUCKET_LABELS = ("0-30", "31-60", "61-90", "91-120", "120+")

CHARGES = frozenset({"charge"})
INSURANCE = frozenset({"insurance_payment"})
ADJUSTMENTS = frozenset({"contractual", "adjustment", "self_pay_discount", "write_off", "transfer"})
PATIENT = frozenset({"patient_payment", "credit_applied", "refund"})
KINDS = CHARGES | INSURANCE | ADJUSTMENTS | PATIENT

# CLP02: the payer forwarded the claim to the next payer (crossover).
FORWARDED = frozenset({"19", "20", "21"})
# CLP02: processed as secondary or tertiary.
LATER_PAYER_STATUS = frozenset({"2", "3", "20", "21"})


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str
    amount_cents: int
    reason: str | None = None


def entries_for(adj: ClaimAdjudicated) -> list[Entry]:
    """What the primary payer's decision does to the claim's balance.

    Each primary adjudication posts its full picture: the charge, the payment and every
    non-patient adjustment, so what remains is the patient's share. A reversal carries
    the same amounts negated and so cancels the adjudication it reverses; the corrected
    adjudication that follows posts afresh.
    """
    out = [Entry("charge", adj.charge_cents)]
    if adj.paid_cents:
        out.append(Entry("insurance_payment", -adj.paid_cents))
    for a in adj.adjustments:
        if a.group == "PR" or a.amount_cents == 0:
            continue
        kind = "contractual" if a.group == "CO" else "adjustment"
        out.append(Entry(kind, -a.amount_cents, f"{a.group}-{a.reason}"))
    return out


def cob_entries(adj: ClaimAdjudicated, insurance_side_cents: int) -> list[Entry]:
    """A secondary (or tertiary) payer's decision: the charge is already on the claim.

    ``insurance_side_cents`` is what the claim's charges, insurance payments and
    adjustments leave today (the previous payer's patient share). The later payer's
    payment is posted, and one coordination-of-benefits adjustment brings the remainder
    to the later payer's patient responsibility, so the patient owes exactly that.
    """
    out: list[Entry] = []
    if adj.paid_cents:
        out.append(Entry("insurance_payment", -adj.paid_cents))
    cob = adj.patient_responsibility_cents - (insurance_side_cents - adj.paid_cents)
    if cob:
        out.append(Entry("adjustment", cob, "COB"))
    return out


def self_pay_entries(total_charge_cents: int, discount_percent: Decimal) -> list[Entry]:
    """A self-pay visit: the charge and the practice's self-pay discount (half-up cents)."""
    discount = int(
        (Decimal(total_charge_cents) * discount_percent / 100).quantize(
            Decimal(1), rounding=ROUND_HALF_UP
        )
    )
    out = [Entry("charge", total_charge_cents)]
    if discount:
        out.append(Entry("self_pay_discount", -discount, f"{discount_percent}%"))
    return out


@dataclass(frozen=True, slots=True)
class Totals:
    """A set of postings by category. ``balance_cents`` is their plain sum."""

    charges_cents: int = 0
    insurance_paid_cents: int = 0
    adjustments_cents: int = 0
    patient_paid_cents: int = 0
    balance_cents: int = 0

    @property
    def payments_cents(self) -> int:
        return self.insurance_paid_cents + self.patient_paid_cents

    @property
    def insurance_side_cents(self) -> int:
        """What charges, insurance and adjustments leave: the patient's share."""
        return self.charges_cents - self.insurance_paid_cents - self.adjustments_cents


def totals(postings: Iterable[tuple[str, int]]) -> Totals:
    charges = insurance = adjustments = patient = balance = 0
    for kind, amount in postings:
        balance += amount
        if kind in CHARGES:
            charges += amount
        elif kind in INSURANCE:
            insurance -= amount
        elif kind in ADJUSTMENTS:
            adjustments -= amount
        elif kind in PATIENT:
            patient -= amount
        else:
            raise ValueError(f"unknown ledger kind {kind!r}")
    return Totals(charges, insurance, adjustments, patient, balance)


def allocate(
    amount_cents: int, open_balances: Sequence[tuple[str, int]], preferred: str | None = None
) -> tuple[list[tuple[str, int]], int]:
    """Spreads a payment over open claim balances, oldest first (``open_balances`` comes
    oldest first); a named claim is paid first. Returns (claim, cents) pairs and what is
    left over, which becomes a credit on the account. Never pays a claim past zero."""
    if amount_cents < 0:
        raise ValueError("a payment is positive")
    order = sorted(open_balances, key=lambda cb: cb[0] != preferred) if preferred else open_balances
    left = amount_cents
    out: list[tuple[str, int]] = []
    for claim_id, balance in order:
        if left == 0:
            break
        if balance <= 0:
            continue
        take = min(balance, left)
        out.append((claim_id, take))
        left -= take
    return out, left


def aging_bucket(service_or_first_billed: dt.date, today: dt.date) -> str:
    days = (today - service_or_first_billed).days
    for limit, label in BUCKETS:
        if days <= limit:
            return label
    return "120+"


def due_date(statement_date: dt.date, days: int = DUE_DAYS) -> dt.date:
    return statement_date + dt.timedelta(days=days)


def message_for(bucket: str, *, collections: bool, practice: str, phone: str) -> str:
    """What the statement says to the patient; firmer as the balance ages."""
    if collections:
        return (
            "FINAL NOTICE. Your account is more than 120 days past due and has been flagged "
            f"for referral to a collection agency. Please pay today or call {phone} to "
            "arrange a payment plan."
        )
    return {
        "0-30": f"Thank you for choosing {practice}. Your insurance has processed your "
        "visit; the amount below is your share. Questions? We are happy to help.",
        "31-60": "REMINDER: part of your balance is past due. Please pay the amount due, "
        f"or call {phone} if you would like a payment plan.",
        "61-90": "SECOND NOTICE: your balance is more than 60 days past due. Please pay "
        f"now or call {phone} within 10 days to discuss your account.",
        "91-120": "PAST DUE: your balance is more than 90 days past due. If we do not "
        "receive payment or hear from you by the due date, your account may be referred "
        "to a collection agency.",
        "120+": "FINAL NOTICE. Your account is seriously past due. Please pay today or "
        f"call {phone}.",
    }[bucket]


# --- coordination of benefits -------------------------------------------------


def _covers(c: Coverage, on: dt.date) -> bool:
    return c.effective_date <= on and (c.termination_date is None or on <= c.termination_date)


def in_force(coverages: Iterable[Coverage], on: dt.date) -> list[Coverage]:
    return sorted((c for c in coverages if _covers(c, on)), key=lambda c: c.priority)


def payer_rank(adj: ClaimAdjudicated, coverages: Sequence[Coverage], on: dt.date) -> int:
    """1 for the primary payer, 2 for the secondary... from the encounter's coverages in
    force, else from CLP02; a payer not on the encounter counts as primary."""
    for n, c in enumerate(in_force(coverages, on), start=1):
        if c.payer_id == adj.payer_id:
            return n
    if adj.claim_status_code in ("2", "20"):
        return 2
    if adj.claim_status_code in ("3", "21"):
        return 3
    return 1


def later_payers(coverages: Sequence[Coverage], on: dt.date, rank: int) -> set[str]:
    """The payers ranked after ``rank`` among the coverages in force."""
    return {c.payer_id for c in in_force(coverages, on)[rank:]}


@dataclass(frozen=True, slots=True)
class Finality:
    final: bool
    hold_until: dt.date | None = None
    why: str = ""


def finality(
    adj: ClaimAdjudicated,
    rank: int,
    coverages: Sequence[Coverage],
    on: dt.date,
    *,
    today: dt.date,
    hold_for_secondary: bool,
    wait_days: int,
    later_answered: bool = False,
) -> Finality:
    """Is insurance done with this claim, so the patient can be billed?

    - A reversal: no; a corrected adjudication will follow.
    - The payer forwarded the claim to the next payer (CLP02 19/20/21, a crossover): no,
      until that payer's adjudication arrives or ``wait_days`` pass.
    - Another coverage in force ranks after this payer: no, likewise, but only when
      ``hold_for_secondary`` is on and the claims service sends it on (a payment that
      leaves the patient a share).
    - A later payer has already answered the claim (``later_answered``: the primary
      reprocessed it after the secondary paid): yes; the later payer's payment stands and
      the patient owes what the new answer leaves less it, billed now (the claim is not
      sent to the later payer again).
    - Otherwise: yes.
    """
    if adj.status.value == "reversed":
        return Finality(False, None, "reversed")
    if later_answered:
        return Finality(True)
    later = len(in_force(coverages, on)) > rank
    if adj.claim_status_code in FORWARDED or (later and adj.crossed_over):
        return Finality(False, today + dt.timedelta(days=wait_days), "forwarded")
    # a later payer is billed only for a payment that leaves the patient a share
    # (services/claims/cob.py): a denial or a claim paid in full is final now
    goes_on = (
        adj.status.value in ("paid", "partially_paid") and adj.patient_responsibility_cents > 0
    )
    if later and hold_for_secondary and goes_on:
        return Finality(False, today + dt.timedelta(days=wait_days), "secondary pending")
    return Finality(True)


#: The ledger reason of a QMB patient's Medicare cost sharing written off.
QMB = "QMB"


def qmb(
    coverages: Sequence[Coverage], on: dt.date, filing: Mapping[str, str] | None = None
) -> bool:
    """Is the patient a qualified Medicare beneficiary on this date: Medicare and a
    Medicaid QMB plan in force? Federal law (SSA 1902(n)(3)(B)) forbids billing such a
    patient Medicare's deductible, coinsurance or copays. Which coverage is Medicare or
    Medicaid is its claim filing indicator (the coverage's, else ``filing``: payer id ->
    indicator from the payer directory file), never the payer id."""
    known = filing or {}

    def kind(c: Coverage) -> str:
        return c.filing_indicator or known.get(c.payer_id, "")

    covs = in_force(coverages, on)
    medicare = any(kind(c) in MEDICARE for c in covs)
    return medicare and any(kind(c) in MEDICAID and "QMB" in c.plan.upper() for c in covs)


def qmb_write_off(patient_share_cents: int) -> list[Entry]:
    """A QMB patient's share once insurance is final: written off, never billed."""
    if patient_share_cents <= 0:
        return []
    return [Entry("adjustment", -patient_share_cents, QMB)]


# --- the statement ----------------------------------------------------------------


@dataclass(slots=True)
class ClaimOnStatement:
    claim_id: str
    patient_name: str
    date_of_service: dt.date
    lines: list[dict[str, Any]]
    postings: list[tuple[str, int]]
    first_billed_on: dt.date | None
    self_pay: bool = False
    line_detail: dict[int, dict[str, int]] = field(default_factory=dict)
    billing_provider: dict[str, Any] | None = None  # as the claim billed it


def build_statement(
    *,
    statement_id: str,
    today: dt.date,
    due_days: int,
    collections_after_days: int,
    practice: Practice,
    guarantor: Mapping[str, Any],
    claims: Sequence[ClaimOnStatement],
    unapplied: Sequence[tuple[str, int]],
    cpt_file: Path | None = None,
) -> dict[str, Any]:
    """The statement as one JSON-ready document, every figure from the ledger postings.

    ``claims`` are the account's open claims (a balance to pay), ``unapplied`` the
    postings not on any claim (payments beyond what was owed: a credit).
    """
    aging = dict.fromkeys(BUCKET_LABELS, 0)
    out_claims = []
    oldest_days = 0
    for c in sorted(claims, key=lambda c: (c.date_of_service, c.claim_id)):
        billed_on = c.first_billed_on or today
        oldest_days = max(oldest_days, (today - billed_on).days)
        doc = _claim_document(c, aging_bucket(billed_on, today), billed_on, cpt_file)
        aging[doc["aging_bucket"]] += doc["balance_cents"]
        out_claims.append(doc)
    claim_totals = totals(p for c in claims for p in c.postings)
    credit = totals(unapplied)
    balance = claim_totals.balance_cents + credit.balance_cents
    bucket = aging_bucket(today - dt.timedelta(days=oldest_days), today)
    collections = oldest_days > collections_after_days
    return {
        "statement_id": statement_id,
        "statement_date": str(today),
        "due_date": str(due_date(today, due_days)),
        "practice": practice.header(),
        "guarantor": dict(guarantor),
        "claims": out_claims,
        "totals": {
            "charges_cents": claim_totals.charges_cents,
            "insurance_paid_cents": claim_totals.insurance_paid_cents,
            "adjustments_cents": claim_totals.adjustments_cents,
            "patient_paid_cents": claim_totals.patient_paid_cents,
            "claims_balance_cents": claim_totals.balance_cents,
            "credit_cents": -credit.balance_cents,
        },
        "balance_cents": balance,
        "amount_due_cents": max(0, balance),
        "aging": aging,
        "aging_bucket": bucket,
        "collections": collections,
        "message": message_for(
            bucket, collections=collections, practice=practice.name, phone=practice.contact
        ),
        "how_to_pay": how_to_pay(practice, statement_id),
    }


def how_to_pay(practice: Practice, statement_id: str) -> list[str]:
    """The ways to pay this practice offers: a way nobody configured is left out."""
    ways = []
    if practice.pay_url:
        ways.append(f"Online: {practice.pay_url} (card or bank account)")
    if practice.phone:
        hours = f", {practice.hours}" if practice.hours else ""
        ways.append(f"By phone: {practice.phone}{hours}")
    where = ", ".join(x for x in (practice.street, practice.city_line) if x)
    ways.append(
        f"By mail: check payable to {practice.name}{', ' + where if where else ''}. "
        f"Write statement {statement_id} on the check."
    )
    return ways


def _claim_document(
    c: ClaimOnStatement, bucket: str, billed_on: dt.date, cpt_file: Path | None
) -> dict[str, Any]:
    """One visit on the statement: its lines as billed and its figures from the ledger."""
    t = totals(c.postings)
    lines = []
    for n, ln in enumerate(c.lines, start=1):
        detail = c.line_detail.get(n, {})
        lines.append(
            {
                "date": str(c.date_of_service),
                "code": ln["code"],
                "modifiers": ln.get("modifiers") or [],
                "units": ln.get("units", 1),
                "description": describe(ln["code"], cpt_file),
                "charge_cents": ln["charge_cents"],
                "insurance_paid_cents": detail.get("paid_cents"),
                "adjustments_cents": detail.get("adjusted_cents"),
            }
        )
    return {
        "claim_id": c.claim_id,
        "patient_name": c.patient_name,
        "date_of_service": str(c.date_of_service),
        "self_pay": c.self_pay,
        "first_billed_on": str(billed_on),
        "aging_bucket": bucket,
        "lines": lines,
        "charges_cents": t.charges_cents,
        "insurance_paid_cents": t.insurance_paid_cents,
        "adjustments_cents": t.adjustments_cents,
        "patient_paid_cents": t.patient_paid_cents,
        "balance_cents": t.balance_cents,
    }


def money(cents: int | None) -> str:
    """$1,234.56 / -$12.00; an empty string for None."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}${whole:,}.{part:02d}"
