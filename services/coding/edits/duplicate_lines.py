"""DUP-LINE (hold): two lines with the same code and modifiers on the date."""

from __future__ import annotations

from schemas.common import ServiceLine
from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, Flag

FIX = "combine the lines into one with units, or add the modifier that makes them distinct"


def repeated_line(f: ClaimFacts, n: int, line: ServiceLine) -> list[Flag]:
    first = f.first_line[(line.procedure_code, tuple(line.modifiers))]
    if first == n:
        return []
    return [
        Flag(
            "DUP-LINE",
            HOLD,
            n,
            f"line {n} repeats line {first} ('{line.procedure_code}', same modifiers, same date)",
            FIX,
        )
    ]
