"""DX-SEX (hold): a sex-specific diagnosis (pregnancy or female genital, male genital)
for a patient of the other sex. A patient of unknown sex is not checked, nor a
diagnosis a line with modifier KX points at (CMS's instruction for gender-specific
services, e.g. a transgender patient's screening)."""

from __future__ import annotations

from schemas.common import Sex
from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, Flag

FIX = "verify the patient's sex and the diagnosis; correct whichever is wrong"


def _kx_line_points_at(f: ClaimFacts, n: int) -> bool:
    return any(
        "KX" in line.modifiers and n in points
        for line, points in zip(f.lines, f.pointers, strict=True)
    )


def other_sex(f: ClaimFacts, n: int, dx: str, key: str) -> list[Flag]:
    if f.sex is Sex.unknown or (key not in f.ix.female_only and key not in f.ix.male_only):
        return []
    if _kx_line_points_at(f, n):
        return []
    if f.sex is Sex.male and key in f.ix.female_only:
        return [
            Flag(
                "DX-SEX",
                HOLD,
                None,
                f"diagnosis {n} '{dx}' is for female patients (pregnancy or female "
                "genital) but the patient is male",
                FIX,
            )
        ]
    if f.sex is Sex.female and key in f.ix.male_only:
        return [
            Flag(
                "DX-SEX",
                HOLD,
                None,
                f"diagnosis {n} '{dx}' is for male patients (male genital) but the "
                "patient is female",
                FIX,
            )
        ]
    return []
