"""EM-LEVEL: the office E/M level against the documented medical decision making or
total time (2021 rules, :mod:`services.coding.em`).

Holds when the billed level is above what the documentation supports; warns when it
is below, or when neither MDM nor time is documented.
"""

from __future__ import annotations

from services.coding.codesets import EM_PROBLEM
from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, WARN, Flag
from services.coding.em import RULES_2021, expected_code

FIX = "bill the E/M level the documented MDM or total time supports, or complete the documentation"


def billed_level(f: ClaimFacts) -> list[Flag]:
    mdm, minutes = f.documentation.mdm_level, f.documentation.total_minutes
    found: list[Flag] = []
    for n, code, _ in f.em_lines:
        if code not in EM_PROBLEM:
            continue
        exp = expected_code(code, mdm, minutes, f.dos)
        if exp is None:
            if code != "99211" and f.dos >= RULES_2021 and mdm is None and minutes is None:
                found.append(
                    Flag(
                        "EM-LEVEL",
                        WARN,
                        n,
                        f"line {n}: '{code}' has neither medical decision making nor total "
                        "time documented to support its level",
                        FIX,
                    )
                )
            continue
        if exp.code is not None and code[4] == exp.code[4]:
            continue
        supports = f"line {n}: '{code}' billed but the documentation ({exp.basis}) supports"
        if exp.code is None:
            found.append(Flag("EM-LEVEL", HOLD, n, f"{supports} no office visit level", FIX))
        elif code[4] > exp.code[4]:
            found.append(
                Flag(
                    "EM-LEVEL",
                    HOLD,
                    n,
                    f"{supports} '{exp.code}'",
                    f"bill '{exp.code}', or document the MDM or time that supports '{code}'",
                )
            )
        else:
            found.append(
                Flag(
                    "EM-LEVEL",
                    WARN,
                    n,
                    f"{supports} '{exp.code}' (billed lower)",
                    f"consider '{exp.code}'",
                )
            )
    return found
