"""CODESET-VERSION (warn): the date of service falls outside the ICD-10-CM release the
diagnosis edits (sex, age, first-listed, manifestation) read; the claim is still
checked against it. Each code's own dates are checked against the release in force
(:mod:`services.coding.edits.code_dates`); the message says whether one is held."""

from __future__ import annotations

from services.coding import code_dates
from services.coding.codesets import icd_fiscal_year, icd_release_for
from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import WARN, Flag

FIX = "load the ICD-10-CM release in force on the date of service"


def release_in_force(f: ClaimFacts) -> list[Flag]:
    release, in_force = icd_release_for(f.dos)
    if in_force:
        return []
    dated = next(
        (r for r in code_dates.active().icd10cm.releases if r.start <= f.dos <= (r.end or f.dos)),
        None,
    )
    dates = (
        f"each code's dates were checked against {dated.name}; the other diagnosis edits used"
        if dated
        else "the diagnoses were checked against"
    )
    return [
        Flag(
            "CODESET-VERSION",
            WARN,
            None,
            f"date of service {f.dos.isoformat()} is in ICD-10-CM FY{icd_fiscal_year(f.dos)}; "
            f"{dates} {release.name} "
            f"({release.valid_from.isoformat()} to {release.valid_to.isoformat()})",
            FIX,
        )
    ]
