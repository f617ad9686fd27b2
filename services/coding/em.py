"""Office E/M level from the documentation (CPT 2021 office-visit guidelines).

Since January 1, 2021 an office or other outpatient visit (99202-99205 new,
99212-99215 established) is leveled by medical decision making (MDM) *or* by the
practitioner's total time on the date of the encounter, whichever supports the
higher level. 99211 needs neither. Before 2021 the level rested on history and
examination, which the encounter does not carry, so no level is checked then.

Time thresholds (minutes on the date; the 2021 ranges start at the same minimums
that CPT 2024 states as "must be met or exceeded"):

=========  ====  ===  ========  ====
MDM        new   min  estab.    min
=========  ====  ===  ========  ====
straight.  99202  15  99212      10
low        99203  30  99213      20
moderate   99204  45  99214      30
high       99205  60  99215      40
=========  ====  ===  ========  ====
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

RULES_2021 = dt.date(2021, 1, 1)

MDM_LEVEL: dict[str, int] = {"straightforward": 2, "low": 3, "moderate": 4, "high": 5}
TIME_NEW: tuple[tuple[int, int], ...] = ((60, 5), (45, 4), (30, 3), (15, 2))
TIME_ESTABLISHED: tuple[tuple[int, int], ...] = ((40, 5), (30, 4), (20, 3), (10, 2))

LEVELED: frozenset[str] = frozenset(
    {"99202", "99203", "99204", "99205", "99212", "99213", "99214", "99215"}
)


@dataclass(frozen=True, slots=True)
class Expected:
    """The level the documentation supports, and why."""

    code: str | None  # None: the documentation supports no leveled office visit
    basis: str  # "MDM low", "42 minutes", "MDM low and 22 minutes"


def level_from_time(minutes: int, new_patient: bool) -> int | None:
    for threshold, level in TIME_NEW if new_patient else TIME_ESTABLISHED:
        if minutes >= threshold:
            return level
    return None


def expected_code(
    billed: str, mdm: str | None, minutes: int | None, dos: dt.date
) -> Expected | None:
    """What the documentation supports for a billed leveled office E/M.

    ``None`` when the rules do not apply (not 99202-99205/99212-99215, or before 2021)
    or when nothing is documented (the caller reports that separately).
    """
    if billed not in LEVELED or dos < RULES_2021:
        return None
    new_patient = billed.startswith("9920")
    by_mdm = MDM_LEVEL.get(mdm) if mdm else None
    by_time = level_from_time(minutes, new_patient) if minutes is not None else None
    if by_mdm is None and by_time is None:
        if mdm is None and minutes is None:
            return None
        basis = f"{minutes} minutes" if minutes is not None else f"MDM {mdm}"
        return Expected(None, basis)
    level = max(x for x in (by_mdm, by_time) if x is not None)
    parts = []
    if mdm:
        parts.append(f"MDM {mdm}")
    if minutes is not None:
        parts.append(f"{minutes} minutes")
    prefix = "9920" if new_patient else "9921"
    return Expected(prefix + str(level), " and ".join(parts))


__all__ = [
    "LEVELED",
    "MDM_LEVEL",
    "RULES_2021",
    "TIME_ESTABLISHED",
    "TIME_NEW",
    "Expected",
    "expected_code",
    "level_from_time",
]
