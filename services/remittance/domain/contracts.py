"""A tenant's contract with one payer, and what it expects a line to be allowed. Pure.

A rate prices a code from a date: an allowed amount per unit by code, modifier and
place of service ('' matches any), or a percentage of a fee schedule the tenant loaded.
For a line, the rates in force on its date of service that fit it are tried most
specific first (code, then modifier, then place of service; a later start first among
equals); the first that prices the code wins.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple


class Rate(NamedTuple):
    procedure: str  # '' with a fee schedule: every code
    modifier: str  # '' any
    place_of_service: str  # '' any
    effective_from: dt.date
    effective_to: dt.date | None  # inclusive
    allowed_cents: int | None
    schedule: str | None
    percent: Decimal | None

    def in_force(self, day: dt.date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )

    def fits(self, modifiers: Sequence[str], pos: str | None) -> bool:
        return (not self.modifier or self.modifier in modifiers) and (
            not self.place_of_service or self.place_of_service == pos
        )

    @property
    def rank(self) -> tuple[int, dt.date]:
        specific = 4 * bool(self.procedure) + 2 * bool(self.modifier)
        return specific + bool(self.place_of_service), self.effective_from

    @property
    def basis(self) -> str:
        """The rate in words for the work item: "allowed 92.00 from 2026-01-01" or
        "110% of MPFS from 2026-01-01"."""
        if self.schedule is not None:
            price = f"{self.percent.normalize():f}% of {self.schedule}" if self.percent else ""
        else:
            price = f"allowed {Decimal(self.allowed_cents or 0) / 100:.2f}"
        return f"{price} from {self.effective_from.isoformat()}"


#: A fee schedule: allowed cents per unit by (code, modifier), '' the code's global price.
Schedule = Mapping[tuple[str, str], int]


class Expected(NamedTuple):
    per_unit_cents: Decimal
    rate: Rate


@dataclass(frozen=True, slots=True)
class Book:
    """One tenant's contract with one payer: its rates by code ('' for every code)."""

    rates: Mapping[str, Sequence[Rate]] = field(default_factory=dict)
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    #: per code, its own rates and the every-code ones, most specific first (filled as
    #: codes are asked for: a line's look-up is then a walk down a short list)
    _tried: dict[str, list[Rate]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, rates: Sequence[Rate], schedules: Mapping[str, Schedule]) -> Book:
        by_code: dict[str, list[Rate]] = {}
        for r in rates:
            by_code.setdefault(r.procedure, []).append(r)
        for code_rates in by_code.values():
            code_rates.sort(key=lambda r: r.rank, reverse=True)
        return cls(by_code, schedules)

    def __bool__(self) -> bool:
        return bool(self.rates)

    def expected(
        self, procedure: str, modifiers: Sequence[str], pos: str | None, day: dt.date
    ) -> Expected | None:
        """The allowed amount per unit the contract in force on ``day`` expects, or None
        when no rate prices this code then."""
        tried = self._tried.get(procedure)
        if tried is None:
            tried = [*self.rates.get(procedure, ()), *self.rates.get("", ())]
            tried.sort(key=lambda r: r.rank, reverse=True)
            self._tried[procedure] = tried
        for rate in tried:
            if not (rate.in_force(day) and rate.fits(modifiers, pos)):
                continue
            if rate.allowed_cents is not None:
                return Expected(Decimal(rate.allowed_cents), rate)
            fee = self._schedule_fee(rate, procedure, modifiers)
            if fee is not None and rate.percent is not None:
                return Expected(Decimal(fee) * rate.percent / 100, rate)
        return None

    def _schedule_fee(self, rate: Rate, procedure: str, modifiers: Sequence[str]) -> int | None:
        schedule = self.schedules.get(rate.schedule or "", {})
        for m in (*modifiers, ""):
            fee = schedule.get((procedure, m))
            if fee is not None:
                return fee
        return None


def cents(per_unit: Decimal, units: Decimal) -> int:
    """A line's expected allowed amount, rounded half up to the cent."""
    return int((per_unit * units).quantize(Decimal(1), rounding=ROUND_HALF_UP))
