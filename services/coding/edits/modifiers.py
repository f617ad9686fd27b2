"""MOD-INVALID (hold): a modifier this practice does not know, or one repeated on a line.

Which modifiers bypass an NCCI pair is :mod:`services.coding.edits.ncci_ptp`'s rule."""

from __future__ import annotations

from services.coding.codesets import KNOWN_MODIFIERS
from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, Flag

FIX = "correct or remove the modifier"


def unknown_or_repeated(f: ClaimFacts) -> list[Flag]:
    found: list[Flag] = []
    for n, line in enumerate(f.lines, start=1):
        mods = line.modifiers
        bad = [m for m in mods if m not in KNOWN_MODIFIERS]
        if bad:
            found.append(
                Flag(
                    "MOD-INVALID",
                    HOLD,
                    n,
                    f"line {n}: unknown modifier {', '.join(repr(m) for m in bad)}",
                    FIX,
                )
            )
        if len(set(mods)) != len(mods):
            found.append(Flag("MOD-INVALID", HOLD, n, f"line {n}: a modifier is repeated", FIX))
    return found
