"""The contract and fee schedule files a tenant imports (`rcm contracts import`,
`rcm contracts fees`): parsed whole, every bad row named (row, column, problem), so a
file with any bad row changes nothing. Pure.

Contracts CSV, one rate a row::

    payer_id,procedure_code,modifier,place_of_service,effective_from,effective_to,allowed_cents,fee_schedule,percent
    PPO01,99213,,,2026-01-01,,11960,,
    PPO01,*,,,2026-01-01,,,MPFS,130

``allowed_cents``: the allowed amount per unit; or ``fee_schedule`` and ``percent``: that
share of the tenant's loaded schedule (``procedure_code`` ``*`` or empty: every code it
prices). ``modifier`` and ``place_of_service`` empty match any; ``effective_to`` empty is
open-ended. Fee schedule CSV: ``procedure_code,modifier,allowed_cents`` (modifier optional).
Codes are numbers only (CPT descriptions are AMA-licensed and never shipped).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from services.remittance.domain.contracts import Rate

CONTRACT_COLUMNS = (
    "payer_id", "procedure_code", "modifier", "place_of_service", "effective_from",
    "effective_to", "allowed_cents", "fee_schedule", "percent",
)  # fmt: skip
CONTRACT_REQUIRED = ("payer_id", "procedure_code", "effective_from")
FEE_COLUMNS = ("procedure_code", "modifier", "allowed_cents")

_PAYER_ID = re.compile(r"^[A-Za-z0-9._-]{2,80}$")
_CODE = re.compile(r"^[A-Z0-9]{5}$")
_MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
_POS = re.compile(r"^[0-9]{2}$")
SCHEDULE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,40}$")
MAX_CENTS = 10_000_000_00  # ten million dollars a unit: anything above is a typo


class ContractFileError(ValueError):
    """The file cannot be imported; ``problems`` names each bad row and column."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class ContractRow(NamedTuple):
    row: int  # the file's line number, for errors found against the database
    payer_id: str
    rate: Rate


class _Bad(ValueError):
    pass


def _rows(text: str, columns: tuple[str, ...], required: tuple[str, ...]) -> csv.DictReader[str]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    problems = [f"row 1: header lacks column {c}" for c in required if c not in header]
    problems += [f"row 1: unknown column {c}" for c in header if c not in columns]
    if problems:
        raise ContractFileError(problems)
    return reader


def _each(
    reader: csv.DictReader[str], read: Callable[[dict[str, str]], object]
) -> tuple[list[tuple[int, object]], list[str]]:
    out: list[tuple[int, object]] = []
    problems: list[str] = []
    for raw in reader:
        n = reader.line_num
        d = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k}
        if not any(d.values()):
            continue
        try:
            out.append((n, read(d)))
        except _Bad as exc:
            problems.append(f"row {n}, {exc}")
    return out, problems


def _field(d: dict[str, str], column: str, pattern: re.Pattern[str], what: str) -> str:
    value = d.get(column, "").upper() if column != "payer_id" else d.get(column, "")
    if value and not pattern.match(value):
        raise _Bad(f"column {column}: {what} (got {d[column]!r})")
    return value


def _cents(d: dict[str, str], column: str) -> int:
    text = d.get(column, "")
    if not text.isdigit() or int(text) > MAX_CENTS:
        raise _Bad(f"column {column}: must be whole cents, 0 to {MAX_CENTS} (got {text!r})")
    return int(text)


def _date(d: dict[str, str], column: str) -> dt.date:
    try:
        return dt.date.fromisoformat(d.get(column, ""))
    except ValueError:
        raise _Bad(
            f"column {column}: must be a date YYYY-MM-DD (got {d.get(column, '')!r})"
        ) from None


