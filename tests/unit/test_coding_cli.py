"""`rcm code check`: findings as JSON for an encounter or an eligibility.checked file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rcm.cli_code import app
from rcm.workload import generate_day
from schemas.common import ServiceLine
from schemas.events import EligibilityChecked

pytestmark = pytest.mark.unit

runner = CliRunner()


def _check(path: Path) -> tuple[int, str, str]:
    r = runner.invoke(app, ["check", str(path)])
    return r.exit_code, r.stdout, r.stderr


def test_clean_encounter_has_no_findings(tmp_path: Path) -> None:
    enc = generate_day(1, seed=42)[0]
    f = tmp_path / "enc.json"
    f.write_text(enc.model_dump_json())
    code, out, _ = _check(f)
    assert code == 0
    doc = json.loads(out)
    assert doc["findings"] == []
    assert doc["outcome"] == "coded"
    assert doc["code_sets"]["icd10cm"] == "ICD-10-CM FY2026, April 1 update"
    assert doc["code_sets"]["necessity"] == "bundled default (data/necessity.csv)"


def test_check_uses_the_configured_necessity_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.coding import reference

    enc = generate_day(1, seed=42)[0]
    line = ServiceLine(procedure_code="84443", charge_cents=4000, diagnosis_codes=enc.diagnoses[:1])
    f = tmp_path / "enc.json"
    f.write_text(enc.model_copy(update={"lines": [*enc.lines, line]}).model_dump_json())
    table = tmp_path / "ncd.csv"
    table.write_text("procedure_code,dx_low,dx_high,source\n84443,E03,,NCD 190.22 (test)\n")
    monkeypatch.setenv("RCM_CODING_NECESSITY_FILE", str(table))
    try:
        code, out, _ = _check(f)
    finally:
        reference.restore_defaults()
    assert code == 0
    doc = json.loads(out)
    assert doc["outcome"] == "held"
    assert [(x["edit"], x["line"]) for x in doc["findings"]] == [
        ("DX-NECESSITY", len(enc.lines) + 1)
    ]
    assert "(NCD 190.22 (test))" in doc["findings"][0]["message"]
    assert doc["code_sets"]["necessity"] == str(table)


def test_broken_claim_lists_its_findings(tmp_path: Path) -> None:
    enc = generate_day(1, seed=42)[0]
    extra = ServiceLine(
        procedure_code="36415", units=3, charge_cents=7500, diagnosis_codes=enc.diagnoses[:1]
    )
    broken = enc.model_copy(update={"lines": [*enc.lines, extra]})
    checked = EligibilityChecked(
        claim_id="C1", encounter_id=enc.encounter_id, active=True, self_pay=True, encounter=broken
    )
    f = tmp_path / "checked.json"
    f.write_text(checked.model_dump_json())
    code, out, _ = _check(f)
    assert code == 0
    doc = json.loads(out)
    assert doc["claim_id"] == "C1"
    assert doc["outcome"] == "held"
    mue = [x for x in doc["findings"] if x["edit"] == "MUE"]
    assert mue == [
        {
            "edit": "MUE",
            "severity": "hold",
            "line": len(broken.lines),
            "message": mue[0]["message"],
        }
    ]
    assert "3 units of '36415'" in mue[0]["message"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"encounter_id": "E1"}', "not a valid encounter: patient: Field required"),
        ('{"encounter": {}}', "not a valid eligibility.checked"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(tmp_path: Path, text: str, error: str) -> None:
    f = tmp_path / "bad.json"
    f.write_text(text)
    code, out, err = _check(f)
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1
    assert error in err


def test_missing_file(tmp_path: Path) -> None:
    code, _, err = _check(tmp_path / "nope.json")
    assert code == 1
    assert "no such file" in err
