"""`rcm code load-icd/load-hcpcs/load-cpt` with dates into a schema of their own, then
`check --db` holds codes outside their dates (issue 30, part 1)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from typer.testing import CliRunner

from rcm.cli_code import app
from runtime.settings import Settings
from services.coding import code_dates, codesets
from tests.coding_claims import make_encounter, make_line

pytestmark = pytest.mark.integration

runner = CliRunner()

FY2025 = "A00\nA000\nA001\nG35\nI10\n"
FY2026 = "A00\nA000\nA001\nG35\nG35A\nG35B0\nI10\n"  # G35 is a header from FY2026


def _hcpcs_record(code: str, add: str, term: str) -> str:
    rec = code + "00100" + "3" + "Long".ljust(80) + "Short".ljust(28)
    return rec.ljust(268) + add + add + term.ljust(8) + "N".ljust(28)


async def _sql(s: Settings, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(s.database_url)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


@pytest.fixture
def schema(live_stack: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(codesets, "_cpt_codes", codesets.PRACTICE_CPT_CODES)
    monkeypatch.setattr(codesets, "_cpt_descriptions", {})
    name = f"it_{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        code_dates.reset()  # `check --db` made the schema's sets this process's
        asyncio.run(_sql(live_stack, f"DROP SCHEMA IF EXISTS {name} CASCADE"))


def _load(*args: str) -> str:
    r = runner.invoke(app, list(args))
    assert r.exit_code == 0, r.stderr
    return r.stdout


def _holds(tmp_path: Path, schema: str, dx: str, code: str, dos: dt.date) -> list[str]:
    enc = make_encounter(
        diagnoses=[dx],
        lines=[make_line("99214", [dx], charge=22000), make_line(code, [dx])],
        dos=dos,
    )
    f = tmp_path / "enc.json"
    f.write_text(enc.model_dump_json())
    r = runner.invoke(app, ["check", str(f), "--db", "--schema", schema])
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["code_sets"]["icd10cm_dates"].startswith("database: fy2025.txt@2024-10-01")
    return [x["message"] for x in doc["findings"] if x["severity"] == "hold"]


def test_loaded_releases_date_every_code(live_stack: Settings, tmp_path: Path, schema: str) -> None:
    (tmp_path / "fy2025.txt").write_text(FY2025)
    (tmp_path / "fy2026.txt").write_text(FY2026)
    out = _load(
        "load-icd", str(tmp_path / "fy2026.txt"), "--release", "2025-10-01", "--schema", schema
    )
    assert "loaded 5 billable ICD-10-CM codes from fy2026.txt, in force from 2025-10-01" in out
    out = _load(
        "load-icd", str(tmp_path / "fy2025.txt"), "--release", "2024-10-01", "--schema", schema
    )
    assert "6 codes dated across the releases loaded" in out
    rows = asyncio.run(
        _sql(
            live_stack,
            f"SELECT code, effective_date, termination_date FROM {schema}.code_dates"
            " WHERE system = 'icd10cm' AND code IN ('G35', 'G35A') ORDER BY code",
        )
    )
    assert [tuple(r) for r in rows] == [
        ("G35", None, dt.date(2025, 9, 30)),
        ("G35A", dt.date(2025, 10, 1), None),
    ]
    anweb = tmp_path / "HCPC2020_ANWEB.txt"
    anweb.write_text(
        "notice line\n"
        + _hcpcs_record("G9999", "20200101", "20211231")
        + "\n"
        + _hcpcs_record("G9990", "20200101", "")
        + "\n"
    )
    assert (
        "loaded 2 HCPCS Level II codes from HCPC2020_ANWEB.txt (1 with a termination date)"
        in _load("load-hcpcs", str(anweb), "--schema", schema)
    )
    cpt = tmp_path / "cpt.csv"
    cpt.write_text("code,description,effective,termination\n11111,Licensed text,2026-01-01,\n")
    _load("load-cpt", str(cpt), "--schema", schema)

    assert _holds(tmp_path, schema, "G35", "G9990", dt.date(2025, 6, 2)) == []
    # `check --db` made the schema's releases this process's, each with its dates.
    assert [(r.name, r.start, r.end) for r in code_dates.active().icd10cm.releases] == [
        ("ICD-10-CM FY2025 (fy2025.txt@2024-10-01)", dt.date(2024, 10, 1), dt.date(2025, 9, 30)),
        ("ICD-10-CM FY2026 (fy2026.txt@2025-10-01)", dt.date(2025, 10, 1), None),
    ]
    (dx, proc) = _holds(tmp_path, schema, "G35", "G9999", dt.date(2026, 1, 15))
    assert "diagnosis 1 'G35'" in dx
    assert "terminated 2025-09-30" in dx
    assert "line 2: 'G9999'" in proc
    assert "terminated 2021-12-31" in proc
    (proc,) = _holds(tmp_path, schema, "G35.A", "11111", dt.date(2025, 12, 1))
    assert "line 2: '11111' is not in CPT" in proc
    assert "effective 2026-01-01" in proc


def test_loaders_reject_a_malformed_file_naming_the_line(tmp_path: Path, schema: str) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("A00\nA000\nnot a code\n")
    r = runner.invoke(app, ["load-icd", str(bad), "--release", "2025-10-01", "--schema", schema])
    assert r.exit_code == 1
    assert "line 3: 'not a code' is not an ICD-10-CM code" in r.stderr
    r = runner.invoke(app, ["load-icd", str(bad), "--release", "Oct 2025", "--schema", schema])
    assert r.exit_code == 1
    assert "--release 'Oct 2025' is not a YYYY-MM-DD date" in r.stderr
    bad.write_text(_hcpcs_record("G9999", "20201301", "") + "\n")
    r = runner.invoke(app, ["load-hcpcs", str(bad), "--schema", schema])
    assert r.exit_code == 1
    assert "line 1: ADD DT '20201301' is not a date" in r.stderr
    bad.write_text("11111,Text,2026-01-01,2025-01-01\n")
    r = runner.invoke(app, ["load-cpt", str(bad), "--schema", schema])
    assert r.exit_code == 1
    assert "line 1: 11111 terminates before it takes effect" in r.stderr
