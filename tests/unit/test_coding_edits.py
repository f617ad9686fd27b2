"""NCCI PTP/MUE, E/M level, wellness-visit frequency and code-set version edits, and
the CMS file loaders they rest on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest

from schemas.common import Finding, VisitType
from schemas.events import ClaimCoded, ClaimHeld, EncounterCreated, Stage
from services.coding import codesets, em, ncci
from services.coding.edits.facts import PriorService
from services.coding.ncci import EditTables, LayoutError, MueEdit, PtpEdit
from services.coding.scrub import scrub
from tests.coding_claims import (
    DOS,
    checked_claim,
    has_finding,
    make_encounter,
    make_line,
    make_patient,
    years_ago,
)

pytestmark = pytest.mark.unit

T = ncci.bundled_tables()


def _held(
    enc: EncounterCreated, *, tables: EditTables = T, history: Sequence[PriorService] = ()
) -> ClaimHeld:
    result = scrub(checked_claim(enc), tables, history)
    assert isinstance(result, ClaimHeld), result
    assert result.stage is Stage.coding
    return result


def _findings(result: ClaimCoded | ClaimHeld, edit: str) -> list[Finding]:
    return [f for f in result.findings if f.edit == edit]


# --------------------------------------------------------------------------- loaders

PTP_TXT = (
    "CPT codes, descriptions and other data only are copyright 2025 AMA. All rights reserved.\n"
    "Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\t"
    "Deletion Date *=no data\tModifier 0=not allowed 1=allowed 9=not applicable\t"
    "PTP Edit Rationale\n"
    "80053\t80048\t*\t19960101\t*\t0\tLaboratory panel\n"
    "96372\t99213\t\t20130101\t*\t1\tMisuse of column two code with column one code\n"
    "94640\t94760\t\t20040101\t20170101\t1\tStandards of medical / surgical practice\n"
    "90460\t90471\t\t20110101\t20110101\t9\tMutually exclusive procedures\n"
)


def test_ptp_tab_layout_parses_every_column() -> None:
    edits = ncci.parse_ptp(PTP_TXT)
    assert [(e.column1, e.column2) for e in edits] == [
        ("80053", "80048"),
        ("96372", "99213"),
        ("94640", "94760"),
        ("90460", "90471"),
    ]
    panel, inj, deleted, never = edits
    assert panel.prior_1996
    assert not inj.prior_1996
    assert panel.effective == dt.date(1996, 1, 1)
    assert panel.deletion is None
    assert panel.modifier_indicator == 0
    assert inj.modifier_indicator == 1
    assert deleted.deletion == dt.date(2017, 1, 1)
    assert never.modifier_indicator == 9
    assert inj.rationale == "Misuse of column two code with column one code"


def test_ptp_csv_layout_parses_the_same() -> None:
    csv_text = (
        '"Column 1","Column 2","*=in existence prior to 1996","Effective Date",'
        '"Deletion Date *=no data","Modifier 0=not allowed 1=allowed 9=not applicable",'
        '"PTP Edit Rationale"\n'
        '80053,80048,*,1996-01-01,*,0,"Laboratory panel"\n'
        '96372,99213,,01/01/2013,,1,"Misuse of column two code with column one code"\n'
    )
    assert ncci.parse_ptp(csv_text) == ncci.parse_ptp(PTP_TXT)[:2]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("96372\t99213\t\t2013\t*\t1\tx", "not a date"),
        ("96372\t99213\t\t20130101\t*\t2\tx", "modifier indicator '2'"),
        ("96372\tABC\t\t20130101\t*\t1\tx", "column 2 'ABC'"),
        ("96372\t99213\t\t20130101", "4 columns"),
    ],
)
def test_ptp_bad_rows_name_the_line(row: str, problem: str) -> None:
    with pytest.raises(LayoutError, match=f"line 2: .*{problem}"):
        ncci.parse_ptp("header line\n" + row + "\n")


def test_ptp_file_without_rows_is_an_error() -> None:
    with pytest.raises(LayoutError, match="no PTP rows"):
        ncci.parse_ptp("just a header\nColumn 1\tColumn 2\n")


def test_mue_csv_and_tab_layouts() -> None:
    csv_text = (
        "CPT codes ... copyright AMA\n"
        '"HCPCS/CPT Code","Practitioner Services MUE Values","MUE Adjudication Indicator",'
        '"MUE Rationale"\n'
        '36415,1,"2 Date of Service Edit: Policy","CMS Policy"\n'
        '20610,2,"1 Line Edit","Anatomic Consideration"\n'
    )
    tab_text = (
        "HCPCS/CPT Code\tPractitioner Services MUE Values\tMUE Adjudication Indicator\t"
        "MUE Rationale\n36415\t1\t2 Date of Service Edit: Policy\tCMS Policy\n"
        "20610\t2\t1 Line Edit\tAnatomic Consideration\n"
    )
    q = dt.date(2026, 1, 1)
    a, b = ncci.parse_mue(csv_text, q), ncci.parse_mue(tab_text, q)
    assert (
        a
        == b
        == [
            MueEdit("36415", 1, 2, "CMS Policy", q),
            MueEdit("20610", 2, 1, "Anatomic Consideration", q),
        ]
    )
    with pytest.raises(LayoutError, match="line 1: adjudication indicator"):
        ncci.parse_mue("36415,1,7 Something,x\n", q)
    with pytest.raises(LayoutError, match="MUE value 'one'"):
        ncci.parse_mue("36415,one,2 Date of Service Edit: Policy,x\n", q)


def test_bundled_subset_loads() -> None:
    assert T.ptp_on("36415", "36416", DOS) is not None
    assert T.ptp_on("96372", "99213", DOS) is not None
    mue = T.mue_on("36415", DOS)
    assert mue is not None
    assert (mue.value, mue.mai) == (1, 2)


def test_edits_apply_by_date_of_service() -> None:
    edit = PtpEdit("94640", "94760", False, dt.date(2004, 1, 1), dt.date(2017, 1, 1), 1, "")
    tables = EditTables.build([edit], [], version="t")
    assert tables.ptp_on("94640", "94760", dt.date(2016, 12, 31)) == edit
    assert tables.ptp_on("94640", "94760", dt.date(2017, 1, 1)) is None  # deleted that day
    assert tables.ptp_on("94640", "94760", dt.date(2003, 12, 31)) is None  # not yet


# --------------------------------------------------------------------------- NCCI PTP


def _injection_visit(em_mods: list[str]) -> EncounterCreated:
    return make_encounter(
        diagnoses=["L23.7"],
        mdm="low",
        minutes=None,
        lines=[
            make_line("99213", ["L23.7"], em_mods),
            make_line("96372", ["L23.7"]),
            make_line("J1010", ["L23.7"], units=40),
        ],
    )


def test_ptp_indicator_1_holds_without_modifier() -> None:
    held = _held(_injection_visit([]), tables=T)
    has_finding(held, "NCCI-PTP", "hold", 1)  # 99213 is column 2 of 96372
    (f,) = _findings(held, "NCCI-PTP")
    assert "'99213' is bundled into '96372' (line 2)" in f.message
    assert "modifier 25" in f.message


def test_ptp_indicator_1_bypassed_by_25_on_the_em() -> None:
    result = scrub(checked_claim(_injection_visit(["25"])), T)
    assert isinstance(result, ClaimCoded)
    assert result.findings == []


def test_ptp_59_does_not_bypass_on_an_em_code() -> None:
    has_finding(_held(_injection_visit(["59"]), tables=T), "NCCI-PTP", "hold", 1)


@pytest.mark.parametrize("mod", ["59", "XE", "XS", "XP", "XU"])
def test_ptp_distinct_service_modifiers_bypass_indicator_1(mod: str) -> None:
    enc = make_encounter(
        diagnoses=["Z23", "L23.7"],
        visit_type=VisitType.nurse,
        lines=[
            make_line("90471", ["Z23"]),
            make_line("90686", ["Z23"]),
            make_line("96372", ["L23.7"], [mod]),
            make_line("J1010", ["L23.7"], units=40),
        ],
    )
    result = scrub(checked_claim(enc), T)
    assert isinstance(result, ClaimCoded), result
    assert result.findings == []
    bare = enc.model_copy(update={"lines": [*enc.lines[:2], make_line("96372", ["L23.7"])]})
    has_finding(_held(bare, tables=T), "NCCI-PTP", "hold", 3)


def test_ptp_indicator_0_is_never_bypassed() -> None:
    enc = make_encounter(
        diagnoses=["R73.09"],
        lines=[
            make_line("99213", ["R73.09"]),
            make_line("36415", ["R73.09"]),
            make_line("36416", ["R73.09"], ["59"]),
        ],
        mdm="low",
        minutes=None,
    )
    held = _held(enc, tables=T)
    has_finding(held, "NCCI-PTP", "hold", 3)
    assert any("indicator 0" in f.message for f in held.findings)


def test_ptp_awv_with_problem_visit_needs_25() -> None:
    enc = make_encounter(
        diagnoses=["Z00.00", "J02.9"],
        visit_type=VisitType.preventive,
        patient=None,
        mdm="low",
        minutes=None,
        lines=[make_line("G0439", ["Z00.00"]), make_line("99213", ["J02.9"])],
    )
    has_finding(_held(enc, tables=T), "NCCI-PTP", "hold", 2)
    with_25 = enc.model_copy(
        update={"lines": [enc.lines[0], make_line("99213", ["J02.9"], ["25"])]}
    )
    assert scrub(checked_claim(with_25), T).findings == []


def test_ptp_indicator_9_and_deleted_edits_are_silent() -> None:
    enc = make_encounter(
        diagnoses=["J45.901"],
        visit_type=VisitType.procedure,
        lines=[make_line("94640", ["J45.901"]), make_line("94760", ["J45.901"])],
        dos=dt.date(2026, 4, 6),
    )
    assert _findings(scrub(checked_claim(enc), T), "NCCI-PTP") == []
    old = enc.model_copy(update={"date_of_service": dt.date(2016, 6, 1)})
    has_finding(scrub(checked_claim(old), T), "NCCI-PTP", "hold", 2)
    ind9 = EditTables.build(
        [PtpEdit("94640", "94760", False, dt.date(2004, 1, 1), None, 9, "")], [], version="t"
    )
    assert _findings(scrub(checked_claim(enc), ind9), "NCCI-PTP") == []


def test_ptp_different_anatomic_modifiers_bypass() -> None:
    tables = EditTables.build(
        [PtpEdit("20610", "20605", False, dt.date(2010, 1, 1), None, 1, "")], [], version="t"
    )
    enc = make_encounter(
        diagnoses=["M17.11"],
        visit_type=VisitType.procedure,
        lines=[make_line("20610", ["M17.11"], ["RT"]), make_line("20605", ["M17.11"], ["LT"])],
    )
    assert _findings(scrub(checked_claim(enc), tables), "NCCI-PTP") == []
    same = enc.model_copy(update={"lines": [enc.lines[0], make_line("20605", ["M17.11"], ["RT"])]})
    has_finding(scrub(checked_claim(same), tables), "NCCI-PTP", "hold", 2)


# --------------------------------------------------------------------------- MUE


def test_mue_per_day_sums_the_lines() -> None:
    enc = make_encounter(
        lines=[
            make_line("99214", ["I10", "E78.5"]),
            make_line("36415", ["E78.5"], units=2),
            make_line("80061", ["E78.5"]),
        ]
    )
    held = _held(enc, tables=T)
    has_finding(held, "MUE", "hold", 2)
    (f,) = _findings(held, "MUE")
    assert "2 units of '36415' on the date of service" in f.message
    assert "allows 1" in f.message


def test_mue_per_day_over_two_lines() -> None:
    enc = make_encounter(
        diagnoses=["L23.7"],
        visit_type=VisitType.nurse,
        lines=[
            make_line("96372", ["L23.7"], units=3),
            make_line("96372", ["L23.7"], ["76"], units=2),
            make_line("J1010", ["L23.7"], units=40),
        ],
    )
    has_finding(_held(enc, tables=T), "MUE", "hold", 2)  # 5 > 4 (MAI 3)


def test_mue_line_edit_counts_each_line() -> None:
    enc = make_encounter(
        diagnoses=["M17.0"],
        visit_type=VisitType.procedure,
        lines=[
            make_line("20610", ["M17.0"], ["RT"], units=2),
            make_line("20610", ["M17.0"], ["LT"], units=2),
        ],
    )
    assert _findings(scrub(checked_claim(enc), T), "MUE") == []
    over = enc.model_copy(update={"lines": [make_line("20610", ["M17.0"], ["RT"], units=3)]})
    has_finding(_held(over, tables=T), "MUE", "hold", 1)


def test_no_tables_no_ncci_findings() -> None:
    enc = make_encounter(lines=[make_line("99214", ["I10"]), make_line("36415", ["I10"], units=3)])
    assert isinstance(scrub(checked_claim(enc)), ClaimCoded)


# --------------------------------------------------------------------------- E/M level


@pytest.mark.parametrize(
    ("code", "mdm", "minutes", "expected"),
    [
        ("99213", "low", None, "99213"),
        ("99213", None, 20, "99213"),
        ("99213", None, 19, "99212"),
        ("99214", "low", 30, "99214"),  # time wins when higher
        ("99215", "high", 12, "99215"),  # MDM wins when higher
        ("99215", None, 40, "99215"),
        ("99204", None, 44, "99203"),
        ("99205", None, 60, "99205"),
        ("99202", None, 14, None),
    ],
)
def test_expected_level(code: str, mdm: str | None, minutes: int | None, expected: str) -> None:
    exp = em.expected_code(code, mdm, minutes, DOS)
    assert exp is not None
    assert exp.code == expected


def test_level_rules_start_2021() -> None:
    assert em.expected_code("99215", "low", None, dt.date(2020, 12, 31)) is None


def test_em_level_higher_than_documented_holds() -> None:
    enc = make_encounter(lines=[make_line("99215", ["I10", "E78.5"])], mdm="low", minutes=22)
    held = _held(enc)
    has_finding(held, "EM-LEVEL", "hold", 1)
    assert any("'99213'" in r.fix for r in held.reasons)


def test_em_level_lower_than_documented_warns() -> None:
    enc = make_encounter(lines=[make_line("99213", ["I10", "E78.5"])], mdm="moderate", minutes=None)
    result = scrub(checked_claim(enc))
    has_finding(result, "EM-LEVEL", "warn", 1)
    assert isinstance(result, ClaimCoded)


def test_em_level_undocumented_warns() -> None:
    enc = make_encounter(lines=[make_line("99213", ["I10"])], mdm=None, minutes=None)
    has_finding(scrub(checked_claim(enc)), "EM-LEVEL", "warn", 1)


def test_em_level_not_applied_to_99211_or_preventive() -> None:
    enc = make_encounter(lines=[make_line("99211", ["I10"])], mdm=None, minutes=None)
    assert scrub(checked_claim(enc)).findings == []


# --------------------------------------------------------------------------- AWV frequency


def _awv(code: str) -> EncounterCreated:
    return make_encounter(
        patient=make_patient(birth=years_ago(70)),
        diagnoses=["Z00.00"],
        visit_type=VisitType.preventive,
        mdm=None,
        minutes=None,
        lines=[make_line(code, ["Z00.00"])],
    )


def test_g0438_once_per_lifetime() -> None:
    enc = _awv("G0438")
    history = [PriorService("G0438", dt.date(2019, 5, 2), "C-OLD")]
    held = _held(enc, tables=T, history=history)
    has_finding(held, "EM-AWV-FREQUENCY", "hold", 1)
    assert "2019-05-02" in _findings(held, "EM-AWV-FREQUENCY")[0].message
    assert isinstance(scrub(checked_claim(enc), T, []), ClaimCoded)


def test_g0439_once_a_year() -> None:
    enc = _awv("G0439")  # DOS 2026-04-06
    recent = [PriorService("G0439", dt.date(2025, 6, 20), "C-OLD")]
    held = _held(enc, tables=T, history=recent)
    has_finding(held, "EM-AWV-FREQUENCY", "hold", 1)
    assert any("2026-06-01" in r.fix for r in held.reasons)
    # 11 full months after the month of the last visit: April 2025 -> April 2026 is fine
    due = [PriorService("G0438", dt.date(2025, 4, 28), "C-OLD")]
    assert isinstance(scrub(checked_claim(enc), T, due), ClaimCoded)


def test_the_claim_itself_is_not_its_own_history() -> None:
    enc = _awv("G0439")
    same = [PriorService("G0439", DOS, "C000000000000001")]  # this claim, coded before
    assert isinstance(scrub(checked_claim(enc), T, same), ClaimCoded)


# --------------------------------------------------------------------------- code set version


def test_icd_release_selected_by_date_of_service() -> None:
    rel = codesets.icd_release()
    assert rel.source == "icd10c-tabular-April-1-2026.xml"
    assert rel.name == "ICD-10-CM FY2026, April 1 update"
    assert codesets.icd_fiscal_year(dt.date(2026, 9, 30)) == 2026
    assert codesets.icd_fiscal_year(dt.date(2026, 10, 1)) == 2027
    assert codesets.icd_release_for(dt.date(2026, 9, 30)) == (rel, True)
    assert codesets.icd_release_for(dt.date(2026, 10, 1)) == (rel, False)
    oct_release = codesets.release_from_source("icd10cm-tabular-October-1-2026.xml")
    assert (oct_release.fiscal_year, oct_release.valid_to) == (2027, dt.date(2027, 9, 30))


def test_date_of_service_outside_the_release_warns() -> None:
    enc = make_encounter(dos=dt.date(2026, 10, 1))
    result = scrub(checked_claim(enc))
    assert isinstance(result, ClaimCoded)
    (f,) = result.findings
    assert (f.edit, f.severity) == ("CODESET-VERSION", "warn")
    assert "FY2027" in f.message
    assert "FY2026" in f.message
