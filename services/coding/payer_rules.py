"""Payer rules as data: what each payer covers, how often, with which modifiers, and
which services need a prior authorization or a referral, with the dates each rule is
in force.

A tenant loads one CSV per payer (or one for several) with ``rcm code load-payer-rules
FILE --tenant T``; the loader replaces the rules of every payer the file names. Pure:
:func:`parse` reads the text and returns the rules or every row's problems.

Columns (header row required; blank cells allowed where a rule does not use them):

=================  ===================================================================
column             meaning
=================  ===================================================================
payer_id           the payer, as in the tenant's payer directory (claims.payer_v1)
rule               ``covers``, ``frequency``, ``requires-modifier``, ``bypass-modifiers``,
                   ``telehealth``, ``prior-auth`` or ``referral`` (:data:`RULES`)
codes              procedure codes the rule is about, space-separated; ``99381-99397``
                   is a range (same letter prefix); ``*`` every code
modifiers          space-separated modifiers (required, accepted)
place_of_service   space-separated places of service (``telehealth``: where the payer
                   takes telehealth)
limit              ``frequency``: ``N per M months`` (CMS counting: M-1 full months after
                   the month of the last), ``N per D days``, ``N per calendar year`` or
                   ``N per lifetime``
related_codes      ``frequency``: the codes whose history counts together (default: each
                   code only itself);
                   ``requires-modifier``: only when billed with one of these
effective_date     first date of service the rule applies to (YYYY-MM-DD)
end_date           last date of service it applies to (blank: open)
=================  ===================================================================
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

RULES = (
    "covers",
    "frequency",
    "requires-modifier",
    "bypass-modifiers",
    "telehealth",
    "prior-auth",
    "referral",
)
COLUMNS = (
    "payer_id",
    "rule",
    "codes",
    "modifiers",
    "place_of_service",
    "limit",
    "related_codes",
    "effective_date",
    "end_date",
)
ALL = "*"
MAX_RANGE = 2000
_CODE = re.compile(r"^[0-9A-Z][0-9]{3}[0-9A-Z]$")
_MOD = re.compile(r"^[0-9A-Z]{2}$")
_POS = re.compile(r"^\d{2}$")
_PAYER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,79}$")
_LIMIT = re.compile(
    r"^(?P<n>\d{1,3}) per (?:(?P<size>\d{1,4}) (?P<unit>months?|days?)|"
    r"(?P<year>calendar year)|(?P<life>lifetime))$"
)


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``times`` services in a window: ``months`` (CMS counting), ``days``,
    ``calendar-year`` or ``lifetime`` (``size`` unused)."""

    times: int
    unit: str
    size: int = 0

    def within(self, dos: dt.date, prior: dt.date) -> bool:
        """Does a service on ``prior`` count against one on ``dos``?"""
        if self.unit == "lifetime":
            return True
        if self.unit == "calendar-year":
            return prior.year == dos.year
        if self.unit == "days":
            return abs((dos - prior).days) < self.size
        return abs(_month(dos) - _month(prior)) < self.size

    def payable_from(self, last: dt.date) -> dt.date | None:
        """The first date of service after ``last`` that it no longer counts against."""
        if self.unit == "lifetime":
            return None
        if self.unit == "calendar-year":
            return dt.date(last.year + 1, 1, 1)
        if self.unit == "days":
            return last + dt.timedelta(days=self.size)
        m = _month(last) + self.size
        return dt.date(m // 12, m % 12 + 1, 1)

    def text(self) -> str:
        window = {"lifetime": "per lifetime", "calendar-year": "per calendar year"}
        return f"{self.times} {window.get(self.unit, f'per {self.size} {self.unit}')}"


def _month(d: dt.date) -> int:
    return d.year * 12 + d.month - 1


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of a payer's rules."""

    payer_id: str
    rule: str
    codes: frozenset[str]
    """Expanded; contains :data:`ALL` for every code."""
    effective: dt.date
    end: dt.date | None = None
    modifiers: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    limit: Limit | None = None
    related: frozenset[str] = frozenset()
    row: int = 0

    def applies_to(self, code: str) -> bool:
        return code in self.codes or ALL in self.codes

    def in_force(self, dos: dt.date) -> bool:
        return self.effective <= dos and (self.end is None or dos <= self.end)


@dataclass(frozen=True, slots=True)
class PayerRules:
    """A payer's rules in force on one date of service (what the edits read)."""

    payer_id: str = ""
    rules: tuple[Rule, ...] = ()
    by_kind: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, payer_id: str, rules: Iterable[Rule]) -> PayerRules:
        kept = tuple(rules)
        by_kind: dict[str, list[Rule]] = {}
        for r in kept:
            by_kind.setdefault(r.rule, []).append(r)
        return cls(payer_id, kept, {k: tuple(v) for k, v in by_kind.items()})

    def kind(self, rule: str) -> tuple[Rule, ...]:
        return self.by_kind.get(rule, ())


