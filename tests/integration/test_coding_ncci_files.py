"""CMS's quarterly practitioner PTP and MUE files, as published (Windows-1252 text, the
AMA notice and the header rows first), load with `rcm code load-ncci/load-mue`, and a
claim checked with `--db` is held by the loaded tables (issue 30, part 6)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from pathlib import Path

import asyncpg
import pytest
from typer.testing import CliRunner

from rcm.cli_code import app
from runtime.settings import Settings
from services.coding import code_dates
from tests.coding_claims import make_encounter, make_line

pytestmark = pytest.mark.integration

runner = CliRunner()

NOTICE = (
    "CPT codes, descriptions and other data only are copyright 2025 American Medical "
    "Association. All rights reserved. CPT\N{REGISTERED SIGN} is a registered trademark "
    "of the American Medical Association."
)
PTP = "\r\n".join(
    [
        NOTICE,
        "Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\t"
        "Deletion Date *=no data\tModifier 0=not allowed 1=allowed 9=not applicable\t"
        "PTP Edit Rationale",
        "\t\t\t\t\t\t",
        "99213\t96372\t\t20130101\t*\t1\tStandards of medical / surgical practice",
        "99214\t96372\t\t20130101\t20140101\t1\tStandards of medical / surgical practice",
    ]
)
MUE = "\r\n".join(
    [
        f'"{NOTICE}"',
        '"HCPCS/CPT Code","Practitioner Services MUE Values","MUE Adjudication Indicator",'
        '"MUE Rationale"',
        '"36415","2","3 Date of Service Edit: Clinical","Clinical: Data"',
    ]
)


async def _drop(s: Settings, schema: str) -> None:
    conn = await asyncpg.connect(s.database_url)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    finally:
        await conn.close()


def _held(tmp_path: Path, schema: str, lines: list[tuple[str, int]]) -> list[tuple[str, int]]:
    enc = make_encounter(
        diagnoses=["J06.9"],
        lines=[make_line(code, ["J06.9"], units=units) for code, units in lines],
        dos=dt.date(2026, 3, 2),
    )
    f = tmp_path / "enc.json"
    f.write_text(enc.model_dump_json())
    r = runner.invoke(app, ["check", str(f), "--db", "--schema", schema])
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    # The coding record names the tables the claim was checked with.
    assert doc["code_sets"]["ncci"].startswith(
        "MCR_MUE_PractitionerServices_Eff_01-01-2026.csv,ccipra-v321r0-f1.txt 2@"
    )
    return [(x["edit"], x["line"]) for x in doc["findings"] if x["severity"] == "hold"]


def test_practitioner_files_as_published(live_stack: Settings, tmp_path: Path) -> None:
    schema = f"it_{uuid.uuid4().hex[:8]}"
    ptp = tmp_path / "ccipra-v321r0-f1.txt"
    ptp.write_bytes(PTP.encode("cp1252"))
    mue = tmp_path / "MCR_MUE_PractitionerServices_Eff_01-01-2026.csv"
    mue.write_bytes(MUE.encode("cp1252"))
    try:
        r = runner.invoke(app, ["load-ncci", str(ptp), "--schema", schema])
        assert r.exit_code == 0, r.stderr
        assert "loaded 2 PTP edits from ccipra-v321r0-f1.txt" in r.stdout
        r = runner.invoke(
            app, ["load-mue", str(mue), "--effective", "2026-01-01", "--schema", schema]
        )
        assert r.exit_code == 0, r.stderr
        assert "loaded 1 MUEs" in r.stdout

        assert _held(tmp_path, schema, [("99213", 1), ("96372", 1)]) == [("NCCI-PTP", 2)]
        assert _held(tmp_path, schema, [("99214", 1), ("96372", 1)]) == []  # edit deleted 2014
        assert _held(tmp_path, schema, [("99213", 1), ("36415", 3)]) == [("MUE", 2)]
        assert _held(tmp_path, schema, [("99213", 1), ("36415", 2)]) == []
    finally:
        code_dates.reset()
        asyncio.run(_drop(live_stack, schema))
