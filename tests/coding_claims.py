"""Claims for the coding scrubber's tests: a clean office visit (45-year-old patient,
hypertension and hyperlipidemia, 99214 with labs) that each test breaks for one edit.
Synthetic data only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from schemas.common import (
    Address,
    Coverage,
    Documentation,
    Person,
    Provider,
    ServiceLine,
    Sex,
    VisitType,
)
from schemas.events import ClaimCoded, ClaimHeld, EligibilityChecked, EncounterCreated, Stage
from services.coding.edits.facts import ClaimFacts, PriorService, claim_facts
from services.coding.ncci import EMPTY, EditTables
from services.coding.scrub import scrub

DOS = dt.date(2026, 4, 6)
ADDR = Address(line1="12 TEST LN", city="TESTVILLE", state="VT", postal_code="05601")
PATIENT_FIRST, PATIENT_LAST, MRN = "TESTFIRST", "TESTLAST", "MRN99887766"


def years_ago(years: int, days: int = 10) -> dt.date:
    return DOS.replace(year=DOS.year - years) - dt.timedelta(days=days)


ADULT_BIRTH = years_ago(45)


def make_patient(birth: dt.date = ADULT_BIRTH, sex: Sex = Sex.female) -> Person:
    return Person(
        id=MRN,
        first_name=PATIENT_FIRST,
        last_name=PATIENT_LAST,
        birth_date=birth,
        sex=sex,
        address=ADDR,
    )


def make_line(
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


def make_encounter(
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
        patient=patient or make_patient(),
        coverages=[cov] if coverages is None else coverages,
        rendering_provider=prov,
        billing_provider=bill,
        place_of_service="11",
        date_of_service=dos,
        diagnoses=diagnoses or ["I10", "E78.5"],
        lines=lines
        or [
            make_line("99214", ["I10", "E78.5"], charge=22000),
            make_line("36415", ["E78.5"], charge=2500),
            make_line("80061", ["E78.5"], charge=5500),
        ],
        documentation=Documentation(
            visit_type=visit_type, new_patient=new_patient, mdm_level=mdm, total_minutes=minutes
        ),
    )


def checked_claim(enc: EncounterCreated, **kw: Any) -> EligibilityChecked:
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


def held_claim(enc: EncounterCreated, **kw: Any) -> ClaimHeld:
    result = scrub(checked_claim(enc, **kw))
    assert isinstance(result, ClaimHeld), result
    assert result.stage is Stage.coding
    for f in result.findings:
        assert PATIENT_FIRST not in f.message
        assert PATIENT_LAST not in f.message
        assert MRN not in f.message
    return result


def has_finding(result: ClaimCoded | ClaimHeld, edit: str, severity: str, line: int | None) -> None:
    hits = [
        f for f in result.findings if f.edit == edit and f.severity == severity and f.line == line
    ]
    assert hits, f"no {edit}/{severity}/line {line} in {result.findings}"
    if severity == "hold":
        assert isinstance(result, ClaimHeld)
        assert any(r.code == edit and r.fix for r in result.reasons)


def facts_for(
    enc: EncounterCreated,
    *,
    tables: EditTables = EMPTY,
    history: Sequence[PriorService] = (),
    **kw: Any,
) -> ClaimFacts:
    """The facts one edit family reads, for ``enc`` as eligibility passed it on. ``enc``
    may break the contract (built with ``model_construct``), as a bad claim would."""
    checked = EligibilityChecked.model_construct(
        **{**dict(checked_claim(make_encounter(), **kw)), "encounter": enc}
    )
    return claim_facts(checked, tables, history)
