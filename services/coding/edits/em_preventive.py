"""EM-PREVENTIVE-AGE (hold): a preventive visit (99381-99387 new, 99391-99397
established) coded for the wrong age band, or new/established against the
documentation. Not checked when the date of birth is after the date of service."""

from __future__ import annotations

from collections.abc import Mapping

from services.coding.codesets import EM_PREVENTIVE, EM_PREVENTIVE_NEW
from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, Flag

# Preventive medicine age bands: last digit of 9938x/9939x -> (min, max) age in years.
PREVENTIVE_BANDS: Mapping[str, tuple[int, int]] = {
    "1": (0, 0),
    "2": (1, 4),
    "3": (5, 11),
    "4": (12, 17),
    "5": (18, 39),
    "6": (40, 64),
    "7": (65, 200),
}


def preventive_code_for(age_years: int, new_patient: bool) -> str:
    """The preventive E/M code for an age and new/established status."""
    for digit, (low, high) in PREVENTIVE_BANDS.items():
        if low <= age_years <= high:
            return ("9938" if new_patient else "9939") + digit
    return ("9938" if new_patient else "9939") + "7"


def _band_label(digit: str) -> str:
    low, high = PREVENTIVE_BANDS[digit]
    if low == 0 and high == 0:
        return "under 1 year"
    if high >= 200:
        return f"{low} and over"
    return f"{low}-{high} years"


def age_band(f: ClaimFacts) -> list[Flag]:
    if f.age_days < 0:
        return []
    found: list[Flag] = []
    for n, code, _ in f.em_lines:
        if code not in EM_PREVENTIVE:
            continue
        digit = code[4]
        low, high = PREVENTIVE_BANDS.get(digit, (-1, -1))
        if low <= f.age_years <= high:
            continue
        right = preventive_code_for(f.age_years, code in EM_PREVENTIVE_NEW)
        found.append(
            Flag(
                "EM-PREVENTIVE-AGE",
                HOLD,
                n,
                f"line {n}: '{code}' is for ages {_band_label(digit)}; the "
                f"patient's age at the date of service calls for '{right}'",
                f"use '{right}'",
            )
        )
    return found


def patient_status(f: ClaimFacts) -> list[Flag]:
    if f.age_days < 0:
        return []
    new_patient = f.documentation.new_patient
    status = "new" if new_patient else "established"
    found: list[Flag] = []
    for n, code, _ in f.em_lines:
        if code not in EM_PREVENTIVE:
            continue
        is_new_code = code in EM_PREVENTIVE_NEW
        if is_new_code == new_patient:
            continue
        right = code[:3] + ("8" if new_patient else "9") + code[4]
        found.append(
            Flag(
                "EM-PREVENTIVE-AGE",
                HOLD,
                n,
                f"line {n}: '{code}' is a {'new' if is_new_code else 'established'}"
                f"-patient preventive code but the documentation says {status} patient",
                f"use '{right}' or correct the documentation",
            )
        )
    return found
