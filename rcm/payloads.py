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


async def convert(dsn: str) -> list[Converted]:
    """Converts every payload column still jsonb, one table at a time."""
    out: list[Converted] = []
    conn = await asyncpg.connect(dsn)
    try:
        for schema, table, column in PAYLOAD_COLUMNS:
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
            await conn.execute(
                f'SELECT "{schema}".json_payload($1::regclass, $2, NULL)',
                f"{schema}.{table}",
                column,
            )
            out.append(Converted(name, was, rows, time.monotonic() - t0))
    finally:
        await conn.close()
    return out
