"""Each edit family of services/coding/edits/ alone, on a claim a coder would recognise:
the finding it reports (edit id, severity, line, message, fix), and silence on the
claim done right. Whole claims through scrub(): test_coding_scrub*.py."""

from __future__ import annotations

import datetime as dt

import pytest

from schemas.common import ServiceLine, Sex, VisitType
from services.coding.edits import (
    awv_frequency,
    claim_data,
    codeset_version,
    diagnosis_age,
    diagnosis_codes,
    diagnosis_sequence,
    diagnosis_sex,
    duplicate_lines,
    em_level,
    em_multiple,
    em_patient_status,
    em_preventive,
    modifiers,
    mue,
    ncci_ptp,
    pointers,
    procedure_codes,
)
from services.coding.edits.facts import ClaimFacts, PriorService
from services.coding.edits.flag import HOLD, WARN, Flag
from services.coding.ncci import EditTables, MueEdit, PtpEdit
from tests.coding_claims import DOS, facts_for, make_encounter, make_line, make_patient

pytestmark = pytest.mark.unit


def _one(found: list[Flag]) -> Flag:
    assert len(found) == 1, found
    return found[0]


def _dx_edit(f: ClaimFacts, n: int) -> tuple[ClaimFacts, int, str, str]:
    key = f.keys[n - 1]
    assert key is not None
    return f, n, f.diagnoses[n - 1], key


def _on_line(found: list[Flag], n: int) -> list[Flag]:
    return [flag for flag in found if flag.line == n]


# --------------------------------------------------------------------------- claim data


def test_codeset_version_warns_for_a_visit_before_the_release() -> None:
    f = facts_for(make_encounter(dos=dt.date(2019, 5, 1)))
    flag = _one(codeset_version.release_in_force(f))
    assert (flag.edit, flag.severity, flag.line) == ("CODESET-VERSION", WARN, None)
    assert "date of service 2019-05-01 is in ICD-10-CM FY2019" in flag.message
    assert flag.fix == "load the ICD-10-CM release in force on the date of service"
    assert codeset_version.release_in_force(facts_for(make_encounter())) == []


def test_patient_age_holds_a_birth_date_after_the_visit() -> None:
    f = facts_for(make_encounter(patient=make_patient(birth=DOS + dt.timedelta(days=3))))
    flag = _one(claim_data.birth_after_service(f))
    assert (flag.edit, flag.severity) == ("PATIENT-AGE", HOLD)
    assert flag.message == "date of birth is after the date of service"


def test_claim_id_longer_than_the_patient_control_number_holds() -> None:
    flag = _one(claim_data.claim_id_length(facts_for(make_encounter(), claim_id="C" * 21)))
    assert (flag.edit, flag.severity) == ("CLAIM-ID", HOLD)
    assert "21 characters; the patient control number allows 1-20" in flag.message


def test_coverage_missing_unless_self_pay() -> None:
    no_coverage = make_encounter(coverages=[])
    flag = _one(claim_data.coverage_missing(facts_for(no_coverage)))
    assert (flag.edit, flag.severity) == ("COVERAGE-MISSING", HOLD)
    assert flag.message == "no coverage on the encounter and the encounter is not self-pay"
    no_payer = _one(claim_data.coverage_missing(facts_for(make_encounter(), payer_id=None)))
    assert no_payer.message.startswith("no payer id")
    self_pay = facts_for(no_coverage, self_pay=True, payer_id=None)
    assert claim_data.coverage_missing(self_pay) == []


def test_claim_invalid_names_the_problem() -> None:
    flag = claim_data.claim_invalid("lines.0.units: too many")
    assert (flag.edit, flag.severity) == ("CLAIM-INVALID", HOLD)
    assert flag.message == "the claim cannot be built: lines.0.units: too many"


# --------------------------------------------------------------------------- diagnoses


def test_diagnosis_header_code_and_invalid_code_hold() -> None:
    f = facts_for(make_encounter(diagnoses=["E11", "Q99.99X"], lines=[make_line("99214", ["E11"])]))
    header = _one(diagnosis_codes.invalid_or_header(f, 1, "E11", f.keys[0]))
    assert (header.edit, header.severity, header.line) == ("DX-NOT-BILLABLE", HOLD, None)
    assert "diagnosis 1 'E11' is a header code, not billable" in header.message
    invalid = _one(diagnosis_codes.invalid_or_header(f, 2, "Q99.99X", f.keys[1]))
    assert invalid.edit == "DX-INVALID"
    assert invalid.message == "diagnosis 2 'Q99.99X' is not an ICD-10-CM code"


