"""NCCI-PTP (hold): a column 2 code billed with its column 1 code on the date.

Holds where the pair's modifier indicator is 0, or is 1 and no bypass modifier is on
the pair: 59, XE, XS, XP or XU on the non-E/M code; 25 on the E/M; or different
anatomic modifiers on the two lines. Indicator 9 and edits not in force on the date of
service are ignored; two E/M codes are EM-MULTIPLE's
(:mod:`services.coding.edits.em_multiple`).
"""

from __future__ import annotations

from schemas.common import ServiceLine
from services.coding.codesets import EM_CODES
from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, Flag

NCCI_BYPASS: frozenset[str] = frozenset({"59", "XE", "XS", "XP", "XU"})
"""Modifiers that bypass an indicator-1 edit when on the non-E/M code of the pair."""
ANATOMIC: frozenset[str] = frozenset(
    {"LT", "RT", "50", "E1", "E2", "E3", "E4", "FA"}
    | {f"F{i}" for i in range(1, 10)}
    | {"TA"}
    | {f"T{i}" for i in range(1, 10)}
)


def bypassed(a: ServiceLine, b: ServiceLine) -> bool:
    """Whether an indicator-1 pair carries a modifier that allows both codes."""
    for line, other in ((a, b), (b, a)):
        mods = set(line.modifiers)
        if line.procedure_code in EM_CODES:
            if "25" in mods:
                return True
        elif mods & NCCI_BYPASS:
            return True
        side, other_side = mods & ANATOMIC, set(other.modifiers) & ANATOMIC
        if side and other_side and not side & other_side:
            return True
    return False


def bundled_pairs(f: ClaimFacts) -> list[Flag]:
    tables, lines = f.tables, f.lines
    column1 = tables.column1
    if not column1:
        return []
    found: list[Flag] = []
    codes = [ln.procedure_code for ln in lines]
    # every ordered pair of lines: a claim has few lines
    for i, c1 in enumerate(codes):
        if c1 not in column1:
            continue
        for j, c2 in enumerate(codes):
            if i == j or c1 == c2 or (c1 in EM_CODES and c2 in EM_CODES):
                continue
            edit = tables.ptp_on(c1, c2, f.dos)
            if edit is None or edit.modifier_indicator == 9:
                continue
            if edit.modifier_indicator == 1 and bypassed(lines[i], lines[j]):
                continue
            found.append(_bundled(i + 1, c1, j + 1, c2, edit.modifier_indicator, edit.rationale))
    return found


def _bundled(n1: int, c1: str, n2: int, c2: str, indicator: int, rationale: str) -> Flag:
    why = f" ({rationale})" if rationale else ""
    said = f"line {n2}: '{c2}' is bundled into '{c1}' (line {n1}) on the same date by NCCI{why}"
    if indicator == 0:
        return Flag(
            "NCCI-PTP",
            HOLD,
            n2,
            f"{said}; no modifier allows both (indicator 0)",
            f"remove '{c2}' (line {n2}); it is not separately payable with '{c1}'",
        )
    em_side = c1 in EM_CODES or c2 in EM_CODES
    how = "modifier 25 on the E/M" if em_side else "modifier 59, XE, XS, XP or XU"
    return Flag(
        "NCCI-PTP",
        HOLD,
        n2,
        f"{said}; {how} allows both only if the service was distinct",
        f"remove '{c2}', or append {how} if the record shows a distinct service",
    )
