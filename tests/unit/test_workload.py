"""The demo's synthetic day: deterministic, realistic mix, valid, and scrubs clean."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from functools import cache

import pytest

from rcm.patients import insured
from rcm.practice import (
    BILLING_PROVIDER,
    CHARGE_MASTER,
    RENDERING_PROVIDERS,
    is_valid_npi,
    npi_check_digit,
)
from rcm.visits import visit
from rcm.workload import generate_day
from schemas.common import Relationship, VisitType
from schemas.events import ClaimCoded, EligibilityChecked, EncounterCreated
from services.coding import codesets
from services.coding.ncci import bundled_tables
from services.coding.scrub import scrub

pytestmark = pytest.mark.unit

N = 1000
EM_PREVENTIVE = codesets.EM_PREVENTIVE | {"G0438", "G0439"}


@cache
def _day() -> tuple[EncounterCreated, ...]:
    return tuple(generate_day(N, seed=42))


def _checked(i: int, enc: EncounterCreated) -> EligibilityChecked:
    primary = min(enc.coverages, key=lambda c: c.priority)
    return EligibilityChecked(
        claim_id=f"C{i:015d}",
        encounter_id=enc.encounter_id,
        active=True,
        payer_id=primary.payer_id,
        payer_name=primary.payer_name,
        plan=primary.plan,
        member_id=primary.member_id,
        encounter=enc,
    )


def test_deterministic_for_a_seed() -> None:
    a = generate_day(200, seed=7)
    b = generate_day(200, seed=7)
    assert [e.model_dump() for e in a] == [e.model_dump() for e in b]
    c = generate_day(200, seed=8)
    assert [e.model_dump() for e in a] != [e.model_dump() for e in c]


def test_encounter_stable_for_seed_and_index() -> None:
    short = generate_day(20, seed=7)
    long = generate_day(60, seed=7)
    assert [e.model_dump() for e in short] == [e.model_dump() for e in long[:20]]


def test_encounter_ids_unique() -> None:
    ids = [e.encounter_id for e in _day()]
    assert len(set(ids)) == len(ids)
    other_day = generate_day(5, seed=42, date_of_service=dt.date(2026, 4, 7))
    assert not {e.encounter_id for e in other_day} & set(ids)


def test_date_and_tenant_arguments() -> None:
    day = generate_day(10, seed=1, tenant="other", date_of_service=dt.date(2025, 11, 3))
    assert {e.date_of_service for e in day} == {dt.date(2025, 11, 3)}


def test_every_encounter_validates() -> None:
    for enc in _day():
        again = EncounterCreated.model_validate(enc.model_dump(mode="json"))
        assert again == enc


def test_every_encounter_scrubs_clean() -> None:
    """No false positives: every edit, with the bundled NCCI PTP/MUE subset applied."""
    tables = bundled_tables()
    problems: list[str] = []
    for i, enc in enumerate(_day()):
        result = scrub(_checked(i, enc), tables)
        if not isinstance(result, ClaimCoded) or result.findings:
            problems.append(f"{enc.encounter_id}: {result.findings}")
    assert not problems, "\n".join(problems[:20])


def test_the_day_exercises_the_ncci_edits() -> None:
    """The clean day is clean because it codes right, not because no edit applies: take
    away the modifiers that bypass NCCI pairs and the same encounters hold."""
    tables = bundled_tables()
    bypassed = [
        (i, e)
        for i, e in enumerate(_day())
        if any({"25", "XU"} & set(ln.modifiers) for ln in e.lines)
        and any(ln.procedure_code in ("96372", "G0438", "G0439") for ln in e.lines)
    ]
    assert len(bypassed) >= 20
    for i, enc in bypassed:
        bare = [ln.model_copy(update={"modifiers": []}) for ln in enc.lines]
        result = scrub(_checked(i, enc.model_copy(update={"lines": bare})), tables)
        assert any(f.edit == "NCCI-PTP" for f in result.findings), enc.encounter_id


def test_a_day_after_the_icd_release_only_warns_about_it() -> None:
    day = generate_day(100, seed=42, date_of_service=dt.date(2026, 11, 24))
    for i, enc in enumerate(day):
        result = scrub(_checked(i, enc), bundled_tables())
        assert isinstance(result, ClaimCoded), enc.encounter_id
        assert [f.edit for f in result.findings] == ["CODESET-VERSION"]


def test_mix_proportions() -> None:
    day = _day()
    visit = Counter(e.documentation.visit_type for e in day)
    assert 0.25 <= visit[VisitType.preventive] / N <= 0.40
    assert 0.25 <= visit[VisitType.problem] / N <= 0.50
    assert 0.12 <= visit[VisitType.chronic] / N <= 0.30
    assert visit[VisitType.procedure] > 0
    assert visit[VisitType.nurse] > 0

    codes = [{ln.procedure_code for ln in e.lines} for e in day]

    def share(pred: object) -> float:
        assert callable(pred)
        return sum(1 for c in codes if pred(c)) / N

    prev_plus_problem = [
        e for e in day
        if any(ln.procedure_code in EM_PREVENTIVE for ln in e.lines)
        and any(ln.procedure_code in codesets.EM_PROBLEM for ln in e.lines)
    ]  # fmt: skip
    assert 0.06 <= len(prev_plus_problem) / N <= 0.14
    for e in prev_plus_problem:
        problem = [ln for ln in e.lines if ln.procedure_code in codesets.EM_PROBLEM]
        assert all("25" in ln.modifiers for ln in problem)

    assert share(lambda c: c & {"G0438", "G0439"}) > 0.02
    assert share(lambda c: c & codesets.EM_PREVENTIVE) > 0.10
    assert share(lambda c: "83036" in c) > 0.02
    assert share(lambda c: "80061" in c) > 0.02
    assert share(lambda c: "36415" in c) > 0.10
    assert share(lambda c: c & {"90686", "90715", "90732"}) > 0.05
    assert share(lambda c: "96372" in c) > 0.01
    assert share(lambda c: c & {"G0444", "96127"}) > 0.03
    assert share(lambda c: "93000" in c) > 0.003
    for e in day:
        for ln in e.lines:
            assert ln.charge_cents == CHARGE_MASTER[ln.procedure_code] * ln.units


def test_payers_and_coverage_mix() -> None:
    day = _day()
    names = {"MCR01": "MEDICARE PART B SIM", "PPO01": "BLUE MEADOW PPO",
             "MCD01": "STATE MEDICAID SIM", "HDHP1": "SUMMIT HDHP",
             "MGP01": "MEDIGAP PLAN F SIM"}  # fmt: skip
    for e in day:
        for cov in e.coverages:
            assert names[cov.payer_id] == cov.payer_name
        primary = min(e.coverages, key=lambda c: c.priority)
        age = (e.date_of_service - e.patient.birth_date).days // 365
        if primary.payer_id == "MCR01":
            assert age >= 64
        if age >= 66:
            assert primary.payer_id == "MCR01"
    # Medicare patients with a second coverage: a Medigap plan, or Medicaid as a QMB
    medicare = [e for e in day if e.coverages[0].payer_id == "MCR01"]
    seconds = [e.coverages[1].plan for e in medicare if len(e.coverages) > 1]
    assert 0.25 <= len(seconds) / len(medicare) <= 0.55
    assert 0.05 <= seconds.count("STATE MEDICAID QMB") / len(medicare) <= 0.16
    assert 0.18 <= seconds.count("MEDIGAP PLAN F") / len(medicare) <= 0.42
    terminated = sum(
        1 for e in day
        if any(c.termination_date and c.termination_date < e.date_of_service
               for c in e.coverages)
    )  # fmt: skip
    assert 0.005 <= terminated / N <= 0.045
    dependents = [e for e in day if e.coverages[0].relationship is not Relationship.self_]
    assert 0.06 <= len(dependents) / N <= 0.15
    for e in dependents:
        cov = e.coverages[0]
        assert cov.relationship in (Relationship.child, Relationship.spouse)
        assert cov.subscriber is not None
        assert cov.subscriber.id != e.patient.id
    secondary = sum(1 for e in day if any(c.priority == 2 for c in e.coverages))
    assert 0.05 <= secondary / N <= 0.18  # Medicare patients most (see above)


def test_providers() -> None:
    assert BILLING_PROVIDER.name == "MAPLE FAMILY MEDICINE"
    assert BILLING_PROVIDER.tax_id is not None
    assert len(BILLING_PROVIDER.tax_id) == 9
    assert len(RENDERING_PROVIDERS) == 3
    for p in (BILLING_PROVIDER, *RENDERING_PROVIDERS):
        assert is_valid_npi(p.npi)
        assert p.taxonomy == "207Q00000X"
    for e in _day():
        assert e.place_of_service == "11"
        assert e.billing_provider == BILLING_PROVIDER
        assert e.rendering_provider in RENDERING_PROVIDERS


def test_npi_check_digit() -> None:
    # CMS's worked example: 123456789 -> check digit 3.
    assert npi_check_digit("123456789") == "3"
    assert is_valid_npi("1234567893")
    assert not is_valid_npi("1234567890")
    with pytest.raises(ValueError, match="9 digits"):
        npi_check_digit("12345")


def test_every_diagnosis_is_billable() -> None:
    used = {dx for e in _day() for dx in e.diagnoses}
    assert all(codesets.icd_is_billable(dx) for dx in used), used
    procs = {ln.procedure_code for e in _day() for ln in e.lines}
    assert all(codesets.is_known_procedure(p) for p in procs), procs


def test_an_insured_patient_is_who_their_coverage_says() -> None:
    dos = dt.date(2026, 4, 6)
    for i in range(500):
        who = insured(random.Random(i), dos)
        birth = who.patient.birth_date
        assert who.age == dos.year - birth.year - ((dos.month, dos.day) < (birth.month, birth.day))
        primary = who.coverages[0]
        assert primary.priority == 1
        assert who.medicare == (primary.payer_id == "MCR01")
        assert primary.effective_date < dos
        if who.age < 18:  # a minor's bills go to a parent
            assert who.guarantor is not None
            assert who.guarantor.last_name == who.patient.last_name
            assert (dos - who.guarantor.birth_date).days >= 20 * 365
        else:
            assert who.guarantor is None


def test_a_visit_is_deterministic_and_bills_what_it_diagnosed() -> None:
    for i in range(300):
        args = {"age": 5 + i % 80, "medicare": i % 80 >= 60, "october_to_march": i % 2 == 0}
        v = visit(random.Random(i), **args)
        assert v == visit(random.Random(i), **args)
        assert v.lines
        for line in v.lines:
            assert set(line.diagnosis_codes) <= set(v.diagnoses)
            assert line.charge_cents == CHARGE_MASTER[line.procedure_code] * line.units
