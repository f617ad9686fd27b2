"""Codes checked against the release in force on the date of service:

* ``FUTURE-DOS`` (hold): the date of service is after today (UTC).
* ``DX-NOT-IN-FORCE`` (hold): an ICD-10-CM code not in force on the date of service
  (before its effective date or after its termination); the message names both dates.
* ``PROC-NOT-IN-FORCE`` (hold): the same for a HCPCS Level II code, or a CPT code whose
  dates the practice's licensed file gives.
"""

from __future__ import annotations

import datetime as dt

from services.coding.code_dates import CodeDates, Range
from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, Flag

FIX_FUTURE = "correct the date of service; a claim is billed after the service"
FIX_DX = "code the diagnosis from the ICD-10-CM release in force on the date of service"
FIX_PROC = "use the code in force on the date of service"


def future_date(f: ClaimFacts) -> list[Flag]:
    today = dt.datetime.now(dt.UTC).date()
    if f.dos <= today:
        return []
    return [
        Flag(
            "FUTURE-DOS",
            HOLD,
            None,
            f"date of service {f.dos.isoformat()} is in the future (today is {today.isoformat()})",
            FIX_FUTURE,
        )
    ]


def out_of_force(what: str, dos: dt.date, span: Range, system: str) -> str:
    """``'E11.9' (ICD-10-CM) took effect 2025-10-01; the date of service 2025-06-01 is
    before it`` / ``... was terminated 2025-09-30 (effective ...); ... is after it``."""
    start, end = span
    since = start.isoformat() if start else "before the first release held"
    if start is not None and dos < start:
        until = f", terminated {end.isoformat()}" if end else ""
        return (
            f"{what} is not in {system} on the date of service {dos.isoformat()}: "
            f"effective {since}{until}; the date of service is before it"
        )
    assert end is not None
    return (
        f"{what} is not in {system} on the date of service {dos.isoformat()}: "
        f"effective {since}, terminated {end.isoformat()}; the date of service is after it"
    )


def diagnosis(f: ClaimFacts, n: int, dx: str, key: str, icd: CodeDates) -> list[Flag] | None:
    """``None`` when the dated set does not know ``key`` (a header, or unknown): the
    caller's validity checks decide; else ``[]`` (in force) or the hold."""
    found = icd.on(key, f.dos)
    if found is None:
        return None
    in_force, span = found
    if in_force:
        return []
    msg = out_of_force(f"diagnosis {n} '{dx}'", f.dos, span, "ICD-10-CM")
    return [Flag("DX-NOT-IN-FORCE", HOLD, None, msg, FIX_DX)]


def procedure(f: ClaimFacts, n: int, code: str, dates: CodeDates) -> list[Flag] | None:
    """Like :func:`diagnosis`, for line ``n``'s procedure code in ``dates``."""
    found = dates.on(code, f.dos)
    if found is None:
        return None
    in_force, span = found
    if in_force:
        return []
    system = "HCPCS Level II" if dates.system == "hcpcs" else "CPT"
    msg = out_of_force(f"line {n}: '{code}'", f.dos, span, system)
    return [Flag("PROC-NOT-IN-FORCE", HOLD, n, msg, FIX_PROC)]
