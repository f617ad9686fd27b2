"""`rcm code load-ncci/load-mue/load-cpt` into a schema of their own, then `check --db`."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import asyncpg
import pytest
from typer.testing import CliRunner

from rcm.cli_code import app
from rcm.workload import generate_day
from runtime.settings import Settings
from schemas.common import ServiceLine
from services.coding import codesets, ncci

pytestmark = pytest.mark.integration

runner = CliRunner()


async def _sql(s: Settings, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(s.database_url)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


def test_loaders_and_check_against_the_database(
    live_stack: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(codesets, "_cpt_codes", codesets.PRACTICE_CPT_CODES)
    monkeypatch.setattr(codesets, "_cpt_descriptions", {})
    schema = f"it_{uuid.uuid4().hex[:8]}"
    try:
        r = runner.invoke(app, ["load-ncci", str(ncci.BUNDLED_PTP), "--schema", schema])
        assert r.exit_code == 0, r.stderr
        assert f"loaded {len(ncci.bundled_ptp())} PTP edits" in r.stdout
        r = runner.invoke(
            app,
            ["load-mue", str(ncci.BUNDLED_MUE), "--effective", "2026-01-01", "--schema", schema],
        )
        assert r.exit_code == 0, r.stderr
        cpt = tmp_path / "cpt.csv"
        cpt.write_text("code,description\n11111,Licensed text\n")
        r = runner.invoke(app, ["load-cpt", str(cpt), "--schema", schema])
        assert r.exit_code == 0, r.stderr
        rows = asyncio.run(
            _sql(live_stack, f"SELECT count(*), min(effective_date) FROM {schema}.ncci_mue")
        )
        assert rows[0][0] == len(ncci.bundled_mue())
        assert str(rows[0][1]) == "2026-01-01"

        enc = generate_day(1, seed=42)[0]
        extra = ServiceLine(
            procedure_code="11111", charge_cents=100, diagnosis_codes=enc.diagnoses[:1]
        )
        f = tmp_path / "enc.json"
        f.write_text(enc.model_copy(update={"lines": [*enc.lines, extra]}).model_dump_json())
        r = runner.invoke(app, ["check", str(f), "--db", "--schema", schema])
        assert r.exit_code == 0, r.stderr
        doc = json.loads(r.stdout)
        assert doc["findings"] == []  # 11111 known from the loaded CPT file
        assert "mue_practitioner_subset.csv" in doc["code_sets"]["ncci"]

        bad = tmp_path / "bad.txt"
        bad.write_text("Column 1\tColumn 2\n96372\t99213\t\t2013\t*\t1\tx\n")
        r = runner.invoke(app, ["load-ncci", str(bad), "--schema", schema])
        assert r.exit_code == 1
        assert "line 2: not a date" in r.stderr
    finally:
        asyncio.run(_sql(live_stack, f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
