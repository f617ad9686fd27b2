"""DX-AGE (hold): a perinatal code (P00-P96, the newborn's record) for a patient past
the newborn period."""

from __future__ import annotations

from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, Flag

FIX = (
    "verify date of birth and diagnosis; use the non-perinatal code unless the "
    "condition originated in the perinatal period (then document that)"
)


def perinatal_after_newborn(f: ClaimFacts, n: int, dx: str, key: str) -> list[Flag]:
    ix = f.ix
    if key not in ix.newborn_only or f.age_days <= ix.newborn_max_age_days:
        return []
    return [
        Flag(
            "DX-AGE",
            HOLD,
            None,
            f"diagnosis {n} '{dx}' is a perinatal code (newborn record) but the "
            f"patient is older than {ix.newborn_max_age_days} days",
            FIX,
        )
    ]
