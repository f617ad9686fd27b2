"""POINTERS (hold): the claim's diagnoses and each line's pointers into them.

A professional claim carries 1-12 diagnoses; each line points at 1-4 of them, and only
at diagnoses on the claim. (Which diagnoses a line points at is worked out once, in
:func:`services.coding.edits.facts.claim_facts`.)
"""

from __future__ import annotations

from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, Flag

MAX_DIAGNOSES = 12
MAX_POINTERS = 4

FIX = "point each line at 1-4 of the claim's diagnoses (at most 12)"


def diagnosis_count(f: ClaimFacts) -> list[Flag]:
    if not f.diagnoses:
        return [Flag("POINTERS", HOLD, None, "the claim has no diagnoses", FIX)]
    if len(f.diagnoses) > MAX_DIAGNOSES:
        return [
            Flag(
                "POINTERS",
                HOLD,
                None,
                f"{len(f.diagnoses)} diagnoses; a professional claim carries at most "
                f"{MAX_DIAGNOSES}",
                FIX,
            )
        ]
    return []


def line_pointers(f: ClaimFacts) -> list[Flag]:
    found: list[Flag] = []
    for n, (pointers, unknown) in enumerate(zip(f.pointers, f.unknown_dx, strict=True), start=1):
        for dx in unknown:
            found.append(
                Flag(
                    "POINTERS",
                    HOLD,
                    n,
                    f"line {n} names diagnosis '{dx}', which is not on the claim",
                    FIX,
                )
            )
        if len(pointers) > MAX_POINTERS:
            found.append(
                Flag(
                    "POINTERS",
                    HOLD,
                    n,
                    f"line {n} points at {len(pointers)} diagnoses; at most {MAX_POINTERS}",
                    FIX,
                )
            )
        elif not pointers and not unknown:
            found.append(
                Flag(
                    "POINTERS",
                    HOLD,
                    n,
                    f"line {n} has no diagnosis pointer (it is never defaulted to diagnosis 1)",
                    f"point line {n} at the diagnosis (1-4 of them) it was done for",
                )
            )
        elif any(p > MAX_DIAGNOSES for p in pointers):
            found.append(
                Flag("POINTERS", HOLD, n, f"line {n} points past diagnosis {MAX_DIAGNOSES}", FIX)
            )
    return found
