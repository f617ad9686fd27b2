"""What a CLP means for the claim: its status, its denials sorted into work, and the
claim.adjudicated event. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import NamedTuple

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


def _adjustment(c: Cas) -> Adjustment:
    return Adjustment(group=c.group, reason=c.reason, amount_cents=c.amount.cents)


def _patient_owes(cas: tuple[Cas, ...]) -> bool:
    return any(c.group == "PR" and c.amount.cents > 0 for c in cas)


def line_denied(line: RemitLine) -> bool:
    return line.paid.cents == 0 and line.charge.cents > 0 and not _patient_owes(line.adjustments)


def status_of(clp: RemitClaim) -> AdjudicationStatus:
    if clp.status_code == REVERSAL:
        return AdjudicationStatus.reversed
    if clp.status_code == DENIED or (clp.paid.cents == 0 and clp.patient_responsibility_cents == 0):
        return AdjudicationStatus.denied
    if any(line_denied(line) for line in clp.lines):
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
            claim_denied or line_denied(line),
            line.remarks,
        )
    return out


#: PR amounts that are the plan's ordinary cost sharing (deductible, coinsurance, copay,
#: blood deductible), not a denial.
COST_SHARING = frozenset({"1", "2", "3", "66"})


def work_items(clp: RemitClaim) -> list[Denial]:
    """Every denied or reduced line a person works, claim level (line 0) first: the
    denials, and the amounts the payer assigned to the patient for a reason other than
    cost sharing (PR-96, PR-204, ...: category patient_responsibility)."""
    out = denials(clp)
    if clp.status_code == REVERSAL:
        return out
    levels = [(0, None, clp.adjustments, clp.remarks)] + [
        (n, line.procedure, line.adjustments, line.remarks)
        for n, line in enumerate(clp.lines, start=1)
    ]
    for n, proc, items, remarks in levels:
        out.extend(
            Denial(n, proc, c.group, c.reason, c.amount.cents, "patient_responsibility", remarks)
            for c in items
            if c.group == "PR" and c.amount.cents > 0
            and c.reason not in COST_SHARING and c.reason not in NOT_A_DENIAL
        )  # fmt: skip
    return sorted(out, key=lambda d: d.line_number)


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
        crossed_over=crossed_over(clp),
        crossover_payer=(clp.crossover_carrier or "")[:60] or None,
    )


#: RARCs saying the claim went on to the next payer: MA18 (forwarded to the
#: supplemental insurer), N89 (forwarded to the patient's Medicaid/other payer).
CROSSOVER_REMARKS = frozenset({"MA18", "N89"})


def crossed_over(clp: RemitClaim) -> bool:
    """Did the payer forward the claim to the next payer itself (a crossover)?"""
    if clp.is_reversal:
        return False
    if clp.crossover_carrier or CROSSOVER_REMARKS.intersection(clp.remarks):
        return True
    return any(CROSSOVER_REMARKS.intersection(line.remarks) for line in clp.lines)


def imbalance(clp: RemitClaim) -> int:
    """charge - paid - every adjustment, in cents: 0 when the claim balances."""
    return clp.charge.cents - clp.paid.cents - sum(c.amount.cents for c in clp.all_adjustments)
