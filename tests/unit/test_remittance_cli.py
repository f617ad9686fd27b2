"""`rcm x12 parse-835 FILE`: the JSON the issue names, and one-line errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rcm.cli_x12 import app

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent.parent / "fixtures" / "x12"


def test_parse_835_prints_payments_claims_lines_and_plb_as_stated() -> None:
    result = CliRunner().invoke(
        app, ["parse-835", str(FIXTURES / "X221-dollars-and-data-sent-together.edi")]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert list(out) == ["payments", "claims", "provider_adjustments", "warnings"]
    assert out["warnings"] == []
    assert out["payments"] == [
        {"amount": "150000", "method": "ACH", "date": out["payments"][0]["date"], "trace": "12345"}
    ]
    claim = out["claims"][0]
    assert list(claim) == [
        "patient_control_number",
        "status",
        "charge",
        "paid",
        "patient_responsibility",
        "payer_claim_number",
        "adjustments",
        "lines",
    ]
    assert all(set(a) == {"group", "reason", "amount"} for a in claim["adjustments"])
    assert out["provider_adjustments"][0]["amount"] == "-1.27"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello, this is not an edi file", "not X12"),
        (
            (FIXTURES / "X221-multiple-claims-single-check.edi").read_text()[:700],
            "truncated",
        ),
        (
            (FIXTURES / "X221-multiple-claims-single-check.edi")
            .read_text()
            .replace("CLP*7722337*1*226*132", "CLP*7722337*1*226*13x2"),
            "CLP04",
        ),
    ],
)
def test_bad_input_is_one_line_naming_segment_and_position(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "bad.835"
    path.write_text(text)
    result = CliRunner().invoke(app, ["parse-835", str(path)])
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert expected in lines[0]
    assert "segment" in lines[0]
    assert "position" in lines[0]
    assert "Traceback" not in result.output
    assert path.read_text() == text  # the file is kept as it was
