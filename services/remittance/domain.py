"""Remittance decisions: what a CLP means for the claim, how it posts, what it matches. Pure."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import NamedTuple

from runtime.x12 import X12Error, d8, segments
from schemas.common import Adjustment
from schemas.events import AdjudicatedLine, AdjudicationStatus, ClaimAdjudicated
from services.remittance.x12_835.model import Cas, RemitClaim, RemitLine

DENIED = "4"
REVERSAL = "22"

# CARC -> what a biller does about a denial (any group but PR; OA is a valid 5010 group).
#: Fix the claim and resubmit: coding, modifiers, missing or invalid data, wrong payer.
CORRECTABLE = frozenset(
    {
        "4",  # modifier inconsistent with the procedure or missing
        "5",  # procedure/bill type inconsistent with the place of service
        "6",  # procedure/revenue code inconsistent with the patient's age
        "7",  # procedure inconsistent with the patient's gender
        "8",  # procedure inconsistent with the provider type/specialty
        "9",  # diagnosis inconsistent with the patient's age
        "10",  # diagnosis inconsistent with the patient's gender
        "11",  # diagnosis inconsistent with the procedure
        "15",  # authorization number missing, invalid or not for this service
        "16",  # claim lacks information or has billing errors
        "18",  # exact duplicate: resubmit as a replacement if a change was meant
        "22",  # may be covered by another payer (coordination of benefits)
        "24",  # covered under a capitation agreement / managed care plan
        "26",  # expenses incurred before coverage
        "27",  # expenses incurred after coverage terminated
        "31",  # patient cannot be identified as our insured
        "97",  # included in another service: missing modifier (25, 59)
        "107",  # related or qualifying claim not received
        "109",  # not covered by this payer: send to the correct payer
        "125",  # submission/billing error
        "140",  # patient/insured health identification number and name do not match
        "146",  # diagnosis invalid for the date of service
        "181",  # procedure code invalid on the date of service
        "182",  # modifier invalid on the date of service
        "206",  # NPI missing
        "207",  # NPI invalid
        "208",  # NPI does not match
        "252",  # an attachment or other documentation is required
    }
)
#: Dispute with the payer: necessity, coverage judgement, authorization, frequency.
APPEALABLE = frozenset(
    {
        "39",  # denied when authorization was requested
        "50",  # not deemed a medical necessity
        "55",  # experimental or investigational
        "56",  # not proven effective
        "96",  # non-covered charge
        "150",  # level of service not supported
        "151",  # frequency not supported
        "152",  # length of service not supported
        "167",  # diagnosis not covered
        "197",  # precertification/authorization absent
        "198",  # precertification/authorization exceeded
        "234",  # procedure not paid separately
        "236",  # procedure or modifier combination not compatible (NCCI)
    }
)
#: Nothing to fix or dispute: the amount is written off.
WRITE_OFF = frozenset(
    {
        "29",  # timely filing limit expired
        "119",  # benefit maximum reached
        "204",  # not covered under the patient's benefit plan
        "B7",  # provider not certified for this procedure on this date
        "B9",  # patient enrolled in hospice
    }
)
#: Reductions that are not denials: fee schedule, prior payer, sequestration, interest.
NOT_A_DENIAL = frozenset({"23", "45", "59", "94", "144", "253"})


def reason_category(reason: str) -> str:
    """correctable | appealable | write_off for a denying CARC."""
    if reason in CORRECTABLE:
        return "correctable"
    if reason in APPEALABLE:
        return "appealable"
    return "write_off"


_PATIENT_SHARE = {"1": "deductible", "2": "coinsurance", "3": "copay"}


def ledger_category(group: str, reason: str) -> str:
    """What a CAS amount is on the ledger."""
    if group == "CO":
        return "contractual"
    if group == "PR":
        return _PATIENT_SHARE.get(reason, "patient_other")
    return "other_adjustment"


def _adjustment(c: Cas) -> Adjustment:
    return Adjustment(group=c.group, reason=c.reason, amount_cents=c.amount.cents)


def _patient_owes(cas: tuple[Cas, ...]) -> bool:
    return any(c.group == "PR" and c.amount.cents > 0 for c in cas)


def _line_denied(line: RemitLine) -> bool:
    return line.paid.cents == 0 and line.charge.cents > 0 and not _patient_owes(line.adjustments)


def status_of(clp: RemitClaim) -> AdjudicationStatus:
    if clp.status_code == REVERSAL:
        return AdjudicationStatus.reversed
    if clp.status_code == DENIED or (clp.paid.cents == 0 and clp.patient_responsibility_cents == 0):
        return AdjudicationStatus.denied
    if any(_line_denied(line) for line in clp.lines):
        return AdjudicationStatus.partially_paid
    return AdjudicationStatus.paid


class Denial(NamedTuple):
    line_number: int  # 0: claim level
    procedure: str | None
    group: str
    reason: str
    amount_cents: int
    category: str
    remarks: tuple[str, ...]


def denials(clp: RemitClaim) -> list[Denial]:
    """Every denying CAS, sorted into correctable, appealable or write_off.

    A CAS denies when it is not patient responsibility nor a plain reduction (fee
    schedule, prior payer, sequestration) and either its claim or line was denied or
    its CARC is one a biller fixes or appeals. Reversals carry no denials.
    """
    if clp.status_code == REVERSAL:
        return []
    claim_denied = clp.status_code == DENIED or (
        clp.paid.cents == 0 and clp.patient_responsibility_cents == 0
    )
    out: list[Denial] = []

    def take(
        n: int, proc: str | None, items: Iterable[Cas], denied: bool, remarks: tuple[str, ...]
    ) -> None:
        for c in items:
            if c.group == "PR" or c.reason in NOT_A_DENIAL or c.amount.cents <= 0:
                continue
            if denied or c.reason in CORRECTABLE or c.reason in APPEALABLE:
                cat = reason_category(c.reason)
                out.append(Denial(n, proc, c.group, c.reason, c.amount.cents, cat, remarks))

    take(0, None, clp.adjustments, claim_denied, clp.remarks)
    for n, line in enumerate(clp.lines, start=1):
        take(
            n,
            line.procedure,
            line.adjustments,
            claim_denied or _line_denied(line),
            line.remarks,
        )
    return out


def denial_category(clp: RemitClaim, status: AdjudicationStatus) -> str | None:
    """The claim's denial work: correctable before appealable before write_off."""
    if status not in (AdjudicationStatus.denied, AdjudicationStatus.partially_paid):
        return None
    cats = {d.category for d in denials(clp)}
    for cat in ("correctable", "appealable"):
        if cat in cats:
            return cat
    return "write_off"


