"""DX-SEX (hold): a sex-specific diagnosis (pregnancy or female genital, male genital)
for a patient of the other sex. A patient of unknown sex is not checked, nor a
diagnosis a line with modifier KX points at (CMS's instruction for gender-specific
services, e.g. a transgender patient's screening).

The sexes come from the ICD-10-CM index (the tabular list of one release). A code billable
on the date of service that the index does not hold as billable (a code of a later
release, e.g. FY2027's O00.121, or one split since, e.g. FY2025's codes that are FY2026
headers) takes its category's sex when every billable code of that category in the index
is of one sex (chapter 15's pregnancy categories are all female)."""

from __future__ import annotations

from schemas.common import Sex
from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, Flag
from services.coding.icd_cache import IcdIndex

FIX = "verify the patient's sex and the diagnosis; correct whichever is wrong"


def _kx_line_points_at(f: ClaimFacts, n: int) -> bool:
    return any(
        "KX" in line.modifiers and n in points
        for line, points in zip(f.lines, f.pointers, strict=True)
    )


_CATEGORY_SEX: dict[str, dict[str, Sex]] = {}


def category_sex(ix: IcdIndex) -> dict[str, Sex]:
    """3-character category -> the sex every billable code of it is for (only the
    categories whose billable codes are all female-only, or all male-only)."""
    known = _CATEGORY_SEX.get(ix.version)
    if known is None:
        counts: dict[str, list[int]] = {}
        for code in ix.billable:
            c = counts.setdefault(code[:3], [0, 0, 0])
            c[0] += 1
            c[1] += code in ix.female_only
            c[2] += code in ix.male_only
        known = {cat: Sex.female for cat, (t, fe, _) in counts.items() if t == fe}
        known.update({cat: Sex.male for cat, (t, _, ma) in counts.items() if t == ma})
        _CATEGORY_SEX.clear()
        _CATEGORY_SEX[ix.version] = known
    return known


def _sex_of(ix: IcdIndex, key: str) -> Sex | None:
    if key in ix.female_only:
        return Sex.female
    if key in ix.male_only:
        return Sex.male
    if key in ix.billable:
        return None
    return category_sex(ix).get(key[:3])


def other_sex(f: ClaimFacts, n: int, dx: str, key: str) -> list[Flag]:
    if f.sex is Sex.unknown:
        return []
    sex = _sex_of(f.ix, key)
    if sex is None or sex is f.sex or _kx_line_points_at(f, n):
        return []
    if sex is Sex.female:
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
    return [
        Flag(
            "DX-SEX",
            HOLD,
            None,
            f"diagnosis {n} '{dx}' is for male patients (male genital) but the patient is female",
            FIX,
        )
    ]
