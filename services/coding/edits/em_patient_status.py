"""EM-PATIENT-STATUS (hold): an office visit coded new-patient (99202-99205) or
established (99211-99215) against what the documentation says. (Preventive visits:
:mod:`services.coding.edits.em_preventive`.)"""

from __future__ import annotations

from services.coding.codesets import EM_OFFICE_NEW, EM_PROBLEM
from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, Flag

FIX = "use the new-patient or established-patient E/M that matches the documentation"


def office_visit_status(f: ClaimFacts) -> list[Flag]:
    new_patient = f.documentation.new_patient
    status = "new" if new_patient else "established"
    found: list[Flag] = []
    for n, code, _ in f.em_lines:
        if code not in EM_PROBLEM or (code in EM_OFFICE_NEW) == new_patient:
            continue
        found.append(
            Flag(
                "EM-PATIENT-STATUS",
                HOLD,
                n,
                f"line {n}: '{code}' is a {'new' if code in EM_OFFICE_NEW else 'established'}"
                f"-patient office visit but the documentation says {status} patient",
                FIX,
            )
        )
    return found