def test_diagnosis_listed_twice_warns() -> None:
    f = facts_for(make_encounter(diagnoses=["I10", "I10"], lines=[make_line("99213", ["I10"])]))
    assert diagnosis_codes.duplicate(*_dx_edit(f, 1)) == []
    flag = _one(diagnosis_codes.duplicate(*_dx_edit(f, 2)))
    assert (flag.edit, flag.severity) == ("DX-DUPLICATE", WARN)
    assert flag.message == "diagnosis 2 'I10' repeats diagnosis 1"


def test_pregnancy_code_for_a_male_patient_holds() -> None:
    enc = make_encounter(
        patient=make_patient(sex=Sex.male),
        diagnoses=["Z34.90"],
        lines=[make_line("99213", ["Z34.90"])],
    )
    flag = _one(diagnosis_sex.other_sex(*_dx_edit(facts_for(enc), 1)))
    assert (flag.edit, flag.severity) == ("DX-SEX", HOLD)
    assert "'Z34.90' is for female patients" in flag.message
    assert "the patient is male" in flag.message


def test_prostate_code_for_a_female_patient_holds() -> None:
    enc = make_encounter(diagnoses=["N40.0"], lines=[make_line("99213", ["N40.0"])])
    flag = _one(diagnosis_sex.other_sex(*_dx_edit(facts_for(enc), 1)))
    assert "'N40.0' is for male patients (male genital) but the patient is female" in (flag.message)


def test_perinatal_code_holds_after_the_first_year_as_in_cms_mce() -> None:
    """CMS's MCE puts perinatal codes in its newborn group, age 0 (the whole first
    year): a 45-day-old's P59.9 is no age conflict; a 14-month-old's is."""

    def jaundice(age_days: int) -> ClaimFacts:
        patient = make_patient(birth=DOS - dt.timedelta(days=age_days))
        enc = make_encounter(
            patient=patient, diagnoses=["P59.9"], lines=[make_line("99213", ["P59.9"])]
        )
        return facts_for(enc)

    flag = _one(diagnosis_age.outside_age_group(*_dx_edit(jaundice(425), 1)))
    assert (flag.edit, flag.severity) == ("DX-AGE", HOLD)
    assert "'P59.9' is a newborn code (age 0;" in flag.message
    assert "the patient is 1" in flag.message
    assert diagnosis_age.outside_age_group(*_dx_edit(jaundice(45), 1)) == []
    assert diagnosis_age.outside_age_group(*_dx_edit(jaundice(10), 1)) == []


def test_external_cause_listed_first_holds() -> None:
    dx = ["W19.XXXA", "S93.401A"]
    f = facts_for(make_encounter(diagnoses=dx, lines=[make_line("99213", dx)]))
    flag = _one(diagnosis_sequence.first_listed(f))
    assert (flag.edit, flag.severity) == ("DX-FIRST-LISTED", HOLD)
    assert "'W19.XXXA' is an external cause code (V00-Y99)" in flag.message


def test_code_first_note_naming_a_later_diagnosis_warns() -> None:
    # H72.1- (attic perforation): "code first any associated otitis media"
    dx = ["H72.11", "H66.91"]
    f = facts_for(make_encounter(diagnoses=dx, lines=[make_line("99213", dx)]))
    flag = _one(diagnosis_sequence.first_listed(f))
    assert (flag.edit, flag.severity) == ("DX-FIRST-LISTED", WARN)
    assert "diagnosis 2 'H66.91' may belong first" in flag.message


# --------------------------------------------------------------------------- lines


def test_malformed_and_unknown_procedure_codes() -> None:
    f = facts_for(make_encounter(lines=[make_line("9921A", ["I10"]), make_line("12345", ["I10"])]))
    bad = _one(_on_line(procedure_codes.invalid_or_unknown(f), 1))
    assert (bad.edit, bad.severity, bad.line) == ("PROC-INVALID", HOLD, 1)
    assert bad.message == "line 1: '9921A' is not a CPT or HCPCS Level II code"
    unknown = _one(_on_line(procedure_codes.invalid_or_unknown(f), 2))
    assert (unknown.edit, unknown.severity, unknown.line) == ("PROC-UNKNOWN", WARN, 2)