def _units(text: str) -> int:
    try:
        return int(Decimal(text).to_integral_value(rounding=ROUND_HALF_UP)) if text else 1
    except InvalidOperation:
        return 1


def adjudicated(clp: RemitClaim, payer_id: str, claim_id: str | None = None) -> ClaimAdjudicated:
    status = status_of(clp)
    lines = [
        AdjudicatedLine(
            line_number=n,
            procedure_code=line.procedure,
            modifiers=list(line.modifiers),
            units=abs(_units(line.units)),
            charge_cents=line.charge.cents,
            paid_cents=line.paid.cents,
            allowed_cents=line.allowed.cents if line.allowed else None,
            adjustments=[_adjustment(c) for c in line.adjustments],
            remarks=list(line.remarks),
        )
        for n, line in enumerate(clp.lines, start=1)
    ]
    return ClaimAdjudicated(
        claim_id=claim_id or clp.patient_control_number,
        patient_control_number=clp.patient_control_number,
        payer_id=payer_id,
        payer_claim_number=clp.payer_claim_number,
        trace_number=clp.trace_number,
        payment_date=clp.payment_date,
        status=status,
        claim_status_code=clp.status_code,
        charge_cents=clp.charge.cents,
        paid_cents=clp.paid.cents,
        patient_responsibility_cents=clp.patient_responsibility_cents,
        adjustments=[_adjustment(c) for c in clp.all_adjustments],
        lines=lines,
        denial_category=denial_category(clp, status),
    )


def imbalance(clp: RemitClaim) -> int:
    """charge - paid - every adjustment, in cents: 0 when the claim balances."""
    return clp.charge.cents - clp.paid.cents - sum(c.amount.cents for c in clp.all_adjustments)


# --- ledger ------------------------------------------------------------------------------


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


def underpayments(clp: RemitClaim, fees: Mapping[str, int]) -> list[Underpayment]:
    """Paid lines allowed below the contract: min(fee x units, charge), fees per unit.

    Denied lines are denials, not underpayments; reversals and codes without a
    contracted fee are not checked.
    """
    if clp.status_code in (REVERSAL, DENIED):
        return []
    out: list[Underpayment] = []
    for n, line in enumerate(clp.lines, start=1):
        fee = fees.get(line.procedure)
        if fee is None or _line_denied(line) or line.charge.cents <= 0:
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


# --- matching ---------------------------------------------------------------------------


