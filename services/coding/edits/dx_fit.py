"""Whether a visit's diagnoses fit the kind of visit billed (all hold, per line):

* ``DX-FIT-PROBLEM``: a problem-oriented office E/M (99202-99215) points only at
  routine-exam, screening or immunization codes (Z00-Z02, Z11-Z13, Z23; not the
  pre-procedure exams Z01.81- nor the blood pressure check Z01.3-, which an office
  visit may be for). It needs at least one problem it was for.
* ``DX-FIT-PREVENTIVE``: a preventive medicine visit (99381-99397) points at no
  routine-exam or screening code (Z00-Z02, Z11-Z13), or at the routine exam of another
  age band: Z00.11- newborn (under 29 days), Z00.12- child (29 days-17 years), Z00.0-
  adult (18 and over), as the tabular list and the MCE's age groups divide them.
"""

from __future__ import annotations

from services.coding.codesets import EM_PREVENTIVE, EM_PROBLEM, in_ranges
from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, Flag

ROUTINE_OR_SCREENING: tuple[tuple[str, str], ...] = (("Z00", "Z02"), ("Z11", "Z13"))
NOT_A_PROBLEM: tuple[tuple[str, str], ...] = (*ROUTINE_OR_SCREENING, ("Z23", "Z23"))
VISIT_REASONS = (("Z0181", "Z0181"), ("Z013", "Z013"))
"""Exams that are the reason for an office visit: pre-procedure, blood pressure check."""
NEWBORN_DAYS = 28


def _pointed(f: ClaimFacts, n: int) -> list[tuple[int, str]]:
    """(diagnosis number, dotless code) of the valid diagnoses line ``n`` points at."""
    out = []
    for p in f.pointers[n - 1]:
        key = f.keys[p - 1] if p <= len(f.keys) else None
        if key is not None:
            out.append((p, key))
    return out


def problem_without_problem(f: ClaimFacts) -> list[Flag]:
    found: list[Flag] = []
    for n, code, _ in f.em_lines:
        if code not in EM_PROBLEM:
            continue
        pointed = _pointed(f, n)
        if not pointed or any(
            not in_ranges(k, NOT_A_PROBLEM) or in_ranges(k, VISIT_REASONS) for _, k in pointed
        ):
            continue
        names = ", ".join(f"'{f.diagnoses[p - 1]}'" for p, _ in pointed)
        found.append(
            Flag(
                "DX-FIT-PROBLEM",
                HOLD,
                n,
                f"line {n}: problem-oriented E/M '{code}' points only at routine-exam, "
                f"screening or immunization codes ({names}); it needs the problem it "
                "addressed",
                f"point line {n} at the problem diagnosis the visit addressed, or bill "
                "the preventive service instead",
            )
        )
    return found


def _right_exam(f: ClaimFacts) -> tuple[str, str]:
    """(dotless prefix, as written) of the routine exam code for the patient's age."""
    if f.age_days <= NEWBORN_DAYS:
        return "Z0011", "Z00.11-"
    if f.age_years <= 17:
        return "Z0012", "Z00.12-"
    return "Z000", "Z00.0-"


def _exam_band(key: str) -> str | None:
    for prefix in ("Z0011", "Z0012", "Z000"):
        if key.startswith(prefix):
            return prefix
    return None


def preventive_without_exam(f: ClaimFacts) -> list[Flag]:
    if f.age_days < 0:
        return []
    found: list[Flag] = []
    for n, code, _ in f.em_lines:
        if code not in EM_PREVENTIVE:
            continue
        pointed = _pointed(f, n)
        right, right_text = _right_exam(f)
        routine = [(p, k) for p, k in pointed if in_ranges(k, ROUTINE_OR_SCREENING)]
        wrong = [(p, k) for p, k in routine if _exam_band(k) not in (None, right)]
        if routine and not wrong:
            continue
        if wrong:
            p, _ = wrong[0]
            msg = (
                f"line {n}: preventive visit '{code}' points at '{f.diagnoses[p - 1]}', the "
                f"routine exam of another age band; the patient's age calls for {right_text}"
            )
        else:
            msg = (
                f"line {n}: preventive visit '{code}' points at no routine-exam or screening "
                f"code ({right_text} for the patient's age)"
            )
        found.append(
            Flag("DX-FIT-PREVENTIVE", HOLD, n, msg, f"point line {n} at {right_text} first")
        )
    return found
