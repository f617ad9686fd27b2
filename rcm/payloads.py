"""`rcm db json-payloads`: the payload columns a migration left jsonb, made json.

A migration converts a payload column only while its table is small
(``json_payload()``, runtime migration 0004), because the change rewrites the table under
an exclusive lock: 11,000-26,000 rows a second on the local stack, so minutes for a
health system's claims table. Until then every service reads and writes the column as
before (PostgreSQL assigns json to jsonb and back), only without the saving. This
command converts the rest when the operator chooses: the service that owns a table waits
on its lock meanwhile, and its consumers catch up from Kafka afterwards.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import asyncpg

from runtime import pgroles

#: Every column a migration hands to json_payload(): (schema, table, column). A test
#: checks this against the migrations.
PAYLOAD_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("claims", "claims", "coded"),
    ("coding", "claim_inputs", "checked"),
    ("eligibility", "pending_checks", "encounter"),
    ("eligibility", "eligibility_checks", "benefits"),
    ("simulator", "scheduled", "body"),
    ("statements", "statements", "body"),
    *(
        (schema, "outbox", "headers")
        for schema in (
            "claims",
            "coding",
            "connector",
            "eligibility",
            "gateway",
            "remittance",
            "simulator",
            "statements",
        )
    ),
)


@dataclass(frozen=True, slots=True)
class Converted:
    column: str  # schema.table.column
    was: str  # its type before: jsonb, json, or absent (the service never ran here)
    rows: int
    seconds: float


async def convert(
    dsn: str, columns: tuple[tuple[str, str, str], ...] = PAYLOAD_COLUMNS
) -> list[Converted]:
    """Converts every payload column still jsonb, one table at a time."""
    out: list[Converted] = []
    conn = await asyncpg.connect(dsn)
    try:
        for schema, table, column in columns:
            name = f"{schema}.{table}.{column}"
            was = await conn.fetchval(
                "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
                " WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped",
                f"{schema}.{table}",
                column,
            )
            if was != "jsonb":
                out.append(Converted(name, was or "absent", 0, 0.0))
                continue
            rows = await conn.fetchval(f'SELECT count(*) FROM "{schema}"."{table}"')
            t0 = time.monotonic()
            async with conn.transaction():
                views = await _views_reading(conn, schema, table, column)
                for view, _ in views:
                    await conn.execute(f"DROP VIEW {view}")
                await conn.execute(
                    f'SELECT "{schema}".json_payload($1::regclass, $2, NULL)',
                    f"{schema}.{table}",
                    column,
                )
                for view, definition in reversed(views):
                    await conn.execute(f"CREATE VIEW {view} AS {definition}")
                # the views made again belong to the schema's owner role, with their grants
                owner = await pgroles.migration_role(conn, schema)
                for view, _ in views if owner else ():
                    await conn.execute(f"ALTER VIEW {view} OWNER TO {owner}")
                await pgroles.grant(conn, schema)
            out.append(Converted(name, was, rows, time.monotonic() - t0))
    finally:
        await conn.close()
    return out


async def _views_reading(
    conn: asyncpg.Connection, schema: str, table: str, column: str
) -> list[tuple[str, str]]:
    """The views that read the column (docs/views.md), each with its definition:
    PostgreSQL changes no column type a view reads, so they are made again around it."""
    # With only pg_catalog on the path, names and definitions come out schema-qualified.
    await conn.execute("SET LOCAL search_path TO pg_catalog")
    rows = await conn.fetch(
        "SELECT DISTINCT v.oid::regclass::text AS name, pg_get_viewdef(v.oid) AS definition"
        " FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid"
        " JOIN pg_class v ON v.oid = r.ev_class"
        " JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
        " WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = to_regclass($1)"
        "   AND a.attname = $2 AND v.relkind = 'v' AND v.oid <> d.refobjid"
        " ORDER BY 1",
        f"{schema}.{table}",
        column,
    )
    return [(r["name"], r["definition"]) for r in rows]
