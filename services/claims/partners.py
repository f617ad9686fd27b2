"""Trading-partner identity per tenant: who the tenant is to its clearinghouse.

One row a tenant (table ``trading_partners``, claims migration 0015), loaded from a CSV
with a header and one row (``rcm partners import FILE.csv --tenant T``):

- ``isa_sender_qualifier``, ``isa_sender_id``, ``isa_receiver_qualifier``,
  ``isa_receiver_id``: ISA05-08 (qualifier 01, 14, 20, 27, 28, 29, 30, 33 or ZZ; id 1-15
  characters);
- ``gs_sender_code``, ``gs_receiver_code``: GS02 and GS03 (2-15 characters);
- ``submitter_name``, ``submitter_id``: loop 1000A NM1*41 (NM103, NM109: the id the
  clearinghouse assigned), with ``contact_name``, ``contact_phone`` (10 digits) and
  ``contact_email`` (optional) for its PER*IC;
- ``receiver_name``, ``receiver_id``: loop 1000B NM1*40.

The batcher writes every 837P of the tenant with it, and the status timer every 276 (a
tenant without a row: the install's ``RCM_X12_*`` settings). The CORE envelope's
SenderID stays the install's (``RCM_CORE_SENDER_ID``): one clearinghouse account. Control numbers (ISA13, GS06) come from the claims
room's sequences: one series for every trading partner, so unique for each, and a
number PostgreSQL handed out is never handed out again, a crash or a rollback
included.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import astuple, dataclass, fields

import asyncpg

from runtime.settings import Settings
from services.claims.x12_837 import Party

QUALIFIERS = frozenset({"01", "14", "20", "27", "28", "29", "30", "33", "ZZ"})
_DELIMS = set("*~:^|")


class PartnerFileError(ValueError):
    """The file cannot be imported; the message names the column and the problem."""


@dataclass(frozen=True, slots=True)
class TradingPartner:
    isa_sender_qualifier: str
    isa_sender_id: str
    isa_receiver_qualifier: str
    isa_receiver_id: str
    gs_sender_code: str
    gs_receiver_code: str
    submitter_name: str
    submitter_id: str
    contact_name: str
    contact_phone: str
    contact_email: str | None
    receiver_name: str
    receiver_id: str


COLUMNS = [f.name for f in fields(TradingPartner)]
_LIMITS = {  # column -> (min, max) length
    "isa_sender_id": (1, 15),
    "isa_receiver_id": (1, 15),
    "gs_sender_code": (2, 15),
    "gs_receiver_code": (2, 15),
    "submitter_name": (1, 60),
    "submitter_id": (2, 80),
    "contact_name": (1, 60),
    "receiver_name": (1, 60),
    "receiver_id": (2, 80),
}
_EMAIL = re.compile(r"^[^@\s*~:^|]{1,64}@[^@\s*~:^|]{1,190}\.[A-Za-z]{2,}$")


def parse(text: str) -> TradingPartner:
    """The one trading partner the CSV holds; PartnerFileError naming the column."""
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    if len(rows) != 1:
        raise PartnerFileError(f"expected a header and one row, found {len(rows)} rows")
    row = {k.strip(): (v or "").strip() for k, v in rows[0].items() if k}
    missing = [c for c in COLUMNS if c != "contact_email" and not row.get(c)]
    if missing:
        raise PartnerFileError(f"column {missing[0]} is required")
    for c in ("isa_sender_qualifier", "isa_receiver_qualifier"):
        if row[c] not in QUALIFIERS:
            raise PartnerFileError(f"column {c}: {row[c]!r} is no ISA id qualifier")
    for c, (low, high) in _LIMITS.items():
        if not low <= len(row[c]) <= high:
            raise PartnerFileError(f"column {c}: {low}-{high} characters, got {len(row[c])}")
        if _DELIMS & set(row[c]):
            raise PartnerFileError(f"column {c}: an X12 delimiter (* ~ : ^ |) is not allowed")
    phone = "".join(ch for ch in row["contact_phone"] if ch.isdigit())
    if len(phone) != 10:
        raise PartnerFileError("column contact_phone: 10 digits needed")
    email = row.get("contact_email") or None
    if email is not None and not _EMAIL.match(email):
        raise PartnerFileError("column contact_email: not an email address")
    values: dict[str, str] = {c: row[c] for c in COLUMNS if c != "contact_email"}
    return TradingPartner(**{**values, "contact_phone": phone}, contact_email=email)


_SAVE = f"""
INSERT INTO trading_partners (tenant, {", ".join(COLUMNS)})
VALUES ($1, {", ".join(f"${n + 2}" for n in range(len(COLUMNS)))})
ON CONFLICT (tenant) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS)}, updated_at = now()
"""


async def save(conn: asyncpg.Connection, tenant: str, partner: TradingPartner) -> None:
    await conn.execute(_SAVE, tenant, *astuple(partner))


async def for_tenant(conn: asyncpg.Connection, tenant: str) -> TradingPartner | None:
    row = await conn.fetchrow(
        f"SELECT {', '.join(COLUMNS)} FROM trading_partners WHERE tenant = $1", tenant
    )
    return TradingPartner(**dict(row)) if row is not None else None


@dataclass(frozen=True, slots=True)
class Identity:
    """What an 837P is written under: submitter, receiver and the PER*IC contact."""

    submitter: Party
    receiver: Party
    contact_phone: str
    contact_name: str = ""
    contact_email: str | None = None


def identity(partner: TradingPartner | None, s: Settings) -> Identity:
    """The tenant's trading-partner identity, or the install's RCM_X12_* settings."""
    if partner is None:
        return Identity(
            Party(s.x12_submitter_name, s.x12_submitter_id),
            Party(s.x12_receiver_name, s.x12_receiver_id),
            s.x12_submitter_phone,
        )
    p = partner
    return Identity(
        Party(p.submitter_name, p.submitter_id, p.isa_sender_qualifier, p.isa_sender_id,
              p.gs_sender_code),
        Party(p.receiver_name, p.receiver_id, p.isa_receiver_qualifier, p.isa_receiver_id,
              p.gs_receiver_code),
        p.contact_phone, p.contact_name, p.contact_email,
    )  # fmt: skip
