"""CODESET-VERSION (warn): the date of service falls outside the ICD-10-CM release
loaded; the claim is still checked against it."""

from __future__ import annotations

from services.coding.codesets import icd_fiscal_year, icd_release_for
from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import WARN, Flag

FIX = "load the ICD-10-CM release in force on the date of service"


def release_in_force(f: ClaimFacts) -> list[Flag]:
    release, in_force = icd_release_for(f.dos)
    if in_force:
        return []
    return [
        Flag(
            "CODESET-VERSION",
            WARN,
            None,
            f"date of service {f.dos.isoformat()} is in ICD-10-CM FY{icd_fiscal_year(f.dos)}; the "
            f"diagnoses were checked against {release.name} "
            f"({release.valid_from.isoformat()} to {release.valid_to.isoformat()})",
            FIX,
        )
    ]
