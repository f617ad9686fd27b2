"""ICD-10-CM code validity, per diagnosis:

* ``DX-INVALID`` (hold): not an ICD-10-CM code.
* ``DX-NOT-IN-FORCE`` (hold): a billable code, but not on the date of service
  (:mod:`services.coding.edits.code_dates`).
* ``DX-NOT-BILLABLE`` (hold): a category/subcategory header, not a leaf code.
* ``DX-DUPLICATE`` (warn): the same diagnosis listed twice.
"""

from __future__ import annotations

from services.coding import code_dates
from services.coding.edits import code_dates as dated
from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, WARN, Flag

FIX_INVALID = "correct the diagnosis to a valid ICD-10-CM code"
FIX_NOT_BILLABLE = "code to the highest specificity: pick a billable (leaf) code under it"
FIX_DUPLICATE = "list each diagnosis once"


def invalid_or_header(f: ClaimFacts, n: int, dx: str, key: str | None) -> list[Flag]:
    """Diagnosis ``n`` as written (``dx``) and dotless (``key``, None when invalid).

    No flag means the code is billable on the date of service: by the dated set in
    force when it knows the code, else by the tabular list's leaves."""
    if key is None:
        return [
            Flag(
                "DX-INVALID",
                HOLD,
                None,
                f"diagnosis {n} '{dx}' is not an ICD-10-CM code",
                FIX_INVALID,
            )
        ]
    by_date = dated.diagnosis(f, n, dx, key, code_dates.active().icd10cm)
    if by_date is not None:
        return by_date
    if key not in f.ix.billable:
        return [
            Flag(
                "DX-NOT-BILLABLE",
                HOLD,
                None,
                f"diagnosis {n} '{dx}' is a header code, not billable; it needs more characters",
                FIX_NOT_BILLABLE,
            )
        ]
    return []


def duplicate(f: ClaimFacts, n: int, dx: str, key: str) -> list[Flag]:
    first = f.first_dx[key]
    if first == n:
        return []
    return [
        Flag(
            "DX-DUPLICATE",
            WARN,
            None,
            f"diagnosis {n} '{dx}' repeats diagnosis {first}",
            FIX_DUPLICATE,
        )
    ]
