"""The payer directory's SQL (table ``payers``; services/claims/payers.py parses the
file): the import, and the lookups the batcher and the timers make."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, fields

import asyncpg

from runtime.db import migrate
from services.claims.payers import Payer

_COLUMNS = [f.name for f in fields(Payer)]
_TYPES = {
    "realtime_270": "boolean",
    "realtime_276": "boolean",
    "timely_filing_days": "integer",
    "days_to_pay": "integer",
    "appeal_days": "integer",
    "appeal_answer_days": "integer",
    "active": "boolean",
}
_IMPORTED = [c for c in _COLUMNS if c not in ("payer_id", "active")]

_UPSERT = f"""
WITH incoming AS (
    SELECT * FROM unnest({", ".join(f"${n + 2}::{_TYPES.get(c, 'text')}[]" for n, c in enumerate(_COLUMNS))})
        AS t({", ".join(_COLUMNS)})
), written AS (
    INSERT INTO payers (tenant, {", ".join(_COLUMNS)})
    SELECT $1, {", ".join(_COLUMNS)} FROM incoming
    ON CONFLICT (tenant, payer_id) DO UPDATE SET
        {", ".join(f"{c} = EXCLUDED.{c}" for c in [*_IMPORTED, "active"])}, updated_at = now()
    WHERE ({", ".join(f"payers.{c}" for c in [*_IMPORTED, "active"])})
          IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in [*_IMPORTED, "active"])})
    RETURNING (xmax = 0) AS created
)
SELECT count(*) FILTER (WHERE created) AS created,
       count(*) FILTER (WHERE NOT created) AS changed
FROM written
"""

_DEACTIVATE = """
UPDATE payers SET active = false, updated_at = now()
WHERE tenant = $1 AND active AND payer_id <> ALL($2::text[])
"""

_LOOKUP = f"""
SELECT tenant, {", ".join(_COLUMNS)} FROM payers
WHERE (tenant, payer_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
"""


@dataclass(frozen=True, slots=True)
class Imported:
    read: int
    created: int
    changed: int
    deactivated: int


async def import_payers(conn: asyncpg.Connection, tenant: str, payers: list[Payer]) -> Imported:
    """The tenant's directory becomes the file: new payers added, changed ones updated,
    ones the file lacks kept but inactive. One transaction; the same file again changes
    nothing."""
    args = [[getattr(p, c) for p in payers] for c in _COLUMNS]
    async with conn.transaction():  # conn: the claims schema's (its search_path)
        row = await conn.fetchrow(_UPSERT, tenant, *args)
        gone = await conn.execute(_DEACTIVATE, tenant, [p.payer_id for p in payers])
    assert row is not None
    return Imported(len(payers), row["created"], row["changed"], int(gone.split()[-1]))


async def ensure_schema(pool: asyncpg.Pool) -> None:
    """The claims migrations, as the service applies them when it starts (the import
    may run before the claims service ever has)."""
    from services.claims.app import MIGRATIONS

    await migrate(pool, "claims", MIGRATIONS)


async def lookup(
    conn: asyncpg.Connection, wanted: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Payer]:
    """(tenant, payer id) -> the directory's payer (active or not), for those it has."""
    pairs = sorted(set(wanted))
    if not pairs:
        return {}
    rows = await conn.fetch(_LOOKUP, [t for t, _ in pairs], [p for _, p in pairs])
    return {(r["tenant"], r["payer_id"]): Payer(**{c: r[c] for c in _COLUMNS}) for r in rows}


#: The timers' lookups (one payer at a time, for every claim that starts a timer) are
#: kept this long: a changed import reaches a timer started within it at most this late.
#: A payer not found is looked up again each time, so a new import is seen at once. The
#: batcher never uses the cache: whether a claim may go out is always read fresh.
CACHE_S = 10.0
_cache: dict[tuple[str, str], tuple[float, Payer]] = {}


async def one(conn: asyncpg.Connection, tenant: str, payer_id: str | None) -> Payer | None:
    """One payer's entry (for its days), from a cache at most CACHE_S old."""
    if not payer_id:
        return None
    key = (tenant, payer_id)
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and now - hit[0] < CACHE_S:
        return hit[1]
    payer = (await lookup(conn, [key])).get(key)
    if payer is not None:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[key] = (now, payer)
    return payer
