"""DX-AGE (hold): a diagnosis outside the ages it is valid for, after CMS's Medicare
Code Editor age conflict groups (newborn age 0, pediatric 0-17, maternity 9-64, adult
15-124) and the official guidelines' BMI ages (pediatric 2-19, adult 20 and over).

The groups are data (:data:`services.coding.reference.AGE_GROUPS`, from
``data/dx_age_groups.csv``), and the perinatal codes come from the code set (the
chapter the tabular list marks "for use on newborn records only"). A perinatal code
is valid through the first year (MCE's newborn age 0), not only the first 28 days. Not checked when the date of birth
is after the date of service (``PATIENT-AGE`` holds that).
"""

from __future__ import annotations

from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, Flag
from services.coding.reference import AgeGroup, age_group

PERINATAL = AgeGroup("newborn", 0, 0, "MCE newborn diagnoses (chapter 16 P00-P96; age 0)")

FIX = {
    "newborn": (
        "verify the date of birth; after the first year use the code for the condition "
        "itself (a perinatal code past age 0 is an MCE age conflict)"
    ),
    "maternity": "verify the date of birth and the diagnosis: a pregnancy code needs a patient 9-64",
    "pediatric": "verify the date of birth; use the adult code for a patient 18 or older",
    "adult": "verify the date of birth; use the child's code for a patient under 15",
}
FIX_BMI = "use the BMI code for the patient's age: Z68.5- for 2-19 years, Z68.1-Z68.45 for 20+"


def _ages(low: int, high: int) -> str:
    if low == high:
        return f"age {low}"
    return f"ages {low}-{high}" if high < 124 else f"ages {low} and over"


def outside_age_group(f: ClaimFacts, n: int, dx: str, key: str) -> list[Flag]:
    if f.age_days < 0:
        return []
    group = PERINATAL if key in f.ix.newborn_only else age_group(key)
    if group is None or group.min_years <= f.age_years <= group.max_years:
        return []
    fix = FIX_BMI if group.group.endswith("BMI") else FIX.get(group.group, FIX["adult"])
    return [
        Flag(
            "DX-AGE",
            HOLD,
            None,
            f"diagnosis {n} '{dx}' is a {group.group} code ({_ages(group.min_years, group.max_years)}; "
            f"{group.source}) but the patient is {f.age_years}",
            fix,
        )
    ]
