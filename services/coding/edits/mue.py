"""MUE (hold): units over the medically unlikely edit, per line (MAI 1) or summed over
the date of service (MAI 2 policy, MAI 3 clinical)."""

from __future__ import annotations

from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, Flag
from services.coding.ncci import MueEdit

_MAI = {1: "per line", 2: "per day, policy", 3: "per day, clinical"}


def units_over(f: ClaimFacts) -> list[Flag]:
    tables = f.tables
    if not tables.mue:
        return []
    found: list[Flag] = []
    per_day: dict[str, tuple[MueEdit, int, int]] = {}  # code -> edit, units, last line
    for n, ln in enumerate(f.lines, start=1):
        code = ln.procedure_code
        mue = tables.mue_on(code, f.dos)
        if mue is None:
            continue
        if mue.mai == 1:
            if ln.units > mue.value:
                found.append(_over(n, code, ln.units, mue.value, mue.mai))
        else:
            prev = per_day.get(code)
            per_day[code] = (mue, ln.units + (prev[1] if prev else 0), n)
    for code, (mue, total, last) in per_day.items():
        if total > mue.value:
            found.append(_over(last, code, total, mue.value, mue.mai))
    return found


def _over(n: int, code: str, units: int, value: int, mai: int) -> Flag:
    where = "on the line" if mai == 1 else "on the date of service"
    return Flag(
        "MUE",
        HOLD,
        n,
        f"line {n}: {units} units of '{code}' {where}; the medically unlikely edit allows "
        f"{value} ({_MAI.get(mai, str(mai))})",
        f"report at most {value} unit(s) of '{code}'"
        + ("; an appeal with records may be paid" if mai == 3 else ""),
    )
