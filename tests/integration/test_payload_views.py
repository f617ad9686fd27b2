"""`rcm db json-payloads` converts a payload column a published view reads (docs/views.md):
the view is made again around the conversion and answers as before."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from rcm.payloads import convert
from runtime.db import create_pool, migrate
from runtime.settings import REPO_ROOT, Settings

pytestmark = pytest.mark.integration

COLUMN_TYPE = (
    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
    " WHERE attrelid = 'claims'::regclass AND attname = 'coded'"
)


def test_a_column_a_view_reads_is_converted_and_the_view_answers_as_before(
    live_stack: Settings,
) -> None:
    schema = f"it_pv_{uuid.uuid4().hex[:8]}"

    async def scenario() -> tuple[list[tuple[str, str]], str, str, str]:
        pool = await create_pool(live_stack, schema, max_size=1)
        try:
            await migrate(pool, schema, Path(REPO_ROOT / "services" / "claims" / "migrations"))
            await pool.execute(
                "INSERT INTO claims(claim_id, tenant, state, coded)"
                """ VALUES ('C1', 't', 'CODED', '{"patient": {"id": "P1"}}')"""
            )
            # A table too large for its migration to convert keeps jsonb, under the views.
            definition = await pool.fetchval("SELECT pg_get_viewdef('claim_v1'::regclass)")
            await pool.execute("DROP VIEW claim_v1")
            await pool.execute("ALTER TABLE claims ALTER COLUMN coded TYPE jsonb")
            await pool.execute(f"CREATE VIEW claim_v1 AS {definition}")
            before = await pool.fetchval(COLUMN_TYPE)
            [done] = await convert(live_stack.database_url, ((schema, "claims", "coded"),))
            rows = await pool.fetch("SELECT claim_id, patient_id FROM claim_v1")
            after = await pool.fetchval(COLUMN_TYPE)
            return [(r["claim_id"], r["patient_id"]) for r in rows], before, done.was, after
        finally:
            await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            await pool.close()

    rows, before, was, after = asyncio.run(scenario())
    assert (before, was, after) == ("jsonb", "jsonb", "json")
    assert rows == [("C1", "P1")]
