"""The coding scrubber: each edit fires on a claim broken for it; a clean claim passes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from schemas.common import (
    Address,
    Coverage,
    Documentation,
    Person,
    Provider,
    Relationship,
    ServiceLine,
    Sex,
    VisitType,
)
from schemas.events import ClaimCoded, ClaimHeld, EligibilityChecked, EncounterCreated, Stage
from services.coding import codesets
from services.coding.edits.em_multiple import FIX_ADD_25
from services.coding.edits.em_preventive import preventive_code_for
from services.coding.edits.facts import age_on
from services.coding.scrub import scrub

pytestmark = pytest.mark.unit

DOS = dt.date(2026, 4, 6)
ADDR = Address(line1="12 TEST LN", city="TESTVILLE", state="VT", postal_code="05601")
PATIENT_FIRST, PATIENT_LAST, MRN = "TESTFIRST", "TESTLAST", "MRN99887766"


def _years_ago(years: int, days: int = 10) -> dt.date:
    return DOS.replace(year=DOS.year - years) - dt.timedelta(days=days)


ADULT_BIRTH = _years_ago(45)


def _patient(birth: dt.date = ADULT_BIRTH, sex: Sex = Sex.female) -> Person:
    return Person(
        id=MRN,
        first_name=PATIENT_FIRST,
        last_name=PATIENT_LAST,
        birth_date=birth,
        sex=sex,
        address=ADDR,
    )


def _line(
    code: str,
    dx: list[str] | None = None,
    mods: list[str] | None = None,
    charge: int = 10000,
    units: int = 1,
) -> ServiceLine:
    return ServiceLine(
        procedure_code=code,
        modifiers=mods or [],
        units=units,
        charge_cents=charge,
        diagnosis_codes=dx or [],
    )


def _encounter(
    *,
    diagnoses: list[str] | None = None,
    lines: list[ServiceLine] | None = None,
    patient: Person | None = None,
    new_patient: bool = False,
    visit_type: VisitType = VisitType.problem,
    coverages: list[Coverage] | None = None,
    mdm: str | None = "moderate",
    minutes: int | None = 32,
    dos: dt.date = DOS,
) -> EncounterCreated:
    cov = Coverage(
        payer_id="PPO01",
        payer_name="BLUE MEADOW PPO",
        member_id="BMP123456789",
        plan="BLUE MEADOW PPO GOLD",
        effective_date=dt.date(2024, 1, 1),
    )
    prov = Provider(npi="1234567893", name="DOC", first_name="TEST", taxonomy="207Q00000X")
    bill = Provider(
        npi="1234567893", name="MAPLE FAMILY MEDICINE", tax_id="123456789", address=ADDR
    )
    return EncounterCreated(
        encounter_id="E-1",
        patient=patient or _patient(),
        coverages=[cov] if coverages is None else coverages,
        rendering_provider=prov,
        billing_provider=bill,
        place_of_service="11",
        date_of_service=dos,
        diagnoses=diagnoses or ["I10", "E78.5"],
        lines=lines
        or [
            _line("99214", ["I10", "E78.5"], charge=22000),
            _line("36415", ["E78.5"], charge=2500),
            _line("80061", ["E78.5"], charge=5500),
        ],
        documentation=Documentation(
            visit_type=visit_type, new_patient=new_patient, mdm_level=mdm, total_minutes=minutes
        ),
    )


def _checked(enc: EncounterCreated, **kw: Any) -> EligibilityChecked:
    args: dict[str, Any] = {
        "claim_id": "C000000000000001",
        "encounter_id": enc.encounter_id,
        "active": True,
        "payer_id": "PPO01",
        "payer_name": "BLUE MEADOW PPO",
        "encounter": enc,
    }
    args.update(kw)
    return EligibilityChecked(**args)


def _held(enc: EncounterCreated, **kw: Any) -> ClaimHeld:
    result = scrub(_checked(enc, **kw))
    assert isinstance(result, ClaimHeld), result
    assert result.stage is Stage.coding
    for f in result.findings:
        assert PATIENT_FIRST not in f.message
        assert PATIENT_LAST not in f.message
        assert MRN not in f.message
    return result


def _has(result: ClaimCoded | ClaimHeld, edit: str, severity: str, line: int | None) -> None:
    hits = [
        f for f in result.findings if f.edit == edit and f.severity == severity and f.line == line
    ]
    assert hits, f"no {edit}/{severity}/line {line} in {result.findings}"
    if severity == "hold":
        assert isinstance(result, ClaimHeld)
        assert any(r.code == edit and r.fix for r in result.reasons)


# --------------------------------------------------------------------------- clean claim


def test_clean_claim_passes_with_no_findings() -> None:
    enc = _encounter()
    result = scrub(_checked(enc))
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


def test_line_without_diagnoses_points_at_first() -> None:
    enc = _encounter(lines=[_line("99213", ["I10"]), _line("93000")])
    result = scrub(_checked(enc))
    assert isinstance(result, ClaimCoded)
    assert result.lines[1].diagnosis_pointers == [1]


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
    result = scrub(_checked(_encounter(coverages=[sec, prim])))
    assert isinstance(result, ClaimCoded)
    assert result.coverage == prim


def test_preventive_plus_problem_with_25_is_clean() -> None:
    enc = _encounter(
        diagnoses=["Z00.01", "J02.9"],
        lines=[_line("99396", ["Z00.01"]), _line("99213", ["J02.9"], ["25"])],
        visit_type=VisitType.preventive,
        mdm="low",
        minutes=None,
    )
    result = scrub(_checked(enc))
    assert isinstance(result, ClaimCoded), result
    assert result.findings == []


# --------------------------------------------------------------------------- diagnoses


def test_dx_invalid() -> None:
    enc = _encounter(diagnoses=["I10", "Q99.99X"], lines=[_line("99214", ["I10", "Q99.99X"])])
    _has(_held(enc), "DX-INVALID", "hold", None)


def test_dx_invalid_for_chapter_or_block_names() -> None:
    enc = _encounter(diagnoses=["I10", "I10-I1A"], lines=[_line("99214", ["I10"])])
    _has(_held(enc), "DX-INVALID", "hold", None)


def test_dx_not_billable() -> None:
    enc = _encounter(diagnoses=["E11"], lines=[_line("99214", ["E11"])])
    _has(_held(enc), "DX-NOT-BILLABLE", "hold", None)


def test_dotless_codes_are_accepted() -> None:
    enc = _encounter(diagnoses=["E119"], lines=[_line("99214", ["E119"])])
    result = scrub(_checked(enc))
    assert isinstance(result, ClaimCoded)


@pytest.mark.parametrize("first", ["W19.XXXA", "Y93.01"])
def test_dx_first_listed_external_cause(first: str) -> None:
    enc = _encounter(diagnoses=[first, "S93.401A"], lines=[_line("99213", [first, "S93.401A"])])
    _has(_held(enc), "DX-FIRST-LISTED", "hold", None)


@pytest.mark.parametrize("first", ["G63", "F02.80", "B95.0"])
def test_dx_first_listed_manifestation_or_supplementary(first: str) -> None:
    enc = _encounter(diagnoses=[first, "E11.42"], lines=[_line("99213", [first, "E11.42"])])
    _has(_held(enc), "DX-FIRST-LISTED", "hold", None)


def test_manifestation_second_is_fine() -> None:
    enc = _encounter(diagnoses=["E11.42", "G63"], lines=[_line("99214", ["E11.42", "G63"])])
    assert isinstance(scrub(_checked(enc)), ClaimCoded)


def test_dx_first_listed_code_first_note_warns() -> None:
    # H72.1-: "code first any associated otitis media (H65.-, H66.1-...)"
    enc = _encounter(diagnoses=["H72.11", "H66.91"], lines=[_line("99213", ["H72.11", "H66.91"])])
    result = scrub(_checked(enc))
    _has(result, "DX-FIRST-LISTED", "warn", None)
    assert isinstance(result, ClaimCoded)


def test_dx_sex_pregnancy_for_male() -> None:
    enc = _encounter(
        patient=_patient(sex=Sex.male), diagnoses=["Z34.90"], lines=[_line("99213", ["Z34.90"])]
    )
    _has(_held(enc), "DX-SEX", "hold", None)


@pytest.mark.parametrize("code", ["O26.891", "Z3A.20"])
def test_dx_sex_maternal_chapter_for_male(code: str) -> None:
    enc = _encounter(
        patient=_patient(sex=Sex.male),
        diagnoses=["Z34.90", code],
        lines=[_line("99213", ["Z34.90", code])],
    )
    held = _held(enc)
    assert sum(f.edit == "DX-SEX" for f in held.findings) == 2


def test_dx_sex_prostate_for_female() -> None:
    enc = _encounter(
        patient=_patient(sex=Sex.female), diagnoses=["N40.0"], lines=[_line("99213", ["N40.0"])]
    )
    _has(_held(enc), "DX-SEX", "hold", None)


def test_dx_sex_unknown_sex_is_not_checked() -> None:
    enc = _encounter(
        patient=_patient(sex=Sex.unknown), diagnoses=["N40.0"], lines=[_line("99213", ["N40.0"])]
    )
    assert isinstance(scrub(_checked(enc)), ClaimCoded)


def test_dx_age_perinatal_code_after_28_days() -> None:
    enc = _encounter(
        patient=_patient(birth=DOS - dt.timedelta(days=45)),
        diagnoses=["P59.9"],
        lines=[_line("99213", ["P59.9"])],
    )
    _has(_held(enc), "DX-AGE", "hold", None)


def test_dx_age_perinatal_code_in_newborn_is_fine() -> None:
    enc = _encounter(
        patient=_patient(birth=DOS - dt.timedelta(days=10)),
        new_patient=True,
        diagnoses=["P59.9"],
        lines=[_line("99203", ["P59.9"])],
    )
    assert isinstance(scrub(_checked(enc)), ClaimCoded)


def test_dx_duplicate_warns() -> None:
    enc = _encounter(diagnoses=["I10", "I10"], lines=[_line("99213", ["I10"])])
    result = scrub(_checked(enc))
    _has(result, "DX-DUPLICATE", "warn", None)
    assert isinstance(result, ClaimCoded)


# --------------------------------------------------------------------------- procedures


def test_proc_invalid() -> None:
    enc = _encounter(lines=[_line("99214", ["I10"]), _line("9921A", ["I10"])])
    _has(_held(enc), "PROC-INVALID", "hold", 2)


def test_proc_unknown_warns_but_flows() -> None:
    enc = _encounter(lines=[_line("99214", ["I10"]), _line("12345", ["I10"])])
    result = scrub(_checked(enc))
    _has(result, "PROC-UNKNOWN", "warn", 2)
    assert isinstance(result, ClaimCoded)


def test_hcpcs_known_and_unknown() -> None:
    assert codesets.is_known_procedure("J1030")
    assert codesets.procedure_description("G0439") == "Ppps, subseq visit"
    enc = _encounter(lines=[_line("99214", ["I10"]), _line("J9999", ["I10"])])
    _has(scrub(_checked(enc)), "PROC-UNKNOWN", "warn", 2)


def test_mod_invalid() -> None:
    enc = _encounter(lines=[_line("99214", ["I10"], ["ZZ"])])
    _has(_held(enc), "MOD-INVALID", "hold", 1)


def test_mod_repeated() -> None:
    enc = _encounter(lines=[_line("99214", ["I10"], ["25", "25"])])
    _has(_held(enc), "MOD-INVALID", "hold", 1)


# --------------------------------------------------------------------------- E/M


def test_em_multiple_preventive_and_problem_without_25() -> None:
    enc = _encounter(
        diagnoses=["Z00.01", "J02.9"],
        lines=[_line("99396", ["Z00.01"]), _line("99213", ["J02.9"])],
        visit_type=VisitType.preventive,
    )
    held = _held(enc)
    _has(held, "EM-MULTIPLE", "hold", 2)
    assert any(r.code == "EM-MULTIPLE" and r.fix == FIX_ADD_25 for r in held.reasons)


def test_em_multiple_two_problem_visits() -> None:
    enc = _encounter(lines=[_line("99213", ["I10"]), _line("99214", ["E78.5"], ["25"])])
    _has(_held(enc), "EM-MULTIPLE", "hold", 2)


def test_em_multiple_two_preventive() -> None:
    enc = _encounter(
        diagnoses=["Z00.00"],
        visit_type=VisitType.preventive,
        lines=[_line("99396", ["Z00.00"]), _line("99395", ["Z00.00"])],
    )
    held = _held(enc)
    _has(held, "EM-MULTIPLE", "hold", 2)


def test_em_preventive_age_band() -> None:
    enc = _encounter(
        diagnoses=["Z00.00"], visit_type=VisitType.preventive, lines=[_line("99395", ["Z00.00"])]
    )  # patient is 45
    held = _held(enc)
    _has(held, "EM-PREVENTIVE-AGE", "hold", 1)
    assert any("99396" in r.fix for r in held.reasons)


def test_em_preventive_new_vs_established() -> None:
    enc = _encounter(
        diagnoses=["Z00.00"],
        visit_type=VisitType.preventive,
        new_patient=True,
        lines=[_line("99396", ["Z00.00"])],
    )
    _has(_held(enc), "EM-PREVENTIVE-AGE", "hold", 1)


def test_em_patient_status_office_visit() -> None:
    enc = _encounter(new_patient=True, lines=[_line("99214", ["I10"])])
    _has(_held(enc), "EM-PATIENT-STATUS", "hold", 1)


@pytest.mark.parametrize(
    ("years", "days", "new", "code"),
    [
        (0, 100, True, "99381"),
        (1, 0, False, "99392"),
        (4, 300, False, "99392"),
        (5, 0, False, "99393"),
        (11, 300, True, "99383"),
        (12, 0, False, "99394"),
        (17, 300, False, "99394"),
        (18, 0, False, "99395"),
        (39, 300, False, "99395"),
        (40, 0, False, "99396"),
        (64, 300, False, "99396"),
        (65, 0, False, "99397"),
        (90, 0, True, "99387"),
    ],
)
def test_preventive_bands(years: int, days: int, new: bool, code: str) -> None:
    birth = DOS.replace(year=DOS.year - years) - dt.timedelta(days=days)
    assert age_on(birth, DOS)[0] == years
    assert preventive_code_for(years, new) == code
    dx = "Z00.129" if years < 18 else "Z00.00"
    enc = _encounter(
        patient=_patient(birth=birth),
        diagnoses=[dx],
        new_patient=new,
        visit_type=VisitType.preventive,
        lines=[_line(code, [dx])],
    )
    result = scrub(_checked(enc))
    assert isinstance(result, ClaimCoded), result


# --------------------------------------------------------------------------- pointers, dups


def test_pointers_more_than_twelve_diagnoses() -> None:
    enc = _encounter()
    dx = [
        "I10",
        "E78.5",
        "E11.9",
        "J02.9",
        "J06.9",
        "R05.9",
        "F41.1",
        "L82.1",
        "B07.9",
        "H61.21",
        "M54.50",
        "R51.9",
        "K21.9",
    ]
    too_many = enc.model_construct(**{**dict(enc), "diagnoses": dx})
    _has(_held(too_many), "POINTERS", "hold", None)


def test_pointers_more_than_four_on_a_line() -> None:
    enc = _encounter()
    dx = ["I10", "E78.5", "E11.9", "J02.9", "J06.9"]
    line = ServiceLine.model_construct(
        procedure_code="99214", modifiers=[], units=1, charge_cents=100, diagnosis_codes=dx
    )
    bad = enc.model_construct(**{**dict(enc), "diagnoses": dx, "lines": [line]})
    _has(_held(bad), "POINTERS", "hold", 1)


def test_pointers_to_unknown_diagnosis() -> None:
    enc = _encounter()
    line = ServiceLine.model_construct(
        procedure_code="99214", modifiers=[], units=1, charge_cents=100, diagnosis_codes=["J02.9"]
    )
    bad = enc.model_construct(**{**dict(enc), "lines": [line]})
    checked = EligibilityChecked.model_construct(**{**dict(_checked(enc)), "encounter": bad})
    _has(scrub(checked), "POINTERS", "hold", 1)


def test_dup_line() -> None:
    enc = _encounter(
        lines=[_line("99214", ["I10"]), _line("85025", ["I10"]), _line("85025", ["E78.5"])]
    )
    _has(_held(enc), "DUP-LINE", "hold", 3)


def test_same_code_different_modifiers_is_not_a_dup() -> None:
    enc = _encounter(
        diagnoses=["H61.23"],
        visit_type=VisitType.procedure,
        lines=[_line("69210", ["H61.23"], ["RT"]), _line("69210", ["H61.23"], ["LT"])],
    )
    assert isinstance(scrub(_checked(enc)), ClaimCoded)


# --------------------------------------------------------------------------- header data


def test_missing_coverage_holds() -> None:
    _has(_held(_encounter(coverages=[])), "COVERAGE-MISSING", "hold", None)


def test_self_pay_needs_no_coverage() -> None:
    result = scrub(_checked(_encounter(coverages=[]), self_pay=True, payer_id=None))
    assert isinstance(result, ClaimCoded)
    assert result.coverage is None
    assert result.self_pay


def test_claim_id_too_long_holds() -> None:
    _has(_held(_encounter(), claim_id="C" * 21), "CLAIM-ID", "hold", None)


def test_birth_after_service_holds() -> None:
    enc = _encounter(patient=_patient(birth=DOS + dt.timedelta(days=3)))
    _has(_held(enc), "PATIENT-AGE", "hold", None)


def test_hold_reasons_are_the_hold_findings() -> None:
    enc = _encounter(diagnoses=["E11"], lines=[_line("99214", ["E11"]), _line("12345")])
    held = _held(enc)
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
    enc = _encounter(lines=[_line("99214", ["I10"]), _line("12345", ["I10"])])
    result = scrub(_checked(enc))
    assert isinstance(result, ClaimCoded)
    assert result.findings == []


def test_dependent_coverage_is_carried() -> None:
    sub = _patient(birth=_years_ago(40), sex=Sex.male)
    cov = Coverage(
        payer_id="PPO01",
        payer_name="BLUE MEADOW PPO",
        member_id="BMP1",
        plan="GOLD",
        effective_date=dt.date(2024, 1, 1),
        relationship=Relationship.child,
        subscriber=sub,
    )
    enc = _encounter(patient=_patient(birth=_years_ago(8)), coverages=[cov])
    result = scrub(_checked(enc))
    assert isinstance(result, ClaimCoded)
    assert result.coverage is not None
    assert result.coverage.subscriber == sub
