"""DUP-LINE (hold): two lines with the same code and modifiers on the date."""

from __future__ import annotations

from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, Flag

FIX = "combine the lines into one with units, or add the modifier that makes them distinct"


def repeated_lines(f: ClaimFacts) -> list[Flag]:
    found: list[Flag] = []
    first: dict[tuple[str, tuple[str, ...]], int] = {}
    for n, line in enumerate(f.lines, start=1):
        code = line.procedure_code
        seen = first.setdefault((code, tuple(line.modifiers)), n)
        if seen != n:
            found.append(
                Flag(
                    "DUP-LINE",
                    HOLD,
                    n,
                    f"line {n} repeats line {seen} ('{code}', same modifiers, same date)",
                    FIX,
                )
            )
    return found
