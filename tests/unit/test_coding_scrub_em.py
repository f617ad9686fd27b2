"""The coding scrubber's E/M, pointer and duplicate-line edits, on whole claims."""

from __future__ import annotations

import datetime as dt

import pytest

from schemas.common import ServiceLine, VisitType
from schemas.events import ClaimCoded, EligibilityChecked
from services.coding.edits.em_multiple import FIX_ADD_25
from services.coding.edits.em_preventive import preventive_code_for
from services.coding.edits.facts import age_on
from services.coding.scrub import scrub
from tests.coding_claims import (
    DOS,
    checked_claim,
    has_finding,
    held_claim,
    make_encounter,
    make_line,
    make_patient,
)

pytestmark = pytest.mark.unit


# --------------------------------------------------------------------------- E/M


def test_em_multiple_preventive_and_problem_without_25() -> None:
    enc = make_encounter(
        diagnoses=["Z00.01", "J02.9"],
        lines=[make_line("99396", ["Z00.01"]), make_line("99213", ["J02.9"])],
        visit_type=VisitType.preventive,
    )
    held = held_claim(enc)
    has_finding(held, "EM-MULTIPLE", "hold", 2)
    assert any(r.code == "EM-MULTIPLE" and r.fix == FIX_ADD_25 for r in held.reasons)


def test_em_multiple_two_problem_visits() -> None:
    enc = make_encounter(lines=[make_line("99213", ["I10"]), make_line("99214", ["E78.5"], ["25"])])
    has_finding(held_claim(enc), "EM-MULTIPLE", "hold", 2)


def test_em_multiple_two_preventive() -> None:
    enc = make_encounter(
        diagnoses=["Z00.00"],
        visit_type=VisitType.preventive,
        lines=[make_line("99396", ["Z00.00"]), make_line("99395", ["Z00.00"])],
    )
    held = held_claim(enc)
    has_finding(held, "EM-MULTIPLE", "hold", 2)


def test_em_preventive_age_band() -> None:
    enc = make_encounter(
        diagnoses=["Z00.00"],
        visit_type=VisitType.preventive,
        lines=[make_line("99395", ["Z00.00"])],
    )  # patient is 45
    held = held_claim(enc)
    has_finding(held, "EM-PREVENTIVE-AGE", "hold", 1)
    assert any("99396" in r.fix for r in held.reasons)


def test_em_preventive_new_vs_established() -> None:
    enc = make_encounter(
        diagnoses=["Z00.00"],
        visit_type=VisitType.preventive,
        new_patient=True,
        lines=[make_line("99396", ["Z00.00"])],
    )
    has_finding(held_claim(enc), "EM-PREVENTIVE-AGE", "hold", 1)


def test_em_patient_status_office_visit() -> None:
    enc = make_encounter(new_patient=True, lines=[make_line("99214", ["I10"])])
    has_finding(held_claim(enc), "EM-PATIENT-STATUS", "hold", 1)


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
    enc = make_encounter(
        patient=make_patient(birth=birth),
        diagnoses=[dx],
        new_patient=new,
        visit_type=VisitType.preventive,
        lines=[make_line(code, [dx])],
    )
    result = scrub(checked_claim(enc))
    assert isinstance(result, ClaimCoded), result


# --------------------------------------------------------------------------- pointers, dups


def test_pointers_more_than_twelve_diagnoses() -> None:
    enc = make_encounter()
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
    has_finding(held_claim(too_many), "POINTERS", "hold", None)


def test_pointers_more_than_four_on_a_line() -> None:
    enc = make_encounter()
    dx = ["I10", "E78.5", "E11.9", "J02.9", "J06.9"]
    line = ServiceLine.model_construct(
        procedure_code="99214", modifiers=[], units=1, charge_cents=100, diagnosis_codes=dx
    )
    bad = enc.model_construct(**{**dict(enc), "diagnoses": dx, "lines": [line]})
    has_finding(held_claim(bad), "POINTERS", "hold", 1)


def test_pointers_to_unknown_diagnosis() -> None:
    enc = make_encounter()
    line = ServiceLine.model_construct(
        procedure_code="99214", modifiers=[], units=1, charge_cents=100, diagnosis_codes=["J02.9"]
    )
    bad = enc.model_construct(**{**dict(enc), "lines": [line]})
    checked = EligibilityChecked.model_construct(**{**dict(checked_claim(enc)), "encounter": bad})
    has_finding(scrub(checked), "POINTERS", "hold", 1)


def test_dup_line() -> None:
    enc = make_encounter(
        lines=[
            make_line("99214", ["I10"]),
            make_line("85025", ["I10"]),
            make_line("85025", ["E78.5"]),
        ]
    )
    has_finding(held_claim(enc), "DUP-LINE", "hold", 3)


def test_same_code_different_modifiers_is_not_a_dup() -> None:
    enc = make_encounter(
        diagnoses=["H61.23"],
        visit_type=VisitType.procedure,
        lines=[make_line("69210", ["H61.23"], ["RT"]), make_line("69210", ["H61.23"], ["LT"])],
    )
    assert isinstance(scrub(checked_claim(enc)), ClaimCoded)