NONE = PayerRules()


class RuleBook:
    """Every payer's rules for one tenant (all dates); :meth:`for_claim` picks a payer's
    rules in force on a date of service."""

    CACHED = 4096
    """(payer, date of service) pairs whose rules in force are kept: a day's claims share
    a few dates, so each payer's rules for a date are picked once."""

    def __init__(self, rules: Iterable[Rule] = (), version: str = "") -> None:
        self.version = version
        self._by_payer: dict[str, list[Rule]] = {}
        for r in rules:
            self._by_payer.setdefault(r.payer_id, []).append(r)
        self._in_force: dict[tuple[str, dt.date], PayerRules] = {}

    def for_claim(self, payer_id: str | None, dos: dt.date) -> PayerRules:
        if payer_id is None:
            return NONE
        rules = self._by_payer.get(payer_id)
        if not rules:
            return NONE
        found = self._in_force.get((payer_id, dos))
        if found is None:
            if len(self._in_force) >= self.CACHED:
                self._in_force.clear()
            found = PayerRules.of(payer_id, (r for r in rules if r.in_force(dos)))
            self._in_force[(payer_id, dos)] = found
        return found

    def history_codes(self, payer_id: str | None) -> frozenset[str]:
        """Codes whose history a frequency rule of the payer counts."""
        out: set[str] = set()
        for r in self._by_payer.get(payer_id or "", ()):
            if r.rule == "frequency":
                out |= r.related or r.codes
        return frozenset(out)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_payer.values())


EMPTY_BOOK = RuleBook()


