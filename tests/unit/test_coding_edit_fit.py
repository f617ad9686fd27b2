"""The edit families added for issue 30 alone (MCE age groups, procedure sex, first-listed
Z codes, diagnosis-procedure fit, vaccines, medical necessity, identifiers): the finding
each reports (edit id, severity, line, message, fix) and silence on the claim done
right. Whole claims from the guidelines: test_coding_cases.py."""

from __future__ import annotations

import pytest

from schemas.common import Provider, Sex
from services.coding.edits import (
    diagnosis_age,
    diagnosis_sequence,
    dx_fit,
    identifiers,
    necessity,
    procedure_sex,
    vaccines,
)
from services.coding.edits.flag import HOLD, WARN, Flag
from tests.coding_claims import facts_for, make_encounter, make_line, make_patient, years_ago

pytestmark = pytest.mark.unit


def _one(found: list[Flag]) -> Flag:
    assert len(found) == 1, found
    return found[0]


def test_pregnancy_code_on_a_child_is_an_mce_maternity_conflict() -> None:
    child = make_patient(birth=years_ago(6))
    f = facts_for(
        make_encounter(patient=child, diagnoses=["Z34.90"], lines=[make_line("99213", ["Z34.90"])])
    )
    flag = _one(diagnosis_age.outside_age_group(f, 1, "Z34.90", "Z3490"))
    assert (flag.edit, flag.severity, flag.line) == ("DX-AGE", HOLD, None)
    assert "'Z34.90' is a maternity code (ages 9-64;" in flag.message
    assert "the patient is 6" in flag.message
    adult = make_patient(birth=years_ago(28))
    f = facts_for(
        make_encounter(patient=adult, diagnoses=["Z34.90"], lines=[make_line("99213", ["Z34.90"])])
    )
    assert diagnosis_age.outside_age_group(f, 1, "Z34.90", "Z3490") == []


def test_psa_for_a_female_patient_holds_its_line_unless_kx() -> None:
    lines = [make_line("99213", ["I10"]), make_line("84153", ["I10"])]
    f = facts_for(make_encounter(diagnoses=["I10"], lines=lines))
    flag = _one(procedure_sex.other_sex(f))
    assert (flag.edit, flag.line) == ("PROC-SEX", 2)
    assert flag.message == (
        "line 2: '84153' is a procedure for male patients but the patient is female"
    )
    assert "modifier KX" in flag.fix
    lines[1] = make_line("84153", ["I10"], mods=["KX"])
    f = facts_for(make_encounter(diagnoses=["I10"], lines=lines))
    assert procedure_sex.other_sex(f) == []
    male = make_patient(sex=Sex.male)
    f = facts_for(make_encounter(patient=male, diagnoses=["I10"], lines=lines[:1]))
    assert procedure_sex.other_sex(f) == []


def test_bmi_listed_first_holds() -> None:
    dx = ["Z68.41", "E66.01"]
    f = facts_for(make_encounter(diagnoses=dx, lines=[make_line("99213", dx)]))
    flag = _one(diagnosis_sequence.first_listed(f))
    assert (flag.edit, flag.severity) == ("DX-FIRST-LISTED", HOLD)
    assert "'Z68.41' is a BMI code" in flag.message


def test_problem_em_pointing_only_at_a_routine_exam_holds() -> None:
    f = facts_for(make_encounter(diagnoses=["Z00.00"], lines=[make_line("99213", ["Z00.00"])]))
    flag = _one(dx_fit.problem_without_problem(f))
    assert (flag.edit, flag.line) == ("DX-FIT-PROBLEM", 1)
    assert "points only at routine-exam, screening or immunization codes ('Z00.00')" in (
        flag.message
    )
    dx = ["Z00.00", "I10"]
    f = facts_for(make_encounter(diagnoses=dx, lines=[make_line("99213", dx)]))
    assert dx_fit.problem_without_problem(f) == []


def test_preventive_visit_needs_the_exam_code_of_the_patients_band() -> None:
    teen = make_patient(birth=years_ago(15))
    f = facts_for(
        make_encounter(patient=teen, diagnoses=["Z00.00"], lines=[make_line("99394", ["Z00.00"])])
    )
    flag = _one(dx_fit.preventive_without_exam(f))
    assert (flag.edit, flag.line) == ("DX-FIT-PREVENTIVE", 1)
    assert "the patient's age calls for Z00.12-" in flag.message
    assert flag.fix == "point line 1 at Z00.12- first"
    f = facts_for(
        make_encounter(patient=teen, diagnoses=["J30.9"], lines=[make_line("99394", ["J30.9"])])
    )
    assert "points at no routine-exam or screening code" in (
        _one(dx_fit.preventive_without_exam(f)).message
    )


def test_vaccine_administration_needs_a_product_and_z23() -> None:
    f = facts_for(make_encounter(diagnoses=["Z23"], lines=[make_line("90471", ["Z23"])]))
    flag = _one(vaccines.product_and_diagnosis(f))
    assert (flag.edit, flag.severity, flag.line) == ("VACCINE-PRODUCT", HOLD, 1)
    lines = [make_line("90471", ["J06.9"]), make_line("90686", ["J06.9"])]
    f = facts_for(make_encounter(diagnoses=["J06.9"], lines=lines))
    found = vaccines.product_and_diagnosis(f)
    assert [(x.edit, x.line) for x in found] == [("VACCINE-DX", 1), ("VACCINE-DX", 2)]
    f = facts_for(make_encounter(diagnoses=["Z23"], lines=[make_line("90686", ["Z23"])]))
    assert _one(vaccines.product_and_diagnosis(f)).severity == WARN


def test_counseling_administration_is_through_18() -> None:
    lines = [make_line("90460", ["Z23"]), make_line("90715", ["Z23"])]
    f = facts_for(make_encounter(diagnoses=["Z23"], lines=lines))  # 45 years old
    flag = _one(vaccines.administration_code(f))
    assert (flag.edit, flag.line) == ("VACCINE-ADMIN-CODE", 1)
    assert flag.fix == "use 90471 (and 90472 for each additional vaccine)"


def test_a1c_pointing_at_a_sore_throat_lacks_medical_necessity() -> None:
    lines = [make_line("99213", ["J02.9"]), make_line("83036", ["J02.9"])]
    f = facts_for(make_encounter(diagnoses=["J02.9"], lines=lines))
    flag = _one(necessity.unsupported_tests(f))
    assert (flag.edit, flag.severity, flag.line) == ("DX-NECESSITY", HOLD, 2)
    lines[1] = make_line("83036", ["J02.9"], mods=["GA"])
    f = facts_for(make_encounter(diagnoses=["J02.9"], lines=lines))
    assert _one(necessity.unsupported_tests(f)).severity == WARN


def test_npi_taxonomy_and_payer_are_checked() -> None:
    enc = make_encounter(diagnoses=["I10"], lines=[make_line("99213", ["I10"])])
    bad = Provider.model_construct(npi="1234567890", name="DOC", taxonomy="X07Q00000X")
    f = facts_for(enc.model_copy(update={"rendering_provider": bad}))
    found = identifiers.provider_ids(f)
    assert [(x.edit, x.line) for x in found] == [("NPI-INVALID", None), ("TAXONOMY-INVALID", None)]
    assert "rendering provider's NPI fails the NPI check digit" in found[0].message
    assert identifiers.payer_ids(f) == []
    f = facts_for(enc, payer_id="ZZZ99")
    flag = _one(identifiers.payer_ids(f))
    assert flag.message.startswith("payer id 'ZZZ99' is not in the payer list")
