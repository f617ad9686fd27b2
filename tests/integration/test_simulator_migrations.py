"""The simulator's migrations: a schema migrated under the old file numbers takes the
new ones unharmed."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from runtime.db import create_pool, migrate
from runtime.settings import Settings
from services.simulator import app

pytestmark = pytest.mark.integration


async def _columns(pool: Any, schema: str) -> list[tuple[str, str, str, str]]:
    rows = await pool.fetch(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns"
        " WHERE table_schema = $1 ORDER BY table_name, column_name",
        schema,
    )
    return [tuple(r) for r in rows if r[0] != "schema_migrations"]


async def test_a_schema_migrated_before_the_renumbering_takes_the_new_numbers_unharmed(
    live_stack: Settings, tmp_path: Path
) -> None:
    """0002_eligibility_roster.sql shared its number and is now 0006: a schema that applied
    the old files runs it again under the new name as a no-op, keeps its roster, and ends
    with the same tables and columns as a schema migrated with the new files alone."""
    old = tmp_path / "migrations"
    old.mkdir()
    for f in app.MIGRATIONS.glob("*.sql"):
        if f.name == "0006_eligibility_roster.sql":  # as it was: no IF NOT EXISTS
            text = f.read_text().replace(" IF NOT EXISTS", "")
            (old / "0002_eligibility_roster.sql").write_text(text)
        else:
            (old / f.name).write_text(f.read_text())
    before, fresh = (f"it_{uuid.uuid4().hex[:8]}" for _ in range(2))
    pool = await create_pool(live_stack, before, max_size=1)
    other = await create_pool(live_stack, fresh, max_size=1)
    try:
        applied = await migrate(pool, before, old)
        assert "service/0002_eligibility_roster.sql" in applied
        await pool.execute(
            "INSERT INTO enrollment(payer_id, member_id, plan, effective_date)"
            " VALUES ('MCR01', 'MBR001', 'Medicare Part B', '2020-01-01')"
        )
        assert await migrate(pool, before, app.MIGRATIONS) == [
            "service/0006_eligibility_roster.sql"
        ]
        assert await migrate(pool, before, app.MIGRATIONS) == []
        assert await pool.fetchval("SELECT count(*) FROM enrollment") == 1
        await pool.execute(
            "INSERT INTO eligibility_unknown(payer_id, member_id, person)"
            " VALUES ('MCR01', 'MBR002', '')"
        )
        await migrate(other, fresh, app.MIGRATIONS)
        assert await _columns(pool, before) == await _columns(other, fresh)
    finally:
        for p, schema in ((pool, before), (other, fresh)):
            await p.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            await p.close()
