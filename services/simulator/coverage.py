"""What a payer's roster says of a 270, pure: who is covered, what they have met, and
the verdict the 271 answers with."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.simulator.payers import PAYERS

if TYPE_CHECKING:
    from services.simulator.x12_271 import Inquiry270

#: Member id formats the simulated payers issue.
MEMBER_ID_FORMATS: dict[str, re.Pattern[str]] = {
    "MCR01": re.compile(r"^[1-9][A-Z0-9]{10}$"),
    "MCD01": re.compile(r"^MC\d{9}$"),
    "PPO01": re.compile(r"^BMP\d{9}$"),
    "HDHP1": re.compile(r"^SHD\d{8}01$"),
}


@dataclass(frozen=True, slots=True)
class Enrollment:
    payer_id: str
    member_id: str
    plan: str
    effective_date: dt.date
    termination_date: dt.date | None
    subscriber_birth_date: dt.date | None
    dependents: tuple[dt.date, ...] = ()


@dataclass(frozen=True, slots=True)
class Met:
    deductible_met_cents: int = 0
    oop_met_cents: int = 0


Verdict = str  # "known", "unknown", "bad-id", "no-payer", "dob-mismatch"


def judge(inq: Inquiry270, enr: Enrollment | None) -> Verdict:
    if inq.payer_id not in PAYERS:
        return "no-payer"
    fmt = MEMBER_ID_FORMATS.get(inq.payer_id)
    if fmt is not None and not fmt.match(inq.member_id):
        return "bad-id"
    if enr is None:
        return "unknown"
    sub_dob = inq.subscriber.birth_date
    if sub_dob and enr.subscriber_birth_date and sub_dob != enr.subscriber_birth_date:
        return "dob-mismatch"
    dep = inq.dependent
    if dep is not None and dep.birth_date is not None and dep.birth_date not in enr.dependents:
        return "unknown"
    return "known"
