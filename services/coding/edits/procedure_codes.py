"""CPT and HCPCS Level II code validity, per line:

* ``PROC-INVALID`` (hold): not shaped like CPT or HCPCS Level II.
* ``PROC-NOT-IN-FORCE`` (hold): a dated code (HCPCS Level II; CPT with the dates of the
  practice's licensed file) before its effective date or after its termination
  (:mod:`services.coding.edits.code_dates`).
* ``PROC-UNKNOWN`` (warn): well formed but in none of the CPT/HCPCS sets held.
"""

from __future__ import annotations

from services.coding import code_dates
from services.coding.codesets import is_known_procedure, procedure_kind
from services.coding.edits import code_dates as dated
from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, WARN, Flag

FIX_INVALID = "correct the procedure code to a valid CPT or HCPCS Level II code"
FIX_UNKNOWN = "confirm the code is current; load the licensed CPT file if it is CPT"


def invalid_or_unknown(f: ClaimFacts) -> list[Flag]:
    found: list[Flag] = []
    sets = code_dates.active()
    for n, line in enumerate(f.lines, start=1):
        code = line.procedure_code
        kind = procedure_kind(code)
        if kind is None:
            found.append(
                Flag(
                    "PROC-INVALID",
                    HOLD,
                    n,
                    f"line {n}: '{code}' is not a CPT or HCPCS Level II code",
                    FIX_INVALID,
                )
            )
            continue
        by_date = dated.procedure(f, n, code, sets.hcpcs if kind == "hcpcs" else sets.cpt)
        if by_date is not None:
            found += by_date
        elif not is_known_procedure(code):
            found.append(
                Flag(
                    "PROC-UNKNOWN",
                    WARN,
                    n,
                    f"line {n}: '{code}' is not in the CPT/HCPCS code sets held",
                    FIX_UNKNOWN,
                )
            )
    return found
