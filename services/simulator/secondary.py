"""How a simulated payer pays as a later payer (a claim with SBR01 S or T and the prior
payers' answers in 2320/2430). Pure.

Per service line, with ``left`` the patient share the last prior payer left (its 2430
CAS PR; without 2430, the claim's AMT*EAF is spread over the lines by charge):

- ``medigap`` (a Medicare supplement, Plan F): pays Medicare's coinsurance and
  deductible, all of ``left``;
- ``medicaid``: pays the cost sharing up to its own fee: min(left, its fee - what the
  prior payers paid), nothing for a code it does not cover; the rest stays the
  patient's share as the prior payer stated it (a QMB patient may not be billed it:
  statements writes it off);
- ``commercial``: coordinates by its own plan: pays what it would have paid as the
  primary (allowed less its copay, deductible and coinsurance), at most ``left``.

Every line balances: charge = paid + OA-23 (the prior payers' impact: charge - left)
+ PR (left - paid). CLP02 is 2 (processed as secondary) or 3 (tertiary).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal

from services.simulator.model import Accumulators, Adjudication, Cas, ClaimIn, ClaimLineIn
from services.simulator.model import LineResult as Line
from services.simulator.payers import PayerPlan


def _share(total: int, lines: tuple[ClaimLineIn, ...]) -> list[int]:
    """``total`` spread over the lines by charge, to the cent (the last takes the rest)."""
    charge = sum(ln.charge_cents for ln in lines) or 1
    out = [
        int((Decimal(total) * ln.charge_cents / charge).quantize(Decimal(1), ROUND_HALF_UP))
        for ln in lines
    ]
    out[-1] += total - sum(out)
    return out


def patient_left(claim: ClaimIn) -> list[int]:
    """The patient share the last prior payer left on each line (0 to the line's charge)."""
    if all(ln.prior_patient_cents is not None for ln in claim.lines):
        left = [ln.prior_patient_cents or 0 for ln in claim.lines]
    else:
        left = _share(claim.prior_patient_cents or 0, claim.lines)
    return [max(0, min(x, ln.charge_cents)) for x, ln in zip(left, claim.lines, strict=True)]


def _own_benefit(line: ClaimLineIn, plan: PayerPlan) -> int:
    """What the plan pays on the line as if it were the primary (no accumulators: a
    later payer's deductible is taken as met)."""
    fee = plan.fee(line.procedure_code)
    allowed = min(fee * line.units, line.charge_cents) if fee is not None else 0
    b = plan.benefits
    if line.procedure_code in b.no_cost_share:
        return allowed
    if line.procedure_code in b.copay_codes:
        return max(0, allowed - b.copay_cents)
    coins = int((Decimal(allowed) * b.coinsurance).quantize(Decimal(1), ROUND_HALF_UP))
    return allowed - coins


def pays(line: ClaimLineIn, left: int, plan: PayerPlan) -> int:
    """What ``plan`` pays on the line as a later payer."""
    if left <= 0 or line.procedure_code in plan.non_covered:
        return 0
    if plan.as_secondary == "medigap":
        return left
    if plan.as_secondary == "medicaid":
        fee = plan.fee(line.procedure_code)
        if fee is None:
            return 0
        return max(0, min(left, fee * line.units - line.prior_paid_cents))
    return min(left, _own_benefit(line, plan))


def adjudicate_later(
    claim: ClaimIn,
    plan: PayerPlan,
    number: str,
    today: dt.date,
    accumulators: Accumulators,
) -> Adjudication:
    """The claim adjudicated by ``plan`` as its secondary (or tertiary) payer."""
    results: list[Line] = []
    for line, left in zip(claim.lines, patient_left(claim), strict=True):
        paid = pays(line, left, plan)
        cas = [
            Cas(g, r, amt)
            for g, r, amt in (("OA", "23", line.charge_cents - left), ("PR", "2", left - paid))
            if amt
        ]
        results.append(
            Line(
                line_number=line.line_number,
                procedure_code=line.procedure_code,
                modifiers=line.modifiers,
                units=line.units,
                charge_cents=line.charge_cents,
                allowed_cents=left,
                paid_cents=paid,
                adjustments=tuple(cas),
                remarks=(),
                service_date=line.service_date or claim.date_of_service,
                control_number=line.control_number,
            )
        )
    return Adjudication(
        claim=claim,
        payer_id=plan.payer_id,
        payer_claim_number=number,
        charge_cents=sum(ln.charge_cents for ln in claim.lines),
        received=today,
        status="3" if claim.priority >= 3 else "2",
        paid_cents=sum(r.paid_cents for r in results),
        patient_responsibility_cents=sum(r.patient_responsibility_cents for r in results),
        lines=tuple(results),
        accumulators=accumulators.for_year(claim.date_of_service.year),
    )


#: CLP02 of a claim processed as primary and forwarded to the next payer.
FORWARDED = "19"


def crossover(claim: ClaimIn, result: Adjudication, plan: PayerPlan) -> ClaimIn | None:
    """The claim as the next payer receives it when ``plan`` (the primary) crosses it
    over: an answer that left the patient a share (a deductible counts), and a secondary
    (from the claim's 2320/2330) that ``plan`` forwards to. None when the claim stays
    with the provider."""
    if claim.priority != 1 or result.denied:
        return None
    if result.patient_responsibility_cents <= 0:
        return None
    nxt = next((o for o in claim.other_payers if o[0] == 2), None)
    if nxt is None or nxt[1] not in plan.crosses_over_to:
        return None
    answered = {ln.line_number: ln for ln in result.lines}
    lines = tuple(
        replace(
            ln,
            prior_paid_cents=answered[ln.line_number].paid_cents,
            prior_patient_cents=answered[ln.line_number].patient_responsibility_cents,
        )
        for ln in claim.lines
    )
    return replace(
        claim,
        payer_id=nxt[1],
        member_id=nxt[2],
        priority=2,
        lines=lines,
        prior_payer_paid_cents=result.paid_cents,
        prior_patient_cents=result.patient_responsibility_cents,
        coverage_effective=None,
        coverage_termination=None,
    )


def forwarded(result: Adjudication, to: PayerPlan) -> Adjudication:
    """The primary's answer once it crossed the claim over: CLP02 19, NM1*TT naming the
    next payer, claim remark MA18 (forwarded to the supplemental insurer)."""
    return replace(
        result,
        status=FORWARDED,
        crossover_to=(to.name, to.payer_id),
        claim_remarks=(*result.claim_remarks, "MA18"),
    )
