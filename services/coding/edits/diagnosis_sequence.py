"""DX-FIRST-LISTED: the order of the diagnoses.

Holds when the first-listed diagnosis may never be first: an external cause code
(V00-Y99), a manifestation/supplementary code, or a status Z code that is never the
reason for a visit (:data:`services.coding.reference.SECONDARY_ONLY`). Warns when the first diagnosis has a
"code first" note naming another diagnosis on the claim.
"""

from __future__ import annotations

from services.coding.codesets import in_ranges
from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, WARN, Flag
from services.coding.reference import secondary_only

FIX = "resequence the diagnoses so the condition treated is listed first"


def first_listed(f: ClaimFacts) -> list[Flag]:
    ix, keys, diagnoses = f.ix, f.keys, f.diagnoses
    first = keys[0] if keys else None
    if first is None or first not in ix.billable:
        return []
    if first in ix.external_cause:
        return [
            Flag(
                "DX-FIRST-LISTED",
                HOLD,
                None,
                f"first-listed diagnosis '{diagnoses[0]}' is an external cause code "
                "(V00-Y99), which is only ever secondary",
                FIX,
            )
        ]
    if first in ix.never_first:
        return [
            Flag(
                "DX-FIRST-LISTED",
                HOLD,
                None,
                f"first-listed diagnosis '{diagnoses[0]}' {ix.never_first[first]}",
                FIX,
            )
        ]
    reason = secondary_only(first)
    if reason is not None:
        return [
            Flag(
                "DX-FIRST-LISTED",
                HOLD,
                None,
                f"first-listed diagnosis '{diagnoses[0]}' {reason}",
                FIX,
            )
        ]
    refs = ix.code_first_refs.get(first)
    if refs:
        for n, other in enumerate(keys[1:], start=2):
            if other is not None and in_ranges(other, refs):
                return [
                    Flag(
                        "DX-FIRST-LISTED",
                        WARN,
                        None,
                        f"'{diagnoses[0]}' says to code first the underlying condition; "
                        f"diagnosis {n} '{diagnoses[n - 1]}' may belong first",
                        FIX,
                    )
                ]
    return []
