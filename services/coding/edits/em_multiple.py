"""EM-MULTIPLE (hold): more than one E/M on the date of service.

The one pair allowed: a preventive visit plus a problem-oriented office visit carrying
modifier 25 (significant, separately identifiable).
"""

from __future__ import annotations

from services.coding.codesets import EM_PREVENTIVE, EM_PROBLEM
from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, Flag

FIX_ADD_25 = "add modifier 25 to the problem-oriented E/M if separately identifiable"


def more_than_one(f: ClaimFacts) -> list[Flag]:
    em_lines = f.em_lines
    if len(em_lines) <= 1:
        return []
    preventive = [e for e in em_lines if e[1] in EM_PREVENTIVE]
    problem = [e for e in em_lines if e[1] in EM_PROBLEM]
    if len(preventive) == 1 and len(problem) == 1:
        n, code, mods = problem[0]
        if "25" in mods:
            return []
        return [
            Flag(
                "EM-MULTIPLE",
                HOLD,
                n,
                f"line {n}: problem-oriented E/M '{code}' is billed with preventive "
                f"'{preventive[0][1]}' on the same date without modifier 25",
                FIX_ADD_25,
            )
        ]
    codes = ", ".join(f"'{c}' (line {n})" for n, c, _ in em_lines)
    if len(preventive) > 1 and not problem:
        fix = "bill one preventive visit for the date"
    elif len(preventive) > 1:
        fix = "bill one preventive visit, and the problem E/M with modifier 25"
    else:
        fix = "bill one problem-oriented E/M for the date that covers all the work"
    return [
        Flag(
            "EM-MULTIPLE",
            HOLD,
            em_lines[1][0],
            f"{len(em_lines)} E/M services on the same date: {codes}",
            fix,
        )
    ]
