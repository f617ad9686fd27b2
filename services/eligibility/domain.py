"""Eligibility decisions: pure functions over the encounter and the coverages on record."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from schemas.common import Coverage, HoldReason
from schemas.events import EligibilityChecked, EncounterCreated


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
