"""The bundled code sets are current for today's dates of service (issue 30): ICD-10-CM
FY2027 (from 2026-10-01, CMS's order addenda applied to the FY2026 April update) and
HCPCS Level II from CMS's January 2026 alpha-numeric file."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from rcm.cli_code import app
from schemas.common import Sex
from schemas.events import ClaimCoded, ClaimHeld
from services.coding import code_dates
from services.coding.ncci import LayoutError
from services.coding.scrub import scrub
from tests.coding_claims import checked_claim, has_finding, make_encounter, make_line, make_patient

pytestmark = pytest.mark.unit

LAST_FY2026 = dt.date(2026, 9, 14)
FY2027 = dt.date(2026, 11, 2)


def _visit(
    dx: str, dos: dt.date, code: str | None = None, sex: Sex = Sex.female
) -> ClaimCoded | ClaimHeld:
    lines = [make_line("99214", [dx], charge=22000)]
    if code is not None:
        lines.append(make_line(code, [dx]))
    enc = make_encounter(diagnoses=[dx], lines=lines, dos=dos, patient=make_patient(sex=sex))
    return scrub(checked_claim(enc))


def _holds(result: ClaimCoded | ClaimHeld) -> list[str]:
    return [f.edit for f in result.findings if f.severity == "hold"]


def _message(result: ClaimCoded | ClaimHeld, edit: str) -> str:
    (msg,) = [f.message for f in result.findings if f.edit == edit]
    return msg


def test_a_diagnosis_added_in_fy2027_is_held_before_october_2026_and_valid_after() -> None:
    # FY2027 split I42.0 (dilated cardiomyopathy) into I42.00/I42.01/I42.09.
    assert _holds(_visit("I42.00", FY2027)) == []
    held = _visit("I42.00", LAST_FY2026)
    assert _holds(held) == ["DX-NOT-IN-FORCE"]
    msg = _message(held, "DX-NOT-IN-FORCE")
    assert "diagnosis 1 'I42.00'" in msg
    assert "effective 2026-10-01" in msg
    assert "2026-09-14" in msg
    assert "before it" in msg


def test_a_diagnosis_ended_by_fy2027_is_valid_before_october_2026_and_held_after() -> None:
    assert _holds(_visit("I42.0", LAST_FY2026)) == []
    held = _visit("I42.0", FY2027)
    assert _holds(held) == ["DX-NOT-IN-FORCE"]
    msg = _message(held, "DX-NOT-IN-FORCE")
    assert "terminated 2026-09-30" in msg
    assert "2026-11-02" in msg
    assert "after it" in msg


def test_the_fy2027_release_is_the_one_named_for_a_december_2026_visit() -> None:
    result = _visit("I42.00", dt.date(2026, 12, 1))
    msg = _message(result, "CODESET-VERSION")  # a warning: the tabular edits read FY2026
    assert "checked against ICD-10-CM FY2027" in msg


@pytest.mark.parametrize(
    ("code", "before", "after", "effective"),
    [
        ("G0537", dt.date(2024, 11, 4), dt.date(2025, 3, 3), "2025-01-01"),  # ASCVD risk
        ("G0570", dt.date(2025, 12, 15), dt.date(2026, 1, 5), "2026-01-01"),  # care mgmt
        ("G2211", dt.date(2020, 11, 3), dt.date(2026, 2, 2), "2021-01-01"),  # E/M add-on
    ],
)
def test_a_hcpcs_code_added_since_2020_is_held_before_its_add_date_and_valid_after(
    code: str, before: dt.date, after: dt.date, effective: str
) -> None:
    assert "PROC-NOT-IN-FORCE" not in _holds(_visit("I10", after, code))
    held = _visit("I10", before, code)
    has_finding(held, "PROC-NOT-IN-FORCE", "hold", 2)
    msg = _message(held, "PROC-NOT-IN-FORCE")
    assert f"line 2: '{code}'" in msg
    assert f"effective {effective}" in msg
    assert "before it" in msg


def test_a_hcpcs_code_terminated_since_2020_is_held_after_its_termination() -> None:
    # G2012 (virtual check-in, 5-10 minutes) ended 2024-12-31 in CMS's 2026 file.
    assert "PROC-NOT-IN-FORCE" not in _holds(_visit("I10", dt.date(2024, 6, 3), "G2012"))
    held = _visit("I10", dt.date(2025, 2, 3), "G2012")
    has_finding(held, "PROC-NOT-IN-FORCE", "hold", 2)
    msg = _message(held, "PROC-NOT-IN-FORCE")
    assert "effective 2019-01-01, terminated 2024-12-31" in msg
    assert "after it" in msg


def test_a_fy2027_pregnancy_code_on_a_male_patient_is_held() -> None:
    # O00.121 (FY2027) is not in the FY2026 tabular list the sex edit reads; category
    # O00 is female-only throughout it.
    held = _visit("O00.121", FY2027, sex=Sex.male)
    has_finding(held, "DX-SEX", "hold", None)
    assert "O00.121" in _message(held, "DX-SEX")
    assert "DX-SEX" not in _holds(_visit("O00.121", FY2027, sex=Sex.female))


def test_check_without_db_holds_by_the_current_sets(tmp_path: Path) -> None:
    def check(dx: str, code: str) -> dict[str, object]:
        enc = make_encounter(
            diagnoses=[dx],
            lines=[make_line("99214", [dx], charge=22000), make_line(code, [dx])],
            dos=FY2027,
        )
        f = tmp_path / "enc.json"
        f.write_text(enc.model_dump_json())
        r = CliRunner().invoke(app, ["check", str(f)])
        assert r.exit_code == 0, r.stderr
        doc: dict[str, object] = json.loads(r.stdout)
        return doc

    def holds(doc: dict[str, object]) -> list[str]:
        findings = doc["findings"]
        assert isinstance(findings, list)
        return [x["edit"] for x in findings if x["severity"] == "hold"]

    current = check("I42.00", "G0570")  # both added in 2026
    assert "DX-NOT-IN-FORCE" not in holds(current)
    assert "PROC-NOT-IN-FORCE" not in holds(current)
    ended = check("I42.0", "G0071")  # I42.0 ended 2026-09-30, G0071 2025-12-31
    assert ended["outcome"] == "held"
    assert sorted(holds(ended)) == ["DX-NOT-IN-FORCE", "PROC-NOT-IN-FORCE"]


ADDENDA = """Add:         1 X1234   New code                                  New code
Delete:      1 X1230   Old code                                  Old code
Add:         0 X123    Header now                                Header now
Revise from: 1 X1231   Old title                                 Old title
Revise to:   1 X1231   New title                                 New title

