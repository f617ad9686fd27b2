"""Codes checked against the release in force on the date of service (issue 30, part 1)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rcm.cli_code import app
from schemas.events import ClaimCoded, ClaimHeld
from services.coding import code_dates
from services.coding.ncci import LayoutError
from services.coding.scrub import scrub
from tests.coding_claims import checked_claim, has_finding, held_claim, make_encounter, make_line

pytestmark = pytest.mark.unit

FY2025_DOS = dt.date(2025, 6, 2)
FY2026_DOS = dt.date(2026, 1, 15)


def _ms_visit(dx: str, dos: dt.date) -> ClaimCoded | ClaimHeld:
    enc = make_encounter(diagnoses=[dx], lines=[make_line("99214", [dx], charge=22000)], dos=dos)
    return scrub(checked_claim(enc))


def _holds(result: ClaimCoded | ClaimHeld) -> list[str]:
    return [f.edit for f in result.findings if f.severity == "hold"]


def test_a_code_deleted_in_fy2026_passes_in_2025_and_is_held_in_2026() -> None:
    # G35 (multiple sclerosis) was billable through FY2025; FY2026 split it (G35.A...).
    assert _holds(_ms_visit("G35", FY2025_DOS)) == []
    held = _ms_visit("G35", FY2026_DOS)
    has_finding(held, "DX-NOT-IN-FORCE", "hold", None)
    (msg,) = [f.message for f in held.findings if f.edit == "DX-NOT-IN-FORCE"]
    assert "diagnosis 1 'G35'" in msg
    assert "terminated 2025-09-30" in msg
    assert "2026-01-15" in msg
    assert "after it" in msg
    assert _holds(held) == ["DX-NOT-IN-FORCE"]  # not also "header" or "invalid"


def test_a_code_before_its_effective_date_is_held_with_both_dates() -> None:
    assert _holds(_ms_visit("G35.A", FY2026_DOS)) == []
    held = _ms_visit("G35.A", FY2025_DOS)
    (msg,) = [f.message for f in held.findings if f.edit == "DX-NOT-IN-FORCE"]
    assert "effective 2025-10-01" in msg
    assert "2025-06-02" in msg
    assert "before it" in msg


def _line_on(code: str, dos: dt.date) -> ClaimCoded | ClaimHeld:
    enc = make_encounter(
        diagnoses=["I10"],
        lines=[make_line("99214", ["I10"], charge=22000), make_line(code, ["I10"])],
        dos=dos,
    )
    return scrub(checked_claim(enc))


def test_a_terminated_hcpcs_code_is_held_after_its_termination() -> None:
    # G0202 (screening mammography) ended 2017-12-31 in CMS's file (77067 replaced it).
    before = _line_on("G0202", dt.date(2017, 11, 6))
    assert "PROC-NOT-IN-FORCE" not in [f.edit for f in before.findings]
    held = _line_on("G0202", dt.date(2019, 3, 4))
    has_finding(held, "PROC-NOT-IN-FORCE", "hold", 2)
    (msg,) = [f.message for f in held.findings if f.edit == "PROC-NOT-IN-FORCE"]
    assert "line 2: 'G0202'" in msg
    assert "HCPCS Level II" in msg
    assert "effective 2001-04-01" in msg
    assert "terminated 2017-12-31" in msg
    assert "2019-03-04" in msg


def test_a_hcpcs_code_before_it_was_added_is_held() -> None:
    held = _line_on("G0439", dt.date(2010, 5, 3))  # the AWV codes began 2011-01-01
    has_finding(held, "PROC-NOT-IN-FORCE", "hold", 2)
    (msg,) = [f.message for f in held.findings if f.edit == "PROC-NOT-IN-FORCE"]
    assert "effective 2011-01-01" in msg
    assert "2010-05-03" in msg
    assert "before it" in msg


def test_a_future_date_of_service_is_held() -> None:
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    held = held_claim(make_encounter(dos=tomorrow))
    has_finding(held, "FUTURE-DOS", "hold", None)
    today = dt.datetime.now(dt.UTC).date()
    assert "FUTURE-DOS" not in [
        f.edit for f in scrub(checked_claim(make_encounter(dos=today))).findings
    ]


def test_the_bundled_sets_are_complete_and_dated() -> None:
    icd, hcpcs = code_dates.bundled_icd(), code_dates.bundled_hcpcs()
    current = [c for c, spans in icd.ranges.items() if spans[-1][1] is None]
    assert len(current) > 74_000  # every billable FY2026 code, not a sample
    assert [r.start.isoformat() for r in icd.releases] == ["2024-10-01", "2025-10-01", "2026-10-01"]
    assert len(current) == 74_879  # FY2027's billable count, as CMS's addenda give it
    assert len(hcpcs) > 8_500  # every procedure code of CMS's January 2026 file
    assert hcpcs.on("G2211", dt.date(2026, 1, 2)) == (True, (dt.date(2021, 1, 1), None))
    assert hcpcs.descriptions["J1030"]
    assert hcpcs.on("G0438", dt.date(2026, 1, 2)) == (True, (dt.date(2011, 1, 1), None))
    for path in (code_dates.ICD_FILE, code_dates.HCPCS_FILE):
        assert path.stat().st_size < 1_000_000
        assert gzip.decompress(path.read_bytes()).startswith(b"# source: CMS")


def test_ranges_from_releases() -> None:
    oct24, oct25, oct26 = dt.date(2024, 10, 1), dt.date(2025, 10, 1), dt.date(2026, 10, 1)
    ranges = code_dates.icd_ranges(
        [
            (oct25, frozenset({"A", "C"})),
            (oct24, frozenset({"A", "B"})),
            (oct26, frozenset({"A", "B"})),
        ]
    )
    assert ranges["A"] == [(None, None)]
    assert ranges["B"] == [(None, dt.date(2025, 9, 30)), (oct26, None)]
    assert ranges["C"] == [(oct25, dt.date(2026, 9, 30))]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("A00\nA000\nA0!1\n", "line 3: 'A0!1' is not an ICD-10-CM code"),
        (
            "00001 A00     0 Cholera   Cholera\n00002 A000    x Cholera d  Cholera d\n",
            "line 2: not an ICD-10-CM order record",
        ),
        ("1\nA00-A09\n", "no ICD-10-CM codes"),
    ],
)
def test_icd_reader_names_the_bad_line(text: str, error: str) -> None:
    with pytest.raises(LayoutError, match=error):
        code_dates.read_icd_release(text)


def _hcpcs_record(code: str, add: str, term: str) -> str:
    rec = code + "00100" + "3" + "Long".ljust(80) + "Short".ljust(28)
    return rec.ljust(268) + add + add + term.ljust(8) + "N".ljust(28)


def test_hcpcs_reader_reads_dates_and_names_a_bad_line() -> None:
    good = _hcpcs_record("G9999", "20200101", "20211231")
    (row,) = code_dates.read_hcpcs_file("header\n" + good + "\n")
    assert (row.code, row.effective, row.termination) == (
        "G9999",
        dt.date(2020, 1, 1),
        dt.date(2021, 12, 31),
    )
    bad = _hcpcs_record("G9998", "2020013X", "")
    with pytest.raises(LayoutError, match="line 2: ADD DT '2020013X' is not a date"):
        code_dates.read_hcpcs_file(good + "\n" + bad + "\n")
    with pytest.raises(LayoutError, match="line 1: G9997 record is 30 characters; expected 320"):
        code_dates.read_hcpcs_file("G9997001003Short record       \n")


def test_check_without_db_uses_the_bundled_dated_sets(tmp_path: Path) -> None:
    enc = make_encounter(
        diagnoses=["G35"], lines=[make_line("99214", ["G35"], charge=22000)], dos=FY2026_DOS
    )
    f = tmp_path / "enc.json"
    f.write_text(enc.model_dump_json())
    r = CliRunner().invoke(app, ["check", str(f)])
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["outcome"] == "held"
    assert [x["edit"] for x in doc["findings"] if x["severity"] == "hold"] == ["DX-NOT-IN-FORCE"]
    assert doc["code_sets"]["icd10cm_dates"].startswith("CMS ICD-10-CM code lists")
    assert doc["code_sets"]["hcpcs"].startswith("CMS alpha-numeric HCPCS file")
