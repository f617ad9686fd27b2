"""Remittance decisions: what a CLP means for the claim. Pure."""

from __future__ import annotations

from schemas.common import Adjustment
from schemas.events import AdjudicatedLine, AdjudicationStatus, ClaimAdjudicated
from services.remittance.x12_835 import Cas, RemitClaim

DENIED = "4"
REVERSAL = "22"

# CARC -> what a biller does about a denial.
CORRECTABLE = {"4", "11", "16", "18", "27", "31", "97", "109", "140", "181", "182", "204"}
APPEALABLE = {"50", "55", "56", "96", "150", "151", "167", "197", "198", "234", "236"}
WRITE_OFF = {"29", "119", "B7", "B9"}


def _adjustment(c: Cas) -> Adjustment:
    return Adjustment(group=c.group, reason=c.reason, amount_cents=c.amount.cents)


def status_of(clp: RemitClaim) -> AdjudicationStatus:
    if clp.status_code == REVERSAL:
        return AdjudicationStatus.reversed
    if clp.status_code == DENIED or (clp.paid.cents == 0 and clp.patient_responsibility_cents == 0):
        return AdjudicationStatus.denied
    if any(
        line.paid.cents == 0 and line.charge.cents > 0 and not _patient_owes(line.adjustments)
        for line in clp.lines
    ):
        return AdjudicationStatus.partially_paid
    return AdjudicationStatus.paid


def _patient_owes(cas: tuple[Cas, ...]) -> bool:
    return any(c.group == "PR" and c.amount.cents > 0 for c in cas)


def denial_category(clp: RemitClaim, status: AdjudicationStatus) -> str | None:
    if status not in (AdjudicationStatus.denied, AdjudicationStatus.partially_paid):
        return None
    reasons = [c.reason for c in clp.all_adjustments if c.group in ("CO", "PI", "OI")]
    for reason in reasons:
        if reason in CORRECTABLE:
            return "correctable"
    for reason in reasons:
        if reason in APPEALABLE:
            return "appealable"
    return "write_off"


def adjudicated(clp: RemitClaim, payer_id: str) -> ClaimAdjudicated:
    status = status_of(clp)
    lines = [
        AdjudicatedLine(
            line_number=n,
            procedure_code=line.procedure,
            modifiers=list(line.modifiers),
            units=int(float(line.units)) if line.units else 1,
            charge_cents=line.charge.cents,
            paid_cents=line.paid.cents,
            allowed_cents=line.allowed.cents if line.allowed else None,
            adjustments=[_adjustment(c) for c in line.adjustments],
            remarks=list(line.remarks),
        )
        for n, line in enumerate(clp.lines, start=1)
    ]
    return ClaimAdjudicated(
        claim_id=clp.patient_control_number,
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