Codes
      2 codes in icd10cm_order_2026.txt
      2 codes in icd10cm_order_2027.txt
"""


def test_order_addenda_change_the_release_they_were_written_for() -> None:
    base = frozenset({"X1230", "X1231"})
    assert code_dates.apply_order_addenda(base, ADDENDA) == {"X1231", "X1234"}
    with pytest.raises(LayoutError, match="line 1: adds X1234, already billable"):
        code_dates.apply_order_addenda(base | {"X1234"}, ADDENDA)
    with pytest.raises(LayoutError, match="line 2: deletes X1230, not billable"):
        code_dates.apply_order_addenda(frozenset({"X1231"}), ADDENDA)
    with pytest.raises(LayoutError, match="count 2 codes before and 2 after"):
        code_dates.apply_order_addenda(base | {"X9999"}, ADDENDA)
    with pytest.raises(LayoutError, match="no ICD-10-CM order addenda records"):
        code_dates.apply_order_addenda(base, "X1234 some other file\n")


def _builder() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "scripts" / "build_code_sets.py"
    spec = importlib.util.spec_from_file_location("build_code_sets", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_build_writes_a_hcpcs_transcription_with_its_dates(tmp_path: Path) -> None:
    build = _builder()
    src = tmp_path / "hcpcs.json"
    src.write_text(
        json.dumps(
            {
                "version": "2026-Q1-JAN",
                "source": "CMS HCPCS Quarterly Update (January 2026)",
                "codes": [
                    {
                        "code": "J1010",
                        "shortDesc": "Inj, methylpred acetate 1 mg",
                        "addDate": "20240401",
                    },
                    {
                        "code": "J1030",
                        "shortDesc": "Methylprednisolone 40 mg inj",
                        "addDate": "19820101",
                        "termDate": "20240331",
                    },
                ],
            }
        )
    )
    rows, version = build.read_hcpcs_json(src)
    out = tmp_path / "hcpcs_dates.csv.gz"
    assert build.build_hcpcs(rows, src.name, f"CMS alpha-numeric HCPCS file: {version}", out) == 2
    dates = code_dates.read_dates(out, "hcpcs")
    assert dates.on("J1030", dt.date(2024, 5, 1)) == (
        False,
        (dt.date(1982, 1, 1), dt.date(2024, 3, 31)),
    )
    assert dates.on("J1010", dt.date(2024, 5, 1)) == (True, (dt.date(2024, 4, 1), None))
    assert dates.descriptions["J1010"] == "Inj, methylpred acetate 1 mg"
    src.write_text(json.dumps({"codes": [{"code": "99213", "addDate": "20200101"}]}))
    with pytest.raises(SystemExit, match="entry 0: '99213' is not a HCPCS Level II code"):
        build.read_hcpcs_json(src)
