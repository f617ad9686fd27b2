"""Eligibility decisions: pure functions over the encounter, the coverages on record and
the payer's 271.

The registry settles what it can alone (no coverage: self-pay; coverage it records as
not in force on the date of service: held). Coverage it records as in force is verified
with the payer: the lowest-priority coverage in force is asked about (a 270) and its 271
decides; any other coverage in force is recorded as secondary for coordination of
benefits. Held reasons say what a person must fix; none carries a patient identifier.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from runtime.x12 import X12Error
from schemas.common import Coverage, HoldReason, Relationship
from schemas.events import EligibilityChecked, EncounterCreated
from services.eligibility.x12_270 import GENERIC, VISIT_SERVICE_TYPES, Inquiry, Name
from services.eligibility.x12_271 import Benefit, Reply, Response


@dataclass(frozen=True, slots=True)
class Held:
    reasons: list[HoldReason]


def covers(c: Coverage, on: dt.date) -> bool:
    return c.effective_date <= on and (c.termination_date is None or on <= c.termination_date)


def decide(
    claim_id: str, enc: EncounterCreated, coverages: list[Coverage]
) -> EligibilityChecked | Held:
    """Primary coverage in force on the date of service -> eligible; none at all -> self-pay;
    coverage on file but not in force -> held with what to fix."""
    dos = enc.date_of_service
    if not coverages:
        return EligibilityChecked(
            claim_id=claim_id,
            encounter_id=enc.encounter_id,
            active=None,
            self_pay=True,
            reasons=["no coverage on file: self-pay"],
            encounter=enc,
        )
    in_force = sorted((c for c in coverages if covers(c, dos)), key=lambda c: c.priority)
    if not in_force:
        latest = max(coverages, key=lambda c: c.termination_date or dt.date.max)
        if latest.effective_date > dos:
            reason = HoldReason(
                code="COVERAGE-NOT-YET-EFFECTIVE",
                message=f"coverage with {latest.payer_name} starts {latest.effective_date}, "
                f"after the date of service {dos}",
                fix="correct the date of service or the coverage, or bill the patient",
            )
        else:
            reason = HoldReason(
                code="COVERAGE-ENDED",
                message=f"coverage with {latest.payer_name} ended {latest.termination_date}, "
                f"before the date of service {dos}",
                fix="enter the patient's current coverage, or bill the patient",
            )
        return Held([reason])
    primary = in_force[0]
    reasons = [f"primary {primary.payer_id} in force on {dos}"]
    if len(in_force) > 1:
        reasons.append(f"secondary {in_force[1].payer_id} recorded for coordination of benefits")
    return EligibilityChecked(
        claim_id=claim_id,
        encounter_id=enc.encounter_id,
        active=True,
        payer_id=primary.payer_id,
        payer_name=primary.payer_name,
        plan=primary.plan,
        member_id=primary.member_id,
        reasons=reasons,
        encounter=enc,
    )


# --- real-time verification (270/271) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verify:
    """The registry says coverage is in force: ask the payer about ``primary``."""

    primary: Coverage
    secondary: Coverage | None


@dataclass(frozen=True, slots=True)
class Retry:
    """The payer could not answer now (AAA 42, timeout, refused): ask again later."""

    reason: str


def precheck(
    claim_id: str, enc: EncounterCreated, coverages: list[Coverage]
) -> EligibilityChecked | Held | Verify:
    """What the registry alone settles: no coverage (self-pay) and coverage not in force on
    the date of service (held; asking the payer cannot make the claim billable to a plan the
    practice itself records as ended). Anything else is verified with the payer."""
    outcome = decide(claim_id, enc, coverages)
    if isinstance(outcome, Held) or outcome.self_pay:
        return outcome
    in_force = sorted((c for c in coverages if covers(c, enc.date_of_service)), key=_priority)
    return Verify(in_force[0], in_force[1] if len(in_force) > 1 else None)


def with_subscribers(enc: EncounterCreated, coverages: list[Coverage]) -> list[Coverage]:
    """The registry does not keep subscriber demographics; the encounter carries them."""
    by_key = {(c.payer_id, c.member_id): c for c in enc.coverages}
    out = []
    for c in coverages:
        known = by_key.get((c.payer_id, c.member_id))
        if known is not None and known.subscriber is not None:
            c = c.model_copy(update={"subscriber": known.subscriber})
        out.append(c)
    return out


def _priority(c: Coverage) -> int:
    return c.priority


def inquiry_for(
    enc: EncounterCreated,
    coverage: Coverage,
    *,
    trace: str,
) -> Inquiry:
    """The 270 for the patient's coverage: the patient is the subscriber unless the coverage
    names another subscriber (then the patient is a dependent on the subscriber's policy)."""
    patient = enc.patient
    billing = enc.billing_provider
    dependent = coverage.relationship is not Relationship.self_ and coverage.subscriber is not None
    subscriber = coverage.subscriber if dependent and coverage.subscriber else patient
    originator = "9" + (billing.tax_id or billing.npi[:9])
    return Inquiry(
        trace=trace,
        originator=originator,
        payer_id=coverage.payer_id,
        payer_name=coverage.payer_name,
        provider_name=billing.name,
        provider_npi=billing.npi,
        subscriber=Name(
            subscriber.last_name, subscriber.first_name, subscriber.birth_date, subscriber.sex.value
        ),
        member_id=coverage.member_id,
        group_number=coverage.group_number,
        date_of_service=enc.date_of_service,
        service_types=(GENERIC, *VISIT_SERVICE_TYPES.get(enc.documentation.visit_type.value, ())),
        dependent=(
            Name(patient.last_name, patient.first_name, patient.birth_date, patient.sex.value)
            if dependent
            else None
        ),
        relationship=coverage.relationship.value if dependent else None,
    )


@dataclass(frozen=True, slots=True)
class Figures:
    """The benefits that matter for billing, in cents and percent."""

    copay_cents: int | None = None
    deductible_remaining_cents: int | None = None
    coinsurance_percent: Decimal | None = None
    out_of_pocket_remaining_cents: int | None = None


def figures(benefits: list[Benefit], service_types: tuple[str, ...]) -> Figures:
    """Picks, for the visit's own service types first and plan-wide (30) second, the
    in-network individual copay per visit (B), deductible remaining (C, 29), coinsurance
    (A) and out-of-pocket remaining (G, 29). Out-of-network figures are never used."""
    own = [t for t in service_types if t != GENERIC]

    def rank(b: Benefit) -> tuple[int, int, int] | None:
        if b.in_network is False:
            return None
        level = 1 if b.coverage_level not in (None, "IND") else 0
        if any(t in b.service_types for t in own):
            kind = 0
        elif GENERIC in b.service_types or not b.service_types:
            kind = 1
        else:
            return None
        return (kind, 0 if b.in_network else 1, level)

    def best(code: str, *, period: str | None = None, need: str = "amount") -> Benefit | None:
        found: list[tuple[tuple[int, int, int], int, Benefit]] = []
        for i, b in enumerate(benefits):
            if b.code != code or (period is not None and b.time_period != period):
                continue
            if (need == "amount" and b.amount_cents is None) or (
                need == "percent" and b.percent is None
            ):
                continue
            r = rank(b)
            if r is not None:
                found.append((r, i, b))
        return min(found, key=lambda x: (x[0], x[1]))[2] if found else None

    copay = best("B")
    deductible = best("C", period="29")
    coins = best("A", need="percent")
    oop = best("G", period="29")
    return Figures(
        copay_cents=copay.amount_cents if copay else None,
        deductible_remaining_cents=deductible.amount_cents if deductible else None,
        coinsurance_percent=coins.percent if coins else None,
        out_of_pocket_remaining_cents=oop.amount_cents if oop else None,
    )


def response_for(reply: Reply, trace: str) -> Response:
    """The answer to our inquiry: the person whose TRN*2 echoes our trace, or a rejection of
    the whole inquiry above the subscriber level. X12Error when the 271 answers something
    else (an unexpected 271)."""
    for r in reply.responses:
        if trace in r.trace_numbers:
            return r
    for r in reply.responses:
        if r.member_id is None and r.rejections:
            return r
    raise X12Error(f"the 271 does not answer this inquiry: no TRN*2 with trace {trace}")


_AAA_FIX = {
    "72": "correct the member id from the patient's insurance card and re-check eligibility",
    "79": "check the payer id on the coverage; the clearinghouse does not route to it",
    "T4": "check the payer id on the coverage; the clearinghouse does not route to it",
    "50": "enrol the billing provider for eligibility inquiries with this payer",
    "51": "enrol the billing provider with this payer",
    "43": "correct the billing provider's NPI",
}
_NOT_FOUND_FIX = (
    "check the member id, name and birth date against the patient's insurance card, "
    "or enter the patient's current coverage, or bill the patient"
)


def from_271(
    claim_id: str,
    enc: EncounterCreated,
    verify: Verify,
    response: Response,
    *,
    service_types: tuple[str, ...],
    reused: bool = False,
) -> EligibilityChecked | Held | Retry:
    """The payer's answer turned into the pipeline's decision."""
    primary = verify.primary
    payer = f"{primary.payer_name} ({primary.payer_id})"
    dos = enc.date_of_service
    retry = [r for r in response.rejections if r.retryable]
    if retry:
        return Retry(f"{payer} answered AAA {retry[0].code}: {retry[0].message}")
    if response.rejections:
        return Held(
            [
                HoldReason(
                    code=f"AAA-{r.code}",
                    message=f"{payer} rejected the eligibility inquiry: {r.message}"
                    f" (AAA {r.code} in loop {r.loop}, segment {r.segment})",
                    fix=_AAA_FIX.get(r.code, _NOT_FOUND_FIX),
                )
                for r in response.rejections
            ]
        )
    active = response.active
    if active is None:
        return Held(
            [
                HoldReason(
                    code="ELIGIBILITY-271-UNEXPECTED",
                    message=f"{payer}'s 271 says neither active nor inactive (no EB 1-8)",
                    fix="verify eligibility with the payer by phone or portal, then release",
                )
            ]
        )
    if not active:
        return _inactive(payer, response, dos)
    f = figures(response.benefits, service_types)
    reasons = [f"primary {primary.payer_id} active on {dos} (271)"]
    if reused:
        reasons.append("271 reused: same member, payer and date answered recently")
    if verify.secondary is not None:
        reasons.append(
            f"secondary {verify.secondary.payer_id} recorded for coordination of benefits"
        )
    return EligibilityChecked(
        claim_id=claim_id,
        encounter_id=enc.encounter_id,
        active=True,
        payer_id=primary.payer_id,
        payer_name=primary.payer_name,
        plan=primary.plan,
        member_id=primary.member_id,
        copay_cents=f.copay_cents,
        deductible_remaining_cents=f.deductible_remaining_cents,
        coinsurance_percent=f.coinsurance_percent,
        out_of_pocket_remaining_cents=f.out_of_pocket_remaining_cents,
        reasons=reasons,
        encounter=enc,
    )


def _inactive(payer: str, response: Response, dos: dt.date) -> Held:
    """The payer's 271 says the coverage is not active on the date of service: why."""
    ends, begins = response.coverage_ends, response.coverage_begins
    if ends is not None and ends < dos:
        reason = HoldReason(
            code="COVERAGE-ENDED",
            message=f"{payer} reports the coverage ended {ends}, before the date of service {dos}",
            fix="enter the patient's current coverage, or bill the patient",
        )
    elif begins is not None and begins > dos:
        reason = HoldReason(
            code="COVERAGE-NOT-YET-EFFECTIVE",
            message=f"{payer} reports the coverage starts {begins}, after the date of"
            f" service {dos}",
            fix="correct the date of service or the coverage, or bill the patient",
        )
    else:
        reason = HoldReason(
            code="COVERAGE-INACTIVE",
            message=f"{payer} reports the coverage inactive on the date of service {dos}",
            fix="enter the patient's current coverage, or bill the patient",
        )
    return Held([reason])


def unreadable(verify: Verify, problem: str) -> Held:
    p = verify.primary
    return Held(
        [
            HoldReason(
                code="ELIGIBILITY-271-UNREADABLE",
                message=f"the 271 from {p.payer_name} ({p.payer_id}) cannot be read: {problem}",
                fix="verify eligibility with the payer by phone or portal, then release;"
                " the raw 271 is kept with the check",
            )
        ]
    )


def no_answer(verify: Verify, attempts: int, last: str) -> Held:
    p = verify.primary
    return Held(
        [
            HoldReason(
                code="PAYER-NO-RESPONSE",
                message=f"{p.payer_name} ({p.payer_id}) did not answer the eligibility inquiry"
                f" after {attempts} attempts; last: {last}",
                fix="verify eligibility with the payer by phone or portal, then release",
            )
        ]
    )
