"""CPT and HCPCS Level II code validity, per line:

* ``PROC-INVALID`` (hold): not shaped like CPT or HCPCS Level II.
* ``PROC-UNKNOWN`` (warn): well formed but not in this practice's CPT/HCPCS sets.
"""

from __future__ import annotations

from services.coding.codesets import is_known_procedure, procedure_kind
from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, WARN, Flag

FIX_INVALID = "correct the procedure code to a valid CPT or HCPCS Level II code"
FIX_UNKNOWN = "confirm the code is current; load the licensed CPT file if it is CPT"


def invalid_or_unknown(f: ClaimFacts) -> list[Flag]:
    found: list[Flag] = []
    for n, line in enumerate(f.lines, start=1):
        code = line.procedure_code
        if procedure_kind(code) is None:
            found.append(
                Flag(
                    "PROC-INVALID",
                    HOLD,
                    n,
                    f"line {n}: '{code}' is not a CPT or HCPCS Level II code",
                    FIX_INVALID,
                )
            )
        elif not is_known_procedure(code):
            found.append(
                Flag(
                    "PROC-UNKNOWN",
                    WARN,
                    n,
                    f"line {n}: '{code}' is not in this practice's CPT/HCPCS code sets",
                    FIX_UNKNOWN,
                )
            )
    return found
