"""The dated code sets in the coding schema (migration 0004): load and read back.

Like :mod:`services.coding.repository`, every function takes a connection whose
``search_path`` is the coding schema and runs inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import asyncpg

from services.coding import code_dates as cd

DateRow = tuple[str, dt.date | None, dt.date | None]
"""(code, effective, termination)."""


async def _replace(
    conn: asyncpg.Connection, system: str, rows: Sequence[DateRow], source: str, *, only: bool
) -> None:
    """Replace ``system``'s rows: all of them (``only`` False), or only the codes given."""
    if only:
        await conn.execute(
            "DELETE FROM code_dates WHERE system = $1 AND code = ANY($2::text[])",
            system,
            sorted({r[0] for r in rows}),
        )
    else:
        await conn.execute("DELETE FROM code_dates WHERE system = $1", system)
    await conn.copy_records_to_table(
        "code_dates",
        records=[(system, c, s, e, source) for c, s, e in rows],
        columns=["system", "code", "effective_date", "termination_date", "source"],
    )


async def _release(
    conn: asyncpg.Connection, system: str, start: dt.date, source: str, codes: int
) -> None:
    await conn.execute(
        "INSERT INTO code_set_releases(system, release_start, source, codes)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (system, release_start) DO UPDATE"
        " SET source = excluded.source, codes = excluded.codes, loaded_at = now()",
        system,
        start,
        source,
        codes,
    )


async def add_icd_release(
    conn: asyncpg.Connection, start: dt.date, codes: frozenset[str], source: str
) -> int:
    """Store one ICD-10-CM release (replacing one loaded for the same date) and work out
    every code's ranges again from all releases loaded; returns the codes with ranges."""
    await conn.execute("DELETE FROM icd10cm_release_codes WHERE release_start = $1", start)
    await conn.copy_records_to_table(
        "icd10cm_release_codes",
        records=[(start, c) for c in sorted(codes)],
        columns=["release_start", "code"],
    )
    await _release(conn, "icd10cm", start, source, len(codes))
    releases = [
        (r["release_start"], frozenset(r["codes"]))
        for r in await conn.fetch(
            "SELECT release_start, array_agg(code) AS codes FROM icd10cm_release_codes"
            " GROUP BY release_start"
        )
    ]
    sources = await conn.fetch(
        "SELECT source FROM code_set_releases WHERE system = 'icd10cm' ORDER BY release_start"
    )
    ranges = cd.icd_ranges(releases)
    rows = [(code, s, e) for code, spans in ranges.items() for s, e in spans]
    await _replace(conn, "icd10cm", rows, ",".join(r[0] for r in sources), only=False)
    return len(ranges)


async def merge_hcpcs(conn: asyncpg.Connection, rows: Sequence[cd.HcpcsRow], source: str) -> int:
    """A CMS alpha-numeric file's codes replace those codes' dates; codes it no longer
    lists (terminated in earlier years) keep the dates an earlier file gave them."""
    await _replace(
        conn, "hcpcs", [(r.code, r.effective, r.termination) for r in rows], source, only=True
    )
    first = min((r.effective for r in rows if r.effective), default=dt.date.min)
    await _release(conn, "hcpcs", first, source, len(rows))
    return len(rows)


async def replace_cpt(conn: asyncpg.Connection, rows: Sequence[DateRow], source: str) -> int:
    """The licensed CPT file's dates (numbers and dates only) replace the CPT set."""
    await _replace(conn, "cpt", rows, source, only=False)
    return len(rows)


async def load_active(conn: asyncpg.Connection) -> dict[str, cd.CodeDates]:
    """Each system loaded into the schema (systems with no rows are left out: the
    bundled set stays in force for them)."""
    found: dict[str, list[DateRow]] = {}
    sources: dict[str, set[str]] = {}
    for r in await conn.fetch(
        "SELECT system, code, effective_date, termination_date, source FROM code_dates"
    ):
        found.setdefault(r[0], []).append((r[1], r[2], r[3]))
        sources.setdefault(r[0], set()).add(r[4])
    starts = [
        (r[0], r[1])
        for r in await conn.fetch(
            "SELECT release_start, source FROM code_set_releases WHERE system = 'icd10cm'"
            " ORDER BY release_start"
        )
    ]
    icd_releases = [
        cd.Release(
            f"ICD-10-CM FY{start.year + (start.month >= 10)} ({source})",
            start,
            starts[i + 1][0] - dt.timedelta(days=1) if i + 1 < len(starts) else None,
        )
        for i, (start, source) in enumerate(starts)
    ]
    return {
        system: cd.from_rows(
            system,
            rows,
            "database: " + ",".join(sorted(sources[system])),
            icd_releases if system == "icd10cm" else (),
        )
        for system, rows in found.items()
    }


async def stamp(conn: asyncpg.Connection) -> str:
    """Changes whenever a load changes the dated sets."""
    row = await conn.fetchrow("SELECT count(*), max(loaded_at) FROM code_dates")
    assert row is not None
    return f"{row[0]}@{row[1]}"


async def use_loaded(conn: asyncpg.Connection) -> cd.ActiveSets:
    """Make the schema's dated sets the ones this process checks against."""
    loaded = await load_active(conn)
    return cd.use(icd10cm=loaded.get("icd10cm"), hcpcs=loaded.get("hcpcs"), cpt=loaded.get("cpt"))
