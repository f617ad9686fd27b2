"""Bulk coverage import: a CSV of coverages into the registry, with history.

Columns (header row required): patient_id, payer_id, payer_name, member_id, plan,
effective_date, and optionally group_number, priority (1-3), relationship (18 self,
01 spouse, 19 child, G8 other), termination_date, subscriber_id. Dates are ISO
(YYYY-MM-DD). Every row is checked before anything is written; a bad file changes
nothing and the error names the row and the field.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import asyncpg
from pydantic import ValidationError

from schemas.common import Coverage
from services.eligibility.repository import record_coverage

REQUIRED = ("patient_id", "payer_id", "payer_name", "member_id", "plan", "effective_date")
OPTIONAL = ("group_number", "priority", "relationship", "termination_date", "subscriber_id")


class ImportError_(ValueError):
    """The file cannot be imported; the message names the row and field."""


@dataclass(frozen=True, slots=True)
class Row:
    patient_id: str
    coverage: Coverage


def parse(text: str) -> list[Row]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ImportError_(f"header lacks column(s) {missing}; it has {header}")
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if unknown:
        raise ImportError_(f"unknown column(s) {unknown}")
    rows: list[Row] = []
    for n, raw in enumerate(reader, start=2):
        data = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        if not data.get("patient_id"):
            raise ImportError_(f"row {n}: patient_id is empty")
        fields = {k: v for k, v in data.items() if v and k not in ("patient_id", "subscriber_id")}
        try:
            coverage = Coverage.model_validate(fields)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            raise ImportError_(f"row {n}: {field}: {err['msg']}") from None
        rows.append(Row(data["patient_id"], coverage))
    if not rows:
        raise ImportError_("no coverage rows after the header")
    return rows


async def import_rows(conn: asyncpg.Connection, tenant: str, rows: list[Row]) -> int:
    """All rows in one transaction. Returns how many coverages changed."""
    changed = 0
    async with conn.transaction():
        await conn.execute("SET LOCAL search_path TO eligibility")
        for row in rows:
            if await record_coverage(conn, tenant, row.patient_id, row.coverage, source="import"):
                changed += 1
    return changed
