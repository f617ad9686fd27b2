"""The coding scrubber: each edit fires on a claim broken for it; a clean claim passes.

E/M, pointer and duplicate-line edits: test_coding_scrub_em.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from schemas.common import Coverage, Relationship, Sex, VisitType
from schemas.events import ClaimCoded
from services.coding import codesets
from services.coding.scrub import scrub
from tests.coding_claims import (
    DOS,
    checked_claim,
    has_finding,
    held_claim,
    make_encounter,
    make_line,
    make_patient,
    years_ago,
)

pytestmark = pytest.mark.unit

# --------------------------------------------------------------------------- clean claim


def test_clean_claim_passes_with_no_findings() -> None:
    enc = make_encounter()
    result = scrub(checked_claim(enc))
    assert isinstance(result, ClaimCoded)
    assert result.findings == []
    assert result.claim_id == result.patient_control_number == "C000000000000001"
    assert result.payer_id == "PPO01"
    assert result.coverage is not None
    assert result.coverage.member_id == "BMP123456789"
    assert [ln.line_number for ln in result.lines] == [1, 2, 3]
    assert [ln.diagnosis_pointers for ln in result.lines] == [[1, 2], [2], [2]]
    assert all(ln.service_date == DOS for ln in result.lines)
    assert result.total_charge_cents == 30000


def test_line_without_a_diagnosis_pointer_is_held_never_defaulted() -> None:
    enc = make_encounter(lines=[make_line("99213", ["I10"]), make_line("93000")])
    held = held_claim(enc)
    assert [(r.code, r.message) for r in held.reasons] == [
        (
            "POINTERS",
            "line 2 has no diagnosis pointer (it is never defaulted to diagnosis 1)",
        )
    ]
    assert "point line 2 at the diagnosis" in held.reasons[0].fix


def test_primary_coverage_is_lowest_priority_number() -> None:
    sec = Coverage(
        payer_id="MCD01",
        payer_name="STATE MEDICAID SIM",
        member_id="MC1",
        plan="STATE MEDICAID",
        priority=2,
        effective_date=dt.date(2024, 1, 1),
    )
    prim = Coverage(
        payer_id="PPO01",
        payer_name="BLUE MEADOW PPO",
        member_id="BMP1",
        plan="GOLD",
        priority=1,
        effective_date=dt.date(2024, 1, 1),
    )
    result = scrub(checked_claim(make_encounter(coverages=[sec, prim])))
    assert isinstance(result, ClaimCoded)
    assert result.coverage == prim


def test_preventive_plus_problem_with_25_is_clean() -> None:
    enc = make_encounter(
        diagnoses=["Z00.01", "J02.9"],
        lines=[make_line("99396", ["Z00.01"]), make_line("99213", ["J02.9"], ["25"])],
        visit_type=VisitType.preventive,
        mdm="low",
        minutes=None,
    )
    result = scrub(checked_claim(enc))
    assert isinstance(result, ClaimCoded), result
    assert result.findings == []


# --------------------------------------------------------------------------- diagnoses


def test_dx_invalid() -> None:
    enc = make_encounter(
        diagnoses=["I10", "Q99.99X"], lines=[make_line("99214", ["I10", "Q99.99X"])]
    )
    has_finding(held_claim(enc), "DX-INVALID", "hold", None)


def test_dx_invalid_for_chapter_or_block_names() -> None:
    enc = make_encounter(diagnoses=["I10", "I10-I1A"], lines=[make_line("99214", ["I10"])])
    has_finding(held_claim(enc), "DX-INVALID", "hold", None)


def test_dx_not_billable() -> None:
    enc = make_encounter(diagnoses=["E11"], lines=[make_line("99214", ["E11"])])
    has_finding(held_claim(enc), "DX-NOT-BILLABLE", "hold", None)


def test_dotless_codes_are_accepted() -> None:
    enc = make_encounter(diagnoses=["E119"], lines=[make_line("99214", ["E119"])])
    result = scrub(checked_claim(enc))
    assert isinstance(result, ClaimCoded)


@pytest.mark.parametrize("first", ["W19.XXXA", "Y93.01"])
def test_dx_first_listed_external_cause(first: str) -> None:
    enc = make_encounter(
        diagnoses=[first, "S93.401A"], lines=[make_line("99213", [first, "S93.401A"])]
    )
    has_finding(held_claim(enc), "DX-FIRST-LISTED", "hold", None)


@pytest.mark.parametrize("first", ["G63", "F02.80", "B95.0"])
def test_dx_first_listed_manifestation_or_supplementary(first: str) -> None:
    enc = make_encounter(diagnoses=[first, "E11.42"], lines=[make_line("99213", [first, "E11.42"])])
    has_finding(held_claim(enc), "DX-FIRST-LISTED", "hold", None)


def test_manifestation_second_is_fine() -> None:
    enc = make_encounter(diagnoses=["E11.42", "G63"], lines=[make_line("99214", ["E11.42", "G63"])])
    assert isinstance(scrub(checked_claim(enc)), ClaimCoded)


def test_dx_first_listed_code_first_note_warns() -> None:
    # H72.1-: "code first any associated otitis media (H65.-, H66.1-...)"
    enc = make_encounter(
        diagnoses=["H72.11", "H66.91"], lines=[make_line("99213", ["H72.11", "H66.91"])]
    )
    result = scrub(checked_claim(enc))
    has_finding(result, "DX-FIRST-LISTED", "warn", None)
    assert isinstance(result, ClaimCoded)


def test_dx_sex_pregnancy_for_male() -> None:
    enc = make_encounter(
        patient=make_patient(sex=Sex.male),
        diagnoses=["Z34.90"],
        lines=[make_line("99213", ["Z34.90"])],
    )
    has_finding(held_claim(enc), "DX-SEX", "hold", None)


@pytest.mark.parametrize("code", ["O26.891", "Z3A.20"])
def test_dx_sex_maternal_chapter_for_male(code: str) -> None:
    enc = make_encounter(
        patient=make_patient(sex=Sex.male),
        diagnoses=["Z34.90", code],
        lines=[make_line("99213", ["Z34.90", code])],
    )
    held = held_claim(enc)
    assert sum(f.edit == "DX-SEX" for f in held.findings) == 2


def test_dx_sex_prostate_for_female() -> None:
    enc = make_encounter(
        patient=make_patient(sex=Sex.female),
        diagnoses=["N40.0"],
        lines=[make_line("99213", ["N40.0"])],
    )
    has_finding(held_claim(enc), "DX-SEX", "hold", None)


def test_dx_sex_unknown_sex_is_not_checked() -> None:
    enc = make_encounter(
        patient=make_patient(sex=Sex.unknown),
        diagnoses=["N40.0"],
        lines=[make_line("99213", ["N40.0"])],
    )
    assert isinstance(scrub(checked_claim(enc)), ClaimCoded)


def test_dx_age_perinatal_code_after_the_first_year() -> None:
    enc = make_encounter(
        patient=make_patient(birth=DOS - dt.timedelta(days=425)),
        diagnoses=["P59.9"],
        lines=[make_line("99213", ["P59.9"])],
    )
    has_finding(held_claim(enc), "DX-AGE", "hold", None)


def test_dx_age_perinatal_code_in_newborn_is_fine() -> None:
    enc = make_encounter(
        patient=make_patient(birth=DOS - dt.timedelta(days=10)),
        new_patient=True,
        diagnoses=["P59.9"],
        lines=[make_line("99203", ["P59.9"])],
    )
    assert isinstance(scrub(checked_claim(enc)), ClaimCoded)


def test_dx_duplicate_warns() -> None:
    enc = make_encounter(diagnoses=["I10", "I10"], lines=[make_line("99213", ["I10"])])
    result = scrub(checked_claim(enc))
    has_finding(result, "DX-DUPLICATE", "warn", None)
    assert isinstance(result, ClaimCoded)


# --------------------------------------------------------------------------- procedures


def test_proc_invalid() -> None:
    enc = make_encounter(lines=[make_line("99214", ["I10"]), make_line("9921A", ["I10"])])
    has_finding(held_claim(enc), "PROC-INVALID", "hold", 2)


def test_proc_unknown_warns_but_flows() -> None:
    enc = make_encounter(lines=[make_line("99214", ["I10"]), make_line("12345", ["I10"])])
    result = scrub(checked_claim(enc))
    has_finding(result, "PROC-UNKNOWN", "warn", 2)
    assert isinstance(result, ClaimCoded)


def test_hcpcs_known_and_unknown() -> None:
    assert codesets.is_known_procedure("J1030")
    assert codesets.is_known_procedure("J9999")  # CMS's file, not only the practice's list
    assert codesets.procedure_description("G0439") == "Ppps, subseq visit"
    # J0000 is shaped like HCPCS Level II but in no release of it.
    enc = make_encounter(lines=[make_line("99214", ["I10"]), make_line("J0000", ["I10"])])
    has_finding(scrub(checked_claim(enc)), "PROC-UNKNOWN", "warn", 2)


def test_mod_invalid() -> None:
    enc = make_encounter(lines=[make_line("99214", ["I10"], ["ZZ"])])
    has_finding(held_claim(enc), "MOD-INVALID", "hold", 1)


def test_mod_repeated() -> None:
    enc = make_encounter(lines=[make_line("99214", ["I10"], ["25", "25"])])
    has_finding(held_claim(enc), "MOD-INVALID", "hold", 1)


# --------------------------------------------------------------------------- header data


def test_missing_coverage_holds() -> None:
    has_finding(held_claim(make_encounter(coverages=[])), "COVERAGE-MISSING", "hold", None)


def test_self_pay_needs_no_coverage() -> None:
    result = scrub(checked_claim(make_encounter(coverages=[]), self_pay=True, payer_id=None))
    assert isinstance(result, ClaimCoded)
    assert result.coverage is None
    assert result.self_pay


def test_claim_id_too_long_holds() -> None:
    has_finding(held_claim(make_encounter(), claim_id="C" * 21), "CLAIM-ID", "hold", None)


def test_birth_after_service_holds() -> None:
    enc = make_encounter(patient=make_patient(birth=DOS + dt.timedelta(days=3)))
    has_finding(held_claim(enc), "PATIENT-AGE", "hold", None)


def test_hold_reasons_are_the_hold_findings() -> None:
    enc = make_encounter(
        diagnoses=["E11"], lines=[make_line("99214", ["E11"]), make_line("12345", ["E11"])]
    )
    held = held_claim(enc)
    assert [r.code for r in held.reasons] == ["DX-NOT-BILLABLE"]
    assert {f.edit for f in held.findings} == {"DX-NOT-BILLABLE", "PROC-UNKNOWN"}


# --------------------------------------------------------------------------- code sets


def test_icd_lookups() -> None:
    assert codesets.icd_is_valid("E11")
    assert not codesets.icd_is_billable("E11")
    assert codesets.icd_is_billable("E11.9")
    assert codesets.icd_is_billable("e119")
    assert not codesets.icd_is_valid("E1.19")
    assert codesets.icd_description("I10") == "Essential (primary) hypertension"
    assert codesets.icd_description("Q99.99X") is None


def test_procedure_shapes() -> None:
    assert codesets.procedure_kind("99213") == "cpt"
    assert codesets.procedure_kind("3074F") == "cpt_cat2"
    assert codesets.procedure_kind("0042T") == "cpt_cat3"
    assert codesets.procedure_kind("G0439") == "hcpcs"
    assert codesets.procedure_kind("9921A") is None
    assert codesets.procedure_description("99213") is None  # no AMA descriptors shipped


def test_load_cpt_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codesets, "_cpt_codes", codesets.PRACTICE_CPT_CODES)
    monkeypatch.setattr(codesets, "_cpt_descriptions", {})
    f = tmp_path / "cpt.csv"
    f.write_text("code,description\n99213,Licensed text A\n12345,Licensed text B\nbad,x\n")
    assert codesets.load_cpt_file(f) == 2
    assert codesets.procedure_description("12345") == "Licensed text B"
    enc = make_encounter(lines=[make_line("99214", ["I10"]), make_line("12345", ["I10"])])
    result = scrub(checked_claim(enc))
    assert isinstance(result, ClaimCoded)
    assert result.findings == []


def test_dependent_coverage_is_carried() -> None:
    sub = make_patient(birth=years_ago(40), sex=Sex.male)
    cov = Coverage(
        payer_id="PPO01",
        payer_name="BLUE MEADOW PPO",
        member_id="BMP1",
        plan="GOLD",
        effective_date=dt.date(2024, 1, 1),
        relationship=Relationship.child,
        subscriber=sub,
    )
    enc = make_encounter(patient=make_patient(birth=years_ago(8)), coverages=[cov])
    result = scrub(checked_claim(enc))
    assert isinstance(result, ClaimCoded)
    assert result.coverage is not None
    assert result.coverage.subscriber == sub