def patient_key(last: str | None, first: str | None) -> str | None:
    """A hash of the normalised patient name (last name, first initial), never the name."""
    norm_last = "".join(ch for ch in (last or "").upper() if ch.isalnum())
    if not norm_last:
        return None
    initial = next((ch for ch in (first or "").upper() if ch.isalnum()), "")
    return hashlib.sha256(f"{norm_last}|{initial}".encode()).hexdigest()[:32]


def claim_date(clp: RemitClaim) -> dt.date | None:
    """The claim's service date: DTM*232, else the earliest line date."""
    if clp.statement_from is not None:
        return clp.statement_from
    dates = [ln.service_date for ln in clp.lines if ln.service_date is not None]
    return min(dates) if dates else None


class Submitted(NamedTuple):
    """What matching needs from one CLM of a submitted 837P."""

    patient_key: str | None
    service_date: dt.date | None


def read_837(text: str, patient_control_number: str) -> Submitted:
    """Patient name (2010CA NM1*QC, else 2010BA NM1*IL) and first DTP*472 of one CLM.

    Raises X12Error when the text is not X12 or holds no CLM with that CLM01.
    """
    found = _claims_of_837(text).get(patient_control_number)
    if found is None:
        raise X12Error(f"no CLM with CLM01 {patient_control_number!r}", segment=None)
    return found


@functools.lru_cache(maxsize=32)
def _claims_of_837(text: str) -> dict[str, Submitted]:
    """Every CLM of an interchange, read in one pass. Each claim of an interchange
    arrives as its own claim.submitted carrying the whole interchange: they share this."""
    _d, segs = segments(text)
    out: dict[str, Submitted] = {}
    name: tuple[str, str] | None = None
    current: str | None = None  # the CLM01 whose DTP*472 lines are being read
    date: dt.date | None = None

    def close() -> None:
        if current is not None and current not in out:
            out[current] = Submitted(patient_key(*name) if name else None, date)

    for seg in segs:
        sid = seg[0]
        if current is not None:
            if sid == "DTP" and len(seg) > 3 and seg[1] == "472":
                try:
                    day = d8(seg[3][:8])
                except ValueError:
                    continue
                date = day if date is None else min(date, day)
                continue
            if sid not in ("CLM", "HL", "SE"):
                continue
            close()
            current, date = None, None
        if sid == "HL" and len(seg) > 3 and seg[3] == "22":
            name = None
        elif sid == "NM1" and len(seg) > 3 and seg[1] in ("IL", "QC"):
            name = (seg[3], seg[4] if len(seg) > 4 else "")
        elif sid == "CLM" and len(seg) > 1:
            current, date = seg[1], None
    close()
    return out


class Match(NamedTuple):
    claim_id: str | None
    matched_by: str | None  # patient_control_number | payer_claim_number | patient_date_amount
    reason: str | None  # why it did not match


WAITING_FOR_CLAIM = (
    "unknown patient control number; waiting for its claim: patient, date and amount may"
    " match it once every claim submitted before this 835 is indexed"
)


def match(
    clp: RemitClaim,
    by_pcn: Mapping[str, str],
    by_payer_number: Mapping[str, str],
    by_patient: Mapping[tuple[str, dt.date, int], frozenset[str]],
    *,
    fallback: bool = True,
) -> Match:
    """Our claim for a CLP: by CLP01, then CLP07, then patient, date and charge.

    ``fallback``: whether patient, date and charge may decide. Not while the CLP01 may
    still be a claim of ours that is not indexed yet (a claim.submitted published before
    the 835 and not yet applied): two visits of one patient on one day for the same
    charge look alike, and the other one would take this payment."""
    claim_id = by_pcn.get(clp.patient_control_number)
    if claim_id is not None:
        return Match(claim_id, "patient_control_number", None)
    if clp.payer_claim_number:
        claim_id = by_payer_number.get(clp.payer_claim_number)
        if claim_id is not None:
            return Match(claim_id, "payer_claim_number", None)
    if not fallback:
        return Match(None, None, WAITING_FOR_CLAIM)
    key = patient_key(clp.patient_last_name, clp.patient_first_name)
    day = claim_date(clp)
    if key is None or day is None:
        return Match(None, None, "unknown patient control number; no patient name or date")
    found = by_patient.get((key, day, abs(clp.charge.cents)), frozenset())
    if len(found) == 1:
        return Match(next(iter(found)), "patient_date_amount", None)
    if len(found) > 1:
        return Match(None, None, f"{len(found)} claims match the patient, date and amount")
    return Match(
        None,
        None,
        "no claim matches the patient control number, payer claim number,"
        " or patient, date and amount",
    )
