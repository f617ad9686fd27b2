"""PROC-SEX (hold): a procedure done on one sex only (``data/procedure_sex.csv``: Pap
and pelvic screening, obstetric care, PSA, male genital surgery ...) billed for a
patient of the other sex. A patient of unknown sex is not checked; modifier KX says the
service is right for this patient (CMS's instruction for gender-specific services)."""

from __future__ import annotations

from schemas.common import Sex
from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, Flag
from services.coding.reference import procedure_sex

_SEX = {"F": ("female", Sex.female), "M": ("male", Sex.male)}


def other_sex(f: ClaimFacts) -> list[Flag]:
    if f.sex is Sex.unknown:
        return []
    found: list[Flag] = []
    for n, line in enumerate(f.lines, start=1):
        sex = procedure_sex(line.procedure_code)
        if sex is None or _SEX[sex][1] is f.sex or "KX" in line.modifiers:
            continue
        found.append(
            Flag(
                "PROC-SEX",
                HOLD,
                n,
                f"line {n}: '{line.procedure_code}' is a procedure for {_SEX[sex][0]} patients "
                f"but the patient is {_SEX['M' if sex == 'F' else 'F'][0]}",
                "verify the patient's sex and the procedure; if the service is right for "
                "this patient (e.g. a transgender patient), append modifier KX",
            )
        )
    return found
