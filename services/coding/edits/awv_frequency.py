"""EM-AWV-FREQUENCY (hold): the Medicare annual wellness visit, from the patient's claim
history: G0438 (initial) once per lifetime, G0439 (subsequent) once per 12 months (11
full months after the month of the last wellness visit). Where the billed payer's own
rules limit the code (:mod:`services.coding.edits.payer_coverage`), they decide instead."""

from __future__ import annotations

import datetime as dt

from services.coding.edits.facts import ClaimFacts
from services.coding.edits.flag import HOLD, Flag
from services.coding.edits.payer_coverage import limited_codes

AWV_INITIAL = "G0438"
AWV_SUBSEQUENT = "G0439"
AWV_CODES: frozenset[str] = frozenset({AWV_INITIAL, AWV_SUBSEQUENT})
HISTORY_CODES: frozenset[str] = AWV_CODES
"""Procedures whose frequency the scrubber checks against the patient's history."""


def _months(d: dt.date) -> int:
    return d.year * 12 + d.month - 1


def too_soon(f: ClaimFacts) -> list[Flag]:
    if not f.history:
        return []
    claim_id = f.checked.claim_id
    prior = sorted(
        (p for p in f.history if p.procedure_code in AWV_CODES and p.claim_id != claim_id),
        key=lambda p: p.date_of_service,
    )
    if not prior:
        return []
    found: list[Flag] = []
    payer_limits = limited_codes(f)
    for n, ln in enumerate(f.lines, start=1):
        code = ln.procedure_code
        if code in payer_limits:
            continue
        if code == AWV_INITIAL:
            first = prior[0]
            found.append(
                Flag(
                    "EM-AWV-FREQUENCY",
                    HOLD,
                    n,
                    f"line {n}: '{AWV_INITIAL}' (initial wellness visit) is once per lifetime; "
                    f"the patient had '{first.procedure_code}' on "
                    f"{first.date_of_service.isoformat()}",
                    f"bill '{AWV_SUBSEQUENT}' if 12 months have passed since the last visit",
                )
            )
        elif code == AWV_SUBSEQUENT:
            near = [p for p in prior if abs(_months(f.dos) - _months(p.date_of_service)) < 12]
            if near:
                last = near[-1]
                due = dt.date(last.date_of_service.year + 1, last.date_of_service.month, 1)
                found.append(
                    Flag(
                        "EM-AWV-FREQUENCY",
                        HOLD,
                        n,
                        f"line {n}: '{AWV_SUBSEQUENT}' is once a year (11 full months after "
                        f"the month of the last visit); the patient had "
                        f"'{last.procedure_code}' on {last.date_of_service.isoformat()}",
                        f"the next wellness visit is payable from {due.isoformat()}",
                    )
                )
    return found