def test_unknown_and_repeated_modifiers_hold() -> None:
    f = facts_for(
        make_encounter(
            lines=[make_line("99214", ["I10"], ["ZZ"]), make_line("36415", ["I10"], ["91", "91"])]
        )
    )
    unknown = _one(_on_line(modifiers.unknown_or_repeated(f), 1))
    assert (unknown.edit, unknown.severity, unknown.line) == ("MOD-INVALID", HOLD, 1)
    assert unknown.message == "line 1: unknown modifier 'ZZ'"
    repeated = _one(_on_line(modifiers.unknown_or_repeated(f), 2))
    assert repeated.message == "line 2: a modifier is repeated"


def test_too_many_diagnoses_for_a_professional_claim() -> None:
    enc = make_encounter()
    dx = ["I10", "E78.5", "E11.9", "J02.9", "J06.9", "R05.9", "F41.1", "L82.1", "B07.9"]
    dx += ["H61.21", "M54.50", "R51.9", "K21.9"]
    flag = _one(
        pointers.diagnosis_count(facts_for(enc.model_construct(**{**dict(enc), "diagnoses": dx})))
    )
    assert (flag.edit, flag.severity, flag.line) == ("POINTERS", HOLD, None)
    assert flag.message == "13 diagnoses; a professional claim carries at most 12"


def test_line_pointing_at_a_diagnosis_not_on_the_claim_holds() -> None:
    enc = make_encounter()
    line = ServiceLine.model_construct(
        procedure_code="99214",
        modifiers=[],
        units=1,
        charge_cents=100,
        diagnosis_codes=["I10", "J02.9"],
    )
    f = facts_for(enc.model_construct(**{**dict(enc), "lines": [line]}))
    assert f.pointers[0] == [1]
    flag = _one(pointers.line_pointers(f))
    assert (flag.edit, flag.severity, flag.line) == ("POINTERS", HOLD, 1)
    assert flag.message == "line 1 names diagnosis 'J02.9', which is not on the claim"


def test_line_pointing_at_five_diagnoses_holds() -> None:
    enc = make_encounter()
    dx = ["I10", "E78.5", "E11.9", "J02.9", "J06.9"]
    line = ServiceLine.model_construct(
        procedure_code="99214", modifiers=[], units=1, charge_cents=100, diagnosis_codes=dx
    )
    f = facts_for(enc.model_construct(**{**dict(enc), "diagnoses": dx, "lines": [line]}))
    flag = _one(pointers.line_pointers(f))
    assert flag.message == "line 1 points at 5 diagnoses; at most 4"


def test_the_same_lab_billed_twice_holds() -> None:
    lines = [
        make_line("99214", ["I10"]),
        make_line("85025", ["I10"]),
        make_line("85025", ["E78.5"]),
    ]
    f = facts_for(make_encounter(lines=lines))
    flag = _one(duplicate_lines.repeated_lines(f))
    assert (flag.edit, flag.severity, flag.line) == ("DUP-LINE", HOLD, 3)
    assert flag.message == "line 3 repeats line 2 ('85025', same modifiers, same date)"


# --------------------------------------------------------------------------- E/M


def _physical(code: str, *, new_patient: bool = False) -> ClaimFacts:
    enc = make_encounter(
        diagnoses=["Z00.00"],
        visit_type=VisitType.preventive,
        new_patient=new_patient,
        lines=[make_line(code, ["Z00.00"])],
    )
    return facts_for(enc)


def test_preventive_visit_for_the_wrong_age_band_holds() -> None:
    f = _physical("99395")  # 18-39; the patient is 45
    flag = _one(em_preventive.age_band(f))
    assert (flag.edit, flag.severity, flag.line) == ("EM-PREVENTIVE-AGE", HOLD, 1)
    assert "'99395' is for ages 18-39 years" in flag.message
    assert flag.fix == "use '99396'"
    assert em_preventive.age_band(_physical("99396")) == []


def test_established_preventive_code_for_a_new_patient_holds() -> None:
    f = _physical("99396", new_patient=True)
    flag = _one(em_preventive.patient_status(f))
    assert (flag.edit, flag.severity) == ("EM-PREVENTIVE-AGE", HOLD)
    assert "the documentation says new patient" in flag.message
    assert flag.fix == "use '99386' or correct the documentation"


def test_established_office_visit_for_a_new_patient_holds() -> None:
    f = facts_for(make_encounter(new_patient=True, lines=[make_line("99214", ["I10"])]))
    flag = _one(em_patient_status.office_visit_status(f))
    assert (flag.edit, flag.severity, flag.line) == ("EM-PATIENT-STATUS", HOLD, 1)
    assert "'99214' is a established-patient office visit" in flag.message
    assert "the documentation says new patient" in flag.message


