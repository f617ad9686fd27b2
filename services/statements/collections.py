"""Collections (issue 29 part 7): accounts past the tenant's threshold after the statement
cycle go to a collection agency in a CSV file and are marked placed (their open claims on no
statement again; a visit after the placement is billed as any other);
the payments the agency reports come back as ``agency_payment`` commands
(``commands.py``), each posted with the agency's fee.

An account is placed when a statement flagged it for collections (its oldest balance
past ``collections_after_days``: the final notice), ``collections_grace_days`` have passed
since, and it still owes at least the tenant's ``collections_min_cents``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import asyncpg
import orjson

from services.statements.config import StatementSettings
from services.statements.repository.accounts import lock_accounts
from services.statements.repository.collections import due_for_placement, mark_placed

#: The columns of the placement file, in order: what agencies take to work an account.
COLUMNS = (
    "account",
    "guarantor_first_name",
    "guarantor_last_name",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "birth_date",
    "email",
    "balance",
    "open_claims",
    "first_service_date",
    "last_service_date",
    "last_statement_date",
    "last_payment_date",
    "placed_on",
    "export_id",
)

#: The columns of an agency's payment file.
PAYMENT_COLUMNS = ("account", "payment_ref", "collected", "fee", "received_on")


def dollars(cents: int) -> str:
    """12345 -> "123.45" (the agency's file is in dollars)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def cents_of(text: str) -> int:
    """ "123.45" -> 12345; raises ValueError for anything but dollars with at most 2 places."""
    try:
        d = Decimal(text.strip().lstrip("$"))
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount in dollars") from None
    if not d.is_finite() or d != d.quantize(Decimal("0.01")) or d < 0:
        raise ValueError(f"{text!r} is not an amount in dollars and cents")
    return int(d * 100)


def _day(d: dt.date | None) -> str:
    return d.isoformat() if d else ""


def row_of(r: Mapping[str, Any], today: dt.date, export_id: str) -> dict[str, str]:
    addr = r["address"]
    addr = orjson.loads(addr) if isinstance(addr, str | bytes) else addr
    return {
        "account": r["guarantor_id"],
        "guarantor_first_name": r["first_name"],
        "guarantor_last_name": r["last_name"],
        "address_line1": addr.get("line1", ""),
        "address_line2": addr.get("line2") or "",
        "city": addr.get("city", ""),
        "state": addr.get("state", ""),
        "postal_code": addr.get("postal_code", ""),
        "birth_date": _day(r["birth_date"]),
        "email": r["email"] or "",
        "balance": dollars(int(r["balance"])),
        "open_claims": str(r["open_claims"]),
        "first_service_date": _day(r["first_service_date"]),
        "last_service_date": _day(r["last_service_date"]),
        "last_statement_date": _day(r["last_statement_date"]),
        "last_payment_date": _day(r["last_payment_date"]),
        "placed_on": today.isoformat(),
        "export_id": export_id,
    }


def to_csv(rows: Iterable[Mapping[str, str]]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class Export:
    export_id: str
    rows: list[dict[str, str]]
    balance_cents: int

    def csv(self) -> str:
        return to_csv(self.rows)


async def export(
    conn: asyncpg.Connection, tenant: str, agency: str, today: dt.date, *, cfg: StatementSettings
) -> Export:
    """Places the tenant's accounts due for collections with ``agency``: their rows for the
    agency's file; in one transaction, under the accounts' locks. Run again, it places
    only accounts not placed yet."""
    export_id = f"COL-{today:%Y%m%d}-{uuid.uuid4().hex[:8]}"
    args = (tenant, today, cfg.collections_grace_days, cfg.collections_min_for(tenant))
    async with conn.transaction():
        first = await due_for_placement(conn, *args)
        await lock_accounts(conn, [(tenant, r["guarantor_id"]) for r in first])
        due = await due_for_placement(conn, *args)  # as it is under the locks
        await mark_placed(
            conn, tenant, agency, today, export_id, [(r["guarantor_id"], r["balance"]) for r in due]
        )
    return Export(
        export_id, [row_of(r, today, export_id) for r in due], sum(int(r["balance"]) for r in due)
    )


@dataclass(frozen=True, slots=True)
class AgencyPayment:
    account: str
    payment_ref: str
    collected_cents: int
    fee_cents: int
    received_on: dt.date


class AgencyFileError(ValueError):
    """A payment file that cannot be read: names the row and column."""


def parse_payments(text: str) -> list[AgencyPayment]:
    """An agency's payment file (CSV: account, payment_ref, collected, fee, received_on;
    amounts in dollars). A bad file raises AgencyFileError naming row and column; nothing
    in it is posted."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in PAYMENT_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise AgencyFileError(f"row 1: missing column(s) {', '.join(missing)}")
    out: list[AgencyPayment] = []
    refs: set[str] = set()
    for n, r in enumerate(reader, start=2):
        col = ""
        try:
            col = "account"
            account = r[col].strip()
            col = "payment_ref"
            ref = r[col].strip()
            if not account or not ref or len(account) > 64 or len(ref) > 40:
                raise ValueError("empty or too long")
            if ref in refs:
                raise ValueError("repeated in the file")
            col = "collected"
            collected = cents_of(r[col])
            if collected == 0:
                raise ValueError("zero")
            col = "fee"
            fee = cents_of(r[col] or "0")
            if fee > collected:
                raise ValueError("more than collected")
            col = "received_on"
            on = dt.date.fromisoformat(r[col].strip())
        except (ValueError, AttributeError) as exc:
            raise AgencyFileError(f"row {n}, column {col}: {exc}") from None
        refs.add(ref)
        out.append(AgencyPayment(account, ref, collected, fee, on))
    return out
