"""Data the claim cannot be built without (all hold):

* ``PATIENT-AGE``: the date of birth is after the date of service.
* ``CLAIM-ID``: the claim id does not fit the patient control number (1-20 characters).
* ``COVERAGE-MISSING``: no coverage or payer id, and the encounter is not self-pay.
* ``CLAIM-INVALID``: the claim fails its own contract (raised while building it, see
  :func:`services.coding.scrub.scrub`).
"""

from __future__ import annotations

from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, Flag

MAX_PCN = 20

FIX_PATIENT_AGE = "correct the patient's date of birth"
FIX_CLAIM_ID = "the claim id must be 1-20 characters to serve as the patient control number"
FIX_COVERAGE = "add the patient's coverage or mark the encounter self-pay"
FIX_CLAIM_INVALID = "correct the encounter data named in the message"


def birth_after_service(f: ClaimFacts) -> list[Flag]:
    if f.age_days >= 0:
        return []
    return [
        Flag(
            "PATIENT-AGE", HOLD, None, "date of birth is after the date of service", FIX_PATIENT_AGE
        )
    ]


def claim_id_length(f: ClaimFacts) -> list[Flag]:
    pcn = f.checked.claim_id
    if 1 <= len(pcn) <= MAX_PCN:
        return []
    return [
        Flag(
            "CLAIM-ID",
            HOLD,
            None,
            f"claim id is {len(pcn)} characters; the patient control number allows 1-{MAX_PCN}",
            FIX_CLAIM_ID,
        )
    ]


def coverage_missing(f: ClaimFacts) -> list[Flag]:
    checked = f.checked
    if checked.self_pay or (f.coverage is not None and checked.payer_id):
        return []
    what = "no coverage on the encounter" if f.coverage is None else "no payer id"
    return [
        Flag(
            "COVERAGE-MISSING",
            HOLD,
            None,
            f"{what} and the encounter is not self-pay",
            FIX_COVERAGE,
        )
    ]


def claim_invalid(problems: str) -> Flag:
    """The hold for a claim its contract rejects; ``problems`` names fields, never values."""
    return Flag(
        "CLAIM-INVALID",
        HOLD,
        None,
        f"the claim cannot be built: {problems}",
        FIX_CLAIM_INVALID,
    )