def _contract(d: dict[str, str]) -> ContractRow:
    payer = d.get("payer_id", "")
    if not _PAYER_ID.match(payer):
        raise _Bad(
            f"column payer_id: must be 2-80 letters, digits, '.', '_' or '-' (got {payer!r})"
        )
    code = "" if d.get("procedure_code") == "*" else d.get("procedure_code", "")
    code = _field({"procedure_code": code}, "procedure_code", _CODE, "must be a 5-character code")
    modifier = _field(d, "modifier", _MODIFIER, "must be a 2-character modifier")
    pos = _field(d, "place_of_service", _POS, "must be a 2-digit place of service code")
    start = _date(d, "effective_from")
    end = _date(d, "effective_to") if d.get("effective_to") else None
    if end is not None and end < start:
        raise _Bad(f"column effective_to: {end} is before effective_from {start}")
    schedule, pct = d.get("fee_schedule", ""), d.get("percent", "")
    if d.get("allowed_cents"):
        if schedule or pct:
            raise _Bad("column allowed_cents: give an allowed amount or a fee schedule, not both")
        rate = Rate(code, modifier, pos, start, end, _cents(d, "allowed_cents"), None, None)
    elif schedule:
        if not SCHEDULE_NAME.match(schedule):
            raise _Bad(
                f"column fee_schedule: must be 1-40 letters, digits, '.', '_' or '-' (got {schedule!r})"
            )
        rate = Rate(code, modifier, pos, start, end, None, schedule, _percent(pct))
    else:
        raise _Bad("column allowed_cents: empty, and no fee_schedule with a percent either")
    if not code and rate.schedule is None:
        raise _Bad(
            "column procedure_code: an allowed amount needs a code ('*' only with a fee schedule)"
        )
    return ContractRow(0, payer, rate)


def _percent(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or not 0 < value <= 1000 or value != round(value, 3):
        raise _Bad(f"column percent: must be a percentage above 0, at most 1000 (got {text!r})")
    return value


def parse_contracts(text: str) -> list[ContractRow]:
    """The rates of a contracts CSV; raises ContractFileError naming every bad row."""
    reader = _rows(text, CONTRACT_COLUMNS, CONTRACT_REQUIRED)
    read, problems = _each(reader, _contract)
    out: list[ContractRow] = []
    seen: dict[tuple[object, ...], int] = {}
    for n, row in read:
        assert isinstance(row, ContractRow)
        r = row.rate
        key = (row.payer_id, r.procedure, r.modifier, r.place_of_service, r.effective_from)
        if key in seen:
            problems.append(
                f"row {n}: the same payer, code, modifier, place of service and start as row"
                f" {seen[key]}"
            )
            continue
        seen[key] = n
        out.append(row._replace(row=n))
    if not out and not problems:
        problems.append("no contract rows after the header")
    if problems:
        raise ContractFileError(problems)
    return out


def _fee(d: dict[str, str]) -> tuple[str, str, int]:
    code = _field(d, "procedure_code", _CODE, "must be a 5-character code")
    if not code:
        raise _Bad("column procedure_code: empty")
    return (
        code,
        _field(d, "modifier", _MODIFIER, "must be a 2-character modifier"),
        _cents(d, "allowed_cents"),
    )


def parse_fee_schedule(text: str) -> list[tuple[str, str, int]]:
    """(code, modifier, allowed cents per unit) rows; raises ContractFileError naming
    every bad row."""
    reader = _rows(text, FEE_COLUMNS, ("procedure_code", "allowed_cents"))
    read, problems = _each(reader, _fee)
    out: list[tuple[str, str, int]] = []
    seen: dict[tuple[str, str], int] = {}
    for n, fee in read:
        assert isinstance(fee, tuple)
        if fee[:2] in seen:
            problems.append(
                f"row {n}: code {fee[0]} modifier {fee[1] or '(none)'} is already on row {seen[fee[:2]]}"
            )
            continue
        seen[fee[:2]] = n
        out.append(fee)
    if not out and not problems:
        problems.append("no fee rows after the header")
    if problems:
        raise ContractFileError(problems)
    return out