class RuleFileError(ValueError):
    """A rules file that cannot be loaded: every problem, each naming its row and column."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def expand_codes(text: str) -> frozenset[str]:
    """``"99381-99387 G0438 *"`` -> the codes (ValueError naming the bad item)."""
    out: set[str] = set()
    for item in text.split():
        item = item.upper()
        if item == ALL:
            out.add(ALL)
            continue
        low, sep, high = item.partition("-")
        if not _CODE.match(low) or (sep and not _CODE.match(high)):
            raise ValueError(f"{item!r} is not a procedure code or a range of them")
        if not sep:
            out.add(low)
            continue
        prefix, suffix = _split(low), _split(high)
        if prefix[0] != suffix[0] or prefix[2] != suffix[2] or prefix[1] > suffix[1]:
            raise ValueError(f"{item!r} is not a range (same letters, low to high)")
        if suffix[1] - prefix[1] >= MAX_RANGE:
            raise ValueError(f"{item!r} spans more than {MAX_RANGE} codes")
        width = len(low) - len(prefix[0]) - len(prefix[2])
        out |= {f"{prefix[0]}{n:0{width}d}{prefix[2]}" for n in range(prefix[1], suffix[1] + 1)}
    return frozenset(out)


def _split(code: str) -> tuple[str, int, str]:
    """A code as (letter prefix, number, letter suffix): G0438 -> (G, 438, ''), 0001F ->
    ('', 1, 'F')."""
    head = code[0] if code[0].isalpha() else ""
    tail = code[-1] if code[-1].isalpha() else ""
    return head, int(code[len(head) : len(code) - len(tail)]), tail


def _items(text: str, pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
    items = tuple(x.upper() for x in text.split())
    bad = [x for x in items if not pattern.match(x)]
    if bad:
        raise ValueError(f"{bad[0]!r} is not a {what}")
    return items


def _date(text: str, required: bool) -> dt.date | None:
    if not text:
        if required:
            raise ValueError("is required (YYYY-MM-DD)")
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a YYYY-MM-DD date") from None


def _limit(text: str) -> Limit:
    m = _LIMIT.match(" ".join(text.lower().split()))
    if m is None:
        raise ValueError(
            f"{text!r} is not 'N per M months', 'N per D days', 'N per calendar year' "
            "or 'N per lifetime'"
        )
    times = int(m["n"])
    if times < 1:
        raise ValueError("the count must be at least 1")
    if m["life"]:
        return Limit(times, "lifetime")
    if m["year"]:
        return Limit(times, "calendar-year")
    size = int(m["size"])
    if size < 1:
        raise ValueError("the window must be at least 1")
    return Limit(times, "months" if m["unit"].startswith("month") else "days", size)


def _needs(rule: str, row: Mapping[str, str]) -> list[tuple[str, str]]:
    """(column, problem) for the cells a rule kind requires or forbids."""
    wants = {
        "frequency": ("codes", "limit"),
        "requires-modifier": ("codes", "modifiers"),
        "bypass-modifiers": ("codes", "modifiers"),
        "telehealth": ("codes", "modifiers", "place_of_service"),
    }.get(rule, ("codes",))
    out = [(c, f"is required for rule {rule}") for c in wants if not row.get(c)]
    if row.get("limit") and rule != "frequency":
        out.append(("limit", f"is only for rule frequency, not {rule}"))
    return out


def parse_row(n: int, row: Mapping[str, str]) -> tuple[Rule | None, list[str]]:
    """One CSV row (numbered as the file counts, header = 1) -> the rule or its problems."""
    cells = {k: (row.get(k) or "").strip() for k in COLUMNS}
    problems: list[str] = []

    def bad(column: str, problem: str) -> None:
        problems.append(f"row {n}, column {column}: {problem}")

    rule = cells["rule"].lower()
    if rule not in RULES:
        bad("rule", f"{cells['rule']!r} is not one of {', '.join(RULES)}")
        return None, problems
    if not _PAYER.match(cells["payer_id"]):
        bad("payer_id", f"{cells['payer_id']!r} is not a payer id")
    for column, problem in _needs(rule, cells):
        bad(column, problem)
    parsed: dict[str, object] = {}
    readers: dict[str, Callable[[str], object]] = {
        "codes": expand_codes,
        "modifiers": lambda t: _items(t, _MOD, "modifier"),
        "place_of_service": lambda t: _items(t, _POS, "two-digit place of service"),
        "related_codes": expand_codes,
        "effective_date": lambda t: _date(t, True),
        "end_date": lambda t: _date(t, False),
    }
    for column, read in readers.items():
        try:
            parsed[column] = read(cells[column])
        except ValueError as exc:
            bad(column, str(exc))
    if cells["limit"] and rule == "frequency":
        try:
            parsed["limit"] = _limit(cells["limit"])
        except ValueError as exc:
            bad("limit", str(exc))
    start, end = parsed.get("effective_date"), parsed.get("end_date")
    if isinstance(start, dt.date) and isinstance(end, dt.date) and end < start:
        bad("end_date", f"{end.isoformat()} is before effective_date {start.isoformat()}")
    if problems:
        return None, problems
    assert isinstance(start, dt.date)
    limit = parsed.get("limit")
    return (
        Rule(
            payer_id=cells["payer_id"],
            rule=rule,
            codes=parsed["codes"],  # type: ignore[arg-type]
            effective=start,
            end=end if isinstance(end, dt.date) else None,
            modifiers=parsed["modifiers"],  # type: ignore[arg-type]
            places=parsed["place_of_service"],  # type: ignore[arg-type]
            limit=limit if isinstance(limit, Limit) else None,
            related=parsed["related_codes"],  # type: ignore[arg-type]
            row=n,
        ),
        [],
    )


Row = tuple[int, dict[str, str]]
"""A file row: its line number (the header is row 1) and its cells by column."""


def parse_file(text: str) -> tuple[list[Row], list[Rule]]:
    """The rows of a rules CSV and their rules; raises :class:`RuleFileError` with every
    row's problems (nothing is loaded from a file with any)."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise RuleFileError([f"row 1: the header lacks {', '.join(missing)}"])
    reader.fieldnames = header
    rows: list[Row] = []
    rules: list[Rule] = []
    problems: list[str] = []
    for row in reader:
        n = reader.line_num  # the file's line: blank lines are counted, never yielded
        if None in row:
            problems.append(f"row {n}: more cells than the header has columns")
            continue
        cells = {k: (row.get(k) or "").strip() for k in COLUMNS}
        if not any(cells.values()):
            continue
        rule, errs = parse_row(n, cells)
        problems += errs
        if rule is not None:
            rows.append((n, cells))
            rules.append(rule)
    if problems:
        raise RuleFileError(problems)
    if not rules:
        raise RuleFileError(["the file holds no rules"])
    return rows, rules


def parse(text: str) -> list[Rule]:
    """Every rule of a rules CSV (:func:`parse_file`)."""
    return parse_file(text)[1]


__all__ = [
    "COLUMNS",
    "EMPTY_BOOK",
    "NONE",
    "RULES",
    "Limit",
    "PayerRules",
    "Rule",
    "RuleBook",
    "RuleFileError",
    "expand_codes",
    "parse",
    "parse_file",
]
