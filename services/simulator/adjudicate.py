"""Pure claim adjudication: one claim, the member's accumulators, today's date.

No I/O. The caller persists the returned accumulators and feeds the result to the
835 writer. Every result balances, per line and per claim, to the cent:

    charge = paid + sum(CAS amounts)        (line CAS, plus claim CAS for the claim)
    patient_responsibility = sum(PR amounts)

Denials, in the order they are checked (the first that applies wins):

claim level, every line denied with the same CARC
    CO-16  no diagnosis on the claim (claim remark MA130, line remark M76)
    CO-18  same CLM01 already paid by this payer and the claim is not a replacement/void
    CO-26  service before the coverage effective date
    CO-27  service after the coverage termination date
    CO-29  received more than the payer's timely filing days after the service
    random denial knob (``rng`` and ``denial_rate``), a CARC drawn from RANDOM_DENIALS
line level
    CO-96  code the plan excludes (remark N130)
    CO-197 code that needs prior authorization billed without one (remark M62)
    CO-50  code billed without a diagnosis that supports it (remark N115)
    CO-97  office E/M without modifier 25 on a claim with an injection (96372); the E/M
           is the line denied (remark M15)
    CO-16  line without a diagnosis (remark M76)
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Sequence
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from random import Random

from services.simulator.model import (
    DENIED,
    Accumulators,
    Adjudication,
    Cas,
    ClaimIn,
    ClaimLineIn,
    LineResult,
)
from services.simulator.payers import OFFICE_EM, PayerPlan, payer
from services.simulator.secondary import adjudicate_later, patient_left

PROCESSED_PRIMARY = "1"
PROCESSED_SECONDARY = "2"
REVERSAL = "22"

INJECTION = "96372"
#: A random denial: (group, CARC, line remarks).
Denial = tuple[str, str, tuple[str, ...]]
#: The denials the random knob picks from, unless the caller passes its own mix.
RANDOM_DENIALS: tuple[Denial, ...] = (
    ("CO", "16", ("M76",)),
    ("CO", "50", ("N115",)),
    ("CO", "197", ("M62",)),
    ("CO", "97", ("M15",)),
    ("CO", "96", ("N130",)),
)


# --- helpers --------------------------------------------------------------------------


def _pct(amount: int, rate: Decimal) -> int:
    return int((Decimal(amount) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _norm_dx(code: str) -> str:
    return code.replace(".", "").upper()


def payer_claim_number(claim: ClaimIn) -> str:
    """Deterministic: the same submission always gets the same payer claim number."""
    key = "|".join(
        (
            claim.payer_id,
            claim.patient_control_number,
            claim.frequency_code,
            claim.interchange_control_number,
            claim.transaction_control_number,
            claim.date_of_service.isoformat(),
            str(claim.total_charge_cents),
        )
    )
    digest = int(hashlib.sha256(key.encode()).hexdigest()[:16], 16)
    return f"{claim.payer_id[:3]}{claim.date_of_service:%y}{digest % 10**12:012d}"


def _denied_line(
    line: ClaimLineIn,
    dos: dt.date,
    group: str,
    carc: str,
    remarks: Sequence[str],
    left: int | None = None,
) -> LineResult:
    """The line denied with ``carc``. A later payer (``left``: what the prior payers left
    on the line, secondary.patient_left) denies only that; the rest is the prior payers'
    impact (OA-23)."""
    left = line.charge_cents if left is None else left
    cas = (("OA", "23", line.charge_cents - left), (group, carc, left))
    return LineResult(
        line_number=line.line_number,
        procedure_code=line.procedure_code,
        modifiers=line.modifiers,
        units=line.units,
        charge_cents=line.charge_cents,
        allowed_cents=0,
        paid_cents=0,
        adjustments=tuple(Cas(g, r, amt) for g, r, amt in cas if amt),
        remarks=tuple(remarks),
        service_date=line.service_date or dos,
        control_number=line.control_number,
        denied=True,
    )


def _claim_denial(
    claim: ClaimIn,
    plan: PayerPlan | None,
    today: dt.date,
    paid_claims: Collection[str],
) -> tuple[str, str, tuple[str, ...], tuple[str, ...]] | None:
    """(group, CARC, line remarks, claim remarks) when the whole claim is denied."""
    if not claim.diagnoses and not any(ln.diagnosis_codes for ln in claim.lines):
        return ("CO", "16", ("M76",), ("MA130",))
    if claim.frequency_code not in ("7", "8") and claim.patient_control_number in paid_claims:
        return ("CO", "18", (), ())
    if claim.coverage_effective and claim.date_of_service < claim.coverage_effective:
        return ("CO", "26", (), ())
    if claim.coverage_termination and claim.date_of_service > claim.coverage_termination:
        return ("CO", "27", (), ())
    limit = plan.timely_filing_days if plan else 365
    if (today - claim.date_of_service).days > limit:
        return ("CO", "29", (), ())
    return None


def _line_denial(
    line: ClaimLineIn, claim: ClaimIn, plan: PayerPlan
) -> tuple[str, str, tuple[str, ...]] | None:
    code = line.procedure_code
    if code in plan.non_covered:
        return ("CO", "96", ("N130",))
    if code in plan.prior_auth_required and not claim.prior_authorization:
        return ("CO", "197", ("M62",))
    dx = [_norm_dx(d) for d in (line.diagnosis_codes or claim.diagnoses)]
    supporting = plan.necessity.get(code)
    if supporting is not None and not any(d.startswith(supporting) for d in dx):
        return ("CO", "50", ("N115",))
    if (
        code in OFFICE_EM
        and "25" not in line.modifiers
        and any(other.procedure_code == INJECTION for other in claim.lines)
    ):
        return ("CO", "97", ("M15",))
    if not line.diagnosis_codes:
        return ("CO", "16", ("M76",))
    return None


def _cap(shares: tuple[int, int, int], room: int) -> tuple[int, int, int]:
    """Trims (copay, deductible, coinsurance) to the out-of-pocket room left.

    Coinsurance goes first, then copay, then deductible.
    """
    copay, deductible, coinsurance = shares
    over = copay + deductible + coinsurance - max(0, room)
    if over > 0:
        cut = min(over, coinsurance)
        coinsurance, over = coinsurance - cut, over - cut
        cut = min(over, copay)
        copay, over = copay - cut, over - cut
        deductible -= min(over, deductible)
    return copay, deductible, coinsurance


def _first_carc(lines: Sequence[LineResult]) -> str | None:
    return next((a.reason for ln in lines for a in ln.adjustments), None)


def _allowed(line: ClaimLineIn, plan: PayerPlan) -> int:
    fee = plan.price(line.procedure_code)
    if fee is None:
        return _pct(line.charge_cents, plan.unknown_code_rate)
    return min(fee * line.units, line.charge_cents)


# --- adjudication ---------------------------------------------------------------------


def _denied_claim(
    claim: ClaimIn,
    plan: PayerPlan,
    number: str,
    charge: int,
    today: dt.date,
    denial: tuple[str, str, tuple[str, ...], tuple[str, ...]],
    accumulators: Accumulators,
) -> Adjudication:
    """Every line denied with the claim's CARC; the accumulators untouched. A later payer
    denies what the prior payers left (the patient's share), not the whole charge."""
    group, carc, line_remarks, denial_remarks = denial
    lefts: list[int | None] = (
        list(patient_left(claim)) if claim.priority > 1 else [None] * len(claim.lines)
    )
    lines = tuple(
        _denied_line(ln, claim.date_of_service, group, carc, line_remarks, left)
        for ln, left in zip(claim.lines, lefts, strict=True)
    )
    return Adjudication(
        claim=claim,
        payer_id=plan.payer_id,
        payer_claim_number=number,
        charge_cents=charge,
        received=today,
        status=DENIED,
        paid_cents=0,
        patient_responsibility_cents=0,
        lines=lines,
        claim_remarks=denial_remarks,
        accumulators=accumulators,
        denial_reason=carc,
    )


def _priced_line(
    line: ClaimLineIn,
    claim: ClaimIn,
    plan: PayerPlan,
    ded_met: int,
    oop_met: int,
    copay_taken: bool,
) -> tuple[LineResult, int, int, bool]:
    """A line the plan covers: allowed amount, the member's copay, deductible and
    coinsurance (capped at the out-of-pocket maximum), and what is paid. Returns the
    line with the deductible and out-of-pocket met after it, and whether the claim's
    one copay is now taken."""
    b = plan.benefits
    allowed = _allowed(line, plan)
    copay = deductible = coinsurance = 0
    if line.procedure_code not in b.no_cost_share and allowed > 0:
        if line.procedure_code in b.copay_codes:
            if not copay_taken:
                copay = min(b.copay_cents, allowed)
                copay_taken = copay > 0
        else:
            deductible = min(allowed, max(0, b.deductible_cents - ded_met))
            coinsurance = _pct(allowed - deductible, b.coinsurance)
        if b.oop_max_cents is not None:
            copay, deductible, coinsurance = _cap(
                (copay, deductible, coinsurance), b.oop_max_cents - oop_met
            )
    ded_met += deductible
    oop_met += copay + deductible + coinsurance
    adjustments = [
        Cas(g, r, amt)
        for g, r, amt in (
            ("CO", "45", line.charge_cents - allowed),
            ("PR", "1", deductible),
            ("PR", "2", coinsurance),
            ("PR", "3", copay),
        )
        if amt
    ]
    paid = allowed - copay - deductible - coinsurance
    result = LineResult(
        line_number=line.line_number,
        procedure_code=line.procedure_code,
        modifiers=line.modifiers,
        units=line.units,
        charge_cents=line.charge_cents,
        allowed_cents=allowed,
        paid_cents=paid,
        adjustments=tuple(adjustments),
        remarks=(),
        service_date=line.service_date or claim.date_of_service,
        control_number=line.control_number,
    )
    return result, ded_met, oop_met, copay_taken


def adjudicate(
    claim: ClaimIn,
    accumulators: Accumulators,
    today: dt.date,
    *,
    plan: PayerPlan | None = None,
    paid_claims: Collection[str] = (),
    rng: Random | None = None,
    denial_rate: float = 0.0,
    denials: Sequence[Denial] = RANDOM_DENIALS,
) -> Adjudication:
    """Adjudicates one claim.

    ``plan`` defaults to the simulator's plan for ``claim.payer_id`` (KeyError if unknown).
    ``paid_claims`` holds the CLM01s this payer already paid (duplicate check).
    ``rng`` with ``denial_rate`` in [0, 1] denies that share of otherwise clean claims at
    random; pass ``Random(seed)`` for repeatable runs. ``denials`` is what such a denial is
    drawn from (repeat an entry to weigh it).
    """
    plan = plan or payer(claim.payer_id)
    acc = accumulators.for_year(claim.date_of_service.year)
    number = payer_claim_number(claim)
    charge = sum(ln.charge_cents for ln in claim.lines)

    denial = _claim_denial(claim, plan, today, paid_claims)
    if denial is None and rng is not None and denial_rate > 0 and rng.random() < denial_rate:
        group, carc, remarks = rng.choice(denials)
        denial = (group, carc, remarks, ("MA130",) if carc == "16" else ())
    if denial is not None:
        return _denied_claim(claim, plan, number, charge, today, denial, accumulators)
    if claim.priority > 1:  # a later payer: it pays what the prior payers left
        return adjudicate_later(claim, plan, number, today, accumulators)

    ded_met = acc.deductible_met_cents
    oop_met = acc.oop_met_cents
    copay_taken = False
    results: list[LineResult] = []
    for line in claim.lines:
        line_denial = _line_denial(line, claim, plan)
        if line_denial is not None:
            group, carc, remarks = line_denial
            results.append(_denied_line(line, claim.date_of_service, group, carc, remarks))
            continue
        result, ded_met, oop_met, copay_taken = _priced_line(
            line, claim, plan, ded_met, oop_met, copay_taken
        )
        results.append(result)

    status = PROCESSED_PRIMARY
    if results and all(r.denied for r in results):
        status = DENIED
    claim_remarks = ("MA130",) if any(r.denied and "M76" in r.remarks for r in results) else ()
    paid = sum(r.paid_cents for r in results)
    return Adjudication(
        claim=claim,
        payer_id=plan.payer_id,
        payer_claim_number=number,
        charge_cents=charge,
        received=today,
        status=status,
        paid_cents=paid,
        patient_responsibility_cents=sum(r.patient_responsibility_cents for r in results),
        lines=tuple(results),
        claim_remarks=claim_remarks,
        accumulators=Accumulators(acc.year, ded_met, oop_met),
        denial_reason=_first_carc(results) if status == DENIED else None,
    )


def reverse(previous: Adjudication, today: dt.date | None = None) -> Adjudication:
    """The reversal of a previous adjudication: CLP02 22 and every amount negated.

    Send it ahead of the corrected payment in the same or a later 835. The accumulators
    are not touched here; the caller re-adjudicates the corrected claim against the
    accumulators it had before the original.
    """

    def neg(cas: Sequence[Cas]) -> tuple[Cas, ...]:
        return tuple(Cas(c.group, c.reason, -c.amount_cents) for c in cas)

    lines = tuple(
        replace(
            ln,
            charge_cents=-ln.charge_cents,
            allowed_cents=-ln.allowed_cents,
            paid_cents=-ln.paid_cents,
            adjustments=neg(ln.adjustments),
        )
        for ln in previous.lines
    )
    return replace(
        previous,
        status=REVERSAL,
        charge_cents=-previous.charge_cents,
        paid_cents=-previous.paid_cents,
        patient_responsibility_cents=-previous.patient_responsibility_cents,
        lines=lines,
        claim_adjustments=neg(previous.claim_adjustments),
        received=today or previous.received,
        accumulators=None,
    )


def check_balance(result: Adjudication) -> None:
    """Raises ValueError when an adjudication does not balance to the cent."""
    for ln in result.lines:
        cas = sum(a.amount_cents for a in ln.adjustments)
        if ln.charge_cents != ln.paid_cents + cas:
            raise ValueError(f"line {ln.line_number}: {ln.charge_cents} != {ln.paid_cents}+{cas}")
    total_cas = sum(a.amount_cents for a in result.all_adjustments())
    if result.charge_cents != result.paid_cents + total_cas:
        raise ValueError(f"claim: {result.charge_cents} != {result.paid_cents}+{total_cas}")
    pr = sum(a.amount_cents for a in result.all_adjustments() if a.group == "PR")
    if pr != result.patient_responsibility_cents:
        raise ValueError(f"patient responsibility {result.patient_responsibility_cents} != {pr}")