def test_physical_plus_problem_visit_needs_modifier_25() -> None:
    def visit(problem_mods: list[str]) -> ClaimFacts:
        lines = [make_line("99396", ["Z00.01"]), make_line("99213", ["J02.9"], problem_mods)]
        return facts_for(
            make_encounter(
                diagnoses=["Z00.01", "J02.9"], lines=lines, visit_type=VisitType.preventive
            )
        )

    flag = _one(em_multiple.more_than_one(visit([])))
    assert (flag.edit, flag.severity, flag.line) == ("EM-MULTIPLE", HOLD, 2)
    assert "'99213' is billed with preventive '99396'" in flag.message
    assert flag.fix == em_multiple.FIX_ADD_25
    assert em_multiple.more_than_one(visit(["25"])) == []


def test_office_visit_above_the_documented_mdm_holds() -> None:
    enc = make_encounter(mdm="low", minutes=None, lines=[make_line("99215", ["I10"])])
    flag = _one(em_level.billed_level(facts_for(enc)))
    assert (flag.edit, flag.severity, flag.line) == ("EM-LEVEL", HOLD, 1)
    assert "supports '99213'" in flag.message
    assert flag.fix.startswith("bill '99213'")


# --------------------------------------------------------------------------- NCCI, MUE, AWV

INJECTION_PAIR = PtpEdit(
    "96372", "99213", False, dt.date(2013, 1, 1), None, 1, "Misuse of column two code"
)


def test_ncci_pair_without_modifier_25_on_the_em_holds() -> None:
    tables = EditTables.build([INJECTION_PAIR], [], version="test")

    def visit(em_mods: list[str]) -> ClaimFacts:
        lines = [make_line("99213", ["I10"], em_mods), make_line("96372", ["I10"])]
        return facts_for(make_encounter(mdm="low", lines=lines), tables=tables)

    flag = _one(ncci_ptp.bundled_pairs(visit([])))
    assert (flag.edit, flag.severity, flag.line) == ("NCCI-PTP", HOLD, 1)
    assert "line 1: '99213' is bundled into '96372' (line 2)" in flag.message
    assert "modifier 25 on the E/M allows both only if the service was distinct" in flag.message
    assert ncci_ptp.bundled_pairs(visit(["25"])) == []


def test_different_sides_bypass_an_indicator_1_pair() -> None:
    right = ServiceLine(procedure_code="20610", modifiers=["RT"], charge_cents=1)
    left = ServiceLine(procedure_code="20611", modifiers=["LT"], charge_cents=1)
    assert ncci_ptp.bypassed(right, left)
    assert not ncci_ptp.bypassed(right, right)


def test_venipuncture_units_over_the_mue_hold() -> None:
    draw = MueEdit("36415", 1, 3, "Clinical", dt.date(2020, 1, 1))
    tables = EditTables.build([], [draw], version="test")
    lines = [make_line("99213", ["I10"]), make_line("36415", ["E78.5"], units=3)]
    f = facts_for(make_encounter(mdm="low", lines=lines), tables=tables)
    flag = _one(mue.units_over(f))
    assert (flag.edit, flag.severity, flag.line) == ("MUE", HOLD, 2)
    assert flag.message == (
        "line 2: 3 units of '36415' on the date of service; the medically unlikely edit "
        "allows 1 (per day, clinical)"
    )
    assert flag.fix.endswith("an appeal with records may be paid")


def test_subsequent_wellness_visit_within_a_year_holds() -> None:
    enc = make_encounter(diagnoses=["Z00.00"], lines=[make_line("G0439", ["Z00.00"])])
    last = PriorService("G0439", dt.date(2025, 6, 20), "C-OLD")
    flag = _one(awv_frequency.too_soon(facts_for(enc, history=[last])))
    assert (flag.edit, flag.severity, flag.line) == ("EM-AWV-FREQUENCY", HOLD, 1)
    assert "the patient had 'G0439' on 2025-06-20" in flag.message
    assert flag.fix == "the next wellness visit is payable from 2026-06-01"


def test_initial_wellness_visit_is_once_per_lifetime() -> None:
    enc = make_encounter(diagnoses=["Z00.00"], lines=[make_line("G0438", ["Z00.00"])])
    first = PriorService("G0438", dt.date(2019, 5, 2), "C-OLD")
    flag = _one(awv_frequency.too_soon(facts_for(enc, history=[first])))
    assert "'G0438' (initial wellness visit) is once per lifetime" in flag.message
