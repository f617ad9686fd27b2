"""The coding schema's payer rules (``payer_rules``, ``payer_rule_loads``): load a
tenant's rules file, read every tenant's rules back as :class:`RuleBook` s.

Like :mod:`services.coding.repository`, every function takes a connection whose
``search_path`` is the coding schema and commits nothing itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from runtime.db import columns
from services.coding.payer_rules import COLUMNS, Row, Rule, RuleBook, parse_row

_CELLS = (
    "rule",
    "codes",
    "modifiers",
    "place_of_service",
    "limit_text",
    "related_codes",
)


@dataclass(frozen=True, slots=True)
class Loaded:
    """What one load did, per payer the file named: payer id -> rules now in force."""

    version: str
    payers: dict[str, int]


async def replace_rules(
    conn: asyncpg.Connection,
    tenant: str,
    rows: Sequence[Row],
    rules: Sequence[Rule],
    version: str,
) -> Loaded:
    """Replace the tenant's rules of every payer in ``rules`` with them. ``rows`` are the
    file's rows (number, cells) the rules were parsed from, stored as written."""
    payers = sorted({r.payer_id for r in rules})
    by_row = {r.row: r for r in rules}
    await conn.execute(
        "DELETE FROM payer_rules WHERE tenant = $1 AND payer_id = ANY($2::text[])",
        tenant,
        payers,
    )
    records = [
        (
            tenant,
            by_row[n].payer_id,
            n,
            by_row[n].rule,
            *(cells[c] for c in ("codes", "modifiers", "place_of_service", "limit")),
            cells["related_codes"],
            by_row[n].effective,
            by_row[n].end,
            version,
        )
        for n, cells in rows
        if n in by_row
    ]
    await conn.copy_records_to_table(
        "payer_rules",
        records=records,
        columns=[
            "tenant",
            "payer_id",
            "row_number",
            *_CELLS,
            "effective_date",
            "end_date",
            "version",
        ],
    )
    counts = {p: sum(1 for r in rules if r.payer_id == p) for p in payers}
    await conn.execute(
        "INSERT INTO payer_rule_loads(tenant, payer_id, version, rules)"
        " SELECT $1, p, $2, n FROM unnest($3::text[], $4::int[]) AS l(p, n)",
        tenant,
        version,
        *columns(counts.items()),
    )
    return Loaded(version, counts)


async def directory_payers(
    conn: asyncpg.Connection, claims_schema: str, tenant: str
) -> set[str] | None:
    """The tenant's active payer ids in the claims room's directory (view ``payer_v1``,
    docs/views.md); None when the view is not there yet."""
    view = f"{claims_schema}.payer_v1"
    if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", view):
        return None
    rows = await conn.fetch(f"SELECT payer_id FROM {view} WHERE tenant = $1 AND active", tenant)
    return {r[0] for r in rows}


async def rules_stamp(conn: asyncpg.Connection) -> str:
    """Changes whenever a load ran; cheap enough for a timer."""
    row = await conn.fetchrow("SELECT count(*), max(id) FROM payer_rule_loads")
    assert row is not None
    return f"{row[0]}@{row[1]}"


async def rule_books(conn: asyncpg.Connection) -> dict[str, RuleBook]:
    """Every tenant's rules, as the scrubber takes them."""
    by_tenant: dict[str, list[Rule]] = {}
    versions: dict[str, set[str]] = {}
    for r in await conn.fetch(
        "SELECT tenant, payer_id, row_number, rule, codes, modifiers, place_of_service,"
        " limit_text, related_codes, effective_date, end_date, version FROM payer_rules"
        " ORDER BY tenant, payer_id, row_number"
    ):
        cells = {c: r[c] for c in ("payer_id", "rule", "codes", "modifiers")}
        cells |= {
            "place_of_service": r["place_of_service"],
            "limit": r["limit_text"],
            "related_codes": r["related_codes"],
            "effective_date": r["effective_date"].isoformat(),
            "end_date": r["end_date"].isoformat() if r["end_date"] else "",
        }
        assert set(cells) == set(COLUMNS)
        rule, problems = parse_row(r["row_number"], cells)
        if rule is None:  # loaded by this parser: only a hand-edited row gets here
            raise ValueError(f"payer_rules of {r['tenant']}: {'; '.join(problems)}")
        by_tenant.setdefault(r["tenant"], []).append(rule)
        versions.setdefault(r["tenant"], set()).add(f"{r['payer_id']}:{r['version']}")
    return {t: RuleBook(rules, ",".join(sorted(versions[t]))) for t, rules in by_tenant.items()}


__all__ = ["Loaded", "directory_payers", "replace_rules", "rule_books", "rules_stamp"]
