"""What a 271 says, as project records: per person, benefits (EB), rejections (AAA) and
dates; the reply holds every person the interchange answers for and the faults read
through (:mod:`services.eligibility.x12_271` reads it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from runtime.x12 import X12Warning
from services.eligibility.x12_271_aaa import AAA_MESSAGES

ACTIVE_CODES = frozenset({"1", "2", "3", "4", "5"})
INACTIVE_CODES = frozenset({"6", "7", "8"})


@dataclass(frozen=True, slots=True)
class Benefit:
    """One EB segment."""

    code: str
    coverage_level: str | None
    service_types: tuple[str, ...]
    insurance_type: str | None
    plan: str | None
    time_period: str | None
    amount_cents: int | None
    amount_text: str | None
    percent: Decimal | None
    in_network: bool | None
    segment: int


@dataclass(frozen=True, slots=True)
class Rejection:
    """One AAA segment."""

    loop: str
    code: str
    follow_up: str | None
    segment: int

    @property
    def message(self) -> str:
        return AAA_MESSAGES.get(self.code, f"reject reason {self.code}")

    @property
    def retryable(self) -> bool:
        """The payer asked to be asked again later (42 unable to respond now, 80 timeout)."""
        return self.code in ("42", "80") and self.follow_up in (None, "R", "P", "Y")


@dataclass(slots=True)
class Response:
    """What the 271 says about one person."""

    member_id: str | None
    dependent: bool
    payer_id: str | None
    trace_numbers: list[str] = field(default_factory=list)
    benefits: list[Benefit] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    #: DTP qualifier -> (start, end); a single date has end == start.
    dates: dict[str, tuple[dt.date, dt.date]] = field(default_factory=dict)
    segment: int = 0

    @property
    def active(self) -> bool | None:
        codes = {b.code for b in self.benefits}
        if codes & ACTIVE_CODES:
            return True
        if codes & INACTIVE_CODES:
            return False
        return None

    def date(self, *qualifiers: str) -> tuple[dt.date, dt.date] | None:
        for q in qualifiers:
            if q in self.dates:
                return self.dates[q]
        return None

    @property
    def coverage_begins(self) -> dt.date | None:
        found = self.date("346", "356")
        return found[0] if found else None

    @property
    def coverage_ends(self) -> dt.date | None:
        found = self.date("347", "357")
        if found:
            return found[1]
        plan = self.date("291", "307")
        return plan[1] if plan and plan[1] != plan[0] else None


@dataclass(frozen=True, slots=True)
class Reply:
    """Every response in a 271 interchange, in file order."""

    responses: tuple[Response, ...]
    control_numbers: tuple[str, ...]
    #: faults read through (runtime.x12.X12Warning), in file order
    warnings: tuple[X12Warning, ...] = ()
