"""From the registry and the payer's 271 to eligibility.checked, a hold or a retry."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from rcm.workload import generate_day
from runtime.x12 import Envelope, X12Error
from schemas.common import Coverage, Relationship
from schemas.events import EligibilityChecked, EncounterCreated
from services.eligibility.domain import (
    Held,
    Retry,
    Verify,
    from_271,
    inquiry_for,
    precheck,
    response_for,
    with_subscribers,
)
from services.eligibility.x12_270 import write_270
from services.eligibility.x12_271 import parse_271
from services.simulator.eligibility import Enrollment, Met, judge, read_270, write_271
from tests.builders import encounter
from tests.unit.factories import coverage, dependent_coverage

pytestmark = pytest.mark.unit

DOS = dt.date(2025, 3, 14)
ENV = Envelope("ZZ", "A", "ZZ", "B", "", "", 5, 5)


def ppo(**kw: Any) -> Coverage:
    kw.setdefault("member_id", "BMP123456789")
    return coverage(payer_id="PPO01", payer_name="BLUE MEADOW PPO", **kw)


def enrolled(c: Coverage, **kw: Any) -> Enrollment:
    fields: dict[str, Any] = {
        "payer_id": c.payer_id,
        "member_id": c.member_id,
        "plan": "Blue Meadow PPO",
        "effective_date": dt.date(2025, 1, 1),
        "termination_date": None,
        "subscriber_birth_date": dt.date(1980, 5, 17),
        "dependents": (),
    }
    fields.update(kw)
    return Enrollment(**fields)


def ask(enc: Any, enr: Enrollment | None, met: Met | None = None, *, final: bool = False) -> Any:
    """The whole exchange without the network: our 270, the payer's 271, our decision."""
    verify = precheck("C1", enc, list(enc.coverages))
    assert isinstance(verify, Verify)
    inq = inquiry_for(enc, verify.primary, trace="000000123")
    theirs = read_270(write_270(inq, envelope=ENV))
    text = write_271(
        theirs, judge(theirs, enr), enr, met or Met(), envelope=ENV, patient_unknown_final=final
    )
    response = response_for(parse_271(text), "000000123")
    return from_271("C1", enc, verify, response, service_types=inq.service_types)


def test_no_coverage_goes_to_self_pay_without_asking_anyone() -> None:
    out = precheck("C1", encounter(coverages=[]), [])
    assert isinstance(out, EligibilityChecked)
    assert out.self_pay
    assert out.active is None


def test_coverage_the_registry_records_as_ended_is_held_without_asking() -> None:
    enc = encounter(coverages=[ppo(termination_date=dt.date(2025, 2, 28))])
    out = precheck("C1", enc, list(enc.coverages))
    assert isinstance(out, Held)
    assert [r.code for r in out.reasons] == ["COVERAGE-ENDED"]


def test_a_lapsed_primary_with_a_secondary_in_force_verifies_the_secondary() -> None:
    lapsed = ppo(termination_date=dt.date(2025, 2, 1))
    medicaid = coverage(payer_id="MCD01", member_id="MC123456789", priority=2)
    enc = encounter(coverages=[lapsed, medicaid])
    out = precheck("C1", enc, list(enc.coverages))
    assert isinstance(out, Verify)
    assert (out.primary.payer_id, out.secondary) == ("MCD01", None)


def test_an_active_ppo_member_gets_copay_deductible_left_coinsurance_and_oop_left() -> None:
    enc = encounter(coverages=[ppo()])
    out = ask(enc, enrolled(enc.coverages[0]), Met(deductible_met_cents=12000, oop_met_cents=30000))
    assert isinstance(out, EligibilityChecked)
    assert out.active is True
    assert out.payer_id == "PPO01"
    assert out.copay_cents == 2500
    assert out.deductible_remaining_cents == 50000 - 12000
    assert out.coinsurance_percent == Decimal(20)
    assert out.out_of_pocket_remaining_cents == 400000 - 30000


def test_a_well_visit_takes_the_well_visit_copay_not_the_office_one() -> None:
    enc = encounter(coverages=[ppo()], documentation={"visit_type": "preventive"})
    out = ask(enc, enrolled(enc.coverages[0]))
    assert isinstance(out, EligibilityChecked)
    assert out.copay_cents == 0


def test_medicare_has_no_copay_and_reports_the_part_b_deductible_left() -> None:
    c = coverage(payer_id="MCR01", payer_name="MEDICARE PART B SIM", member_id="1EG4TE5MK72")
    enc = encounter(coverages=[c])
    out = ask(enc, enrolled(c, plan="Medicare Part B"), Met(deductible_met_cents=25700))
    assert isinstance(out, EligibilityChecked)
    assert (out.copay_cents, out.deductible_remaining_cents) == (None, 0)
    assert out.coinsurance_percent == Decimal(20)
    assert out.out_of_pocket_remaining_cents is None


def test_the_payer_saying_the_coverage_ended_holds_the_claim_with_the_end_date() -> None:
    enc = encounter(coverages=[ppo()])  # the registry has no end date; the payer does
    out = ask(enc, enrolled(enc.coverages[0], termination_date=dt.date(2025, 2, 28)))
    assert isinstance(out, Held)
    [reason] = out.reasons
    assert reason.code == "COVERAGE-ENDED"
    assert "2025-02-28" in reason.message
    assert "current coverage" in reason.fix


def test_the_payer_saying_the_coverage_has_not_started_holds_the_claim() -> None:
    enc = encounter(coverages=[ppo()])
    out = ask(enc, enrolled(enc.coverages[0], effective_date=dt.date(2025, 4, 1)))
    assert isinstance(out, Held)
    assert [r.code for r in out.reasons] == ["COVERAGE-NOT-YET-EFFECTIVE"]


def test_a_dependent_on_the_roster_is_active() -> None:
    c = dependent_coverage(payer_id="PPO01", payer_name="BLUE MEADOW PPO", member_id="BMP123456789")
    enc = encounter(coverages=[c])
    enr = enrolled(c, subscriber_birth_date=dt.date(1978, 2, 2), dependents=(dt.date(1980, 5, 17),))
    out = ask(enc, enr)
    assert isinstance(out, EligibilityChecked)
    assert out.active is True


def test_a_dependent_not_on_the_roster_is_retried_then_not_found() -> None:
    c = dependent_coverage(payer_id="PPO01", payer_name="BLUE MEADOW PPO", member_id="BMP123456789")
    enc = encounter(coverages=[c])
    enr = enrolled(c, subscriber_birth_date=dt.date(1978, 2, 2))
    assert isinstance(ask(enc, enr), Retry)
    out = ask(enc, enr, final=True)
    assert isinstance(out, Held)
    assert [r.code for r in out.reasons] == ["AAA-67"]
    assert "loop 2100D" in out.reasons[0].message


def test_an_unknown_member_is_retried_while_the_roster_may_lag_then_not_found() -> None:
    enc = encounter(coverages=[ppo()])
    first = ask(enc, None)
    assert isinstance(first, Retry)
    assert "AAA 42" in first.reason
    out = ask(enc, None, final=True)
    assert isinstance(out, Held)
    assert [r.code for r in out.reasons] == ["AAA-75"]
    assert "member id" in out.reasons[0].fix


def test_a_malformed_member_id_is_rejected_72_with_what_to_fix() -> None:
    enc = encounter(coverages=[ppo(member_id="BMP12")])
    out = ask(enc, None)
    assert isinstance(out, Held)
    [reason] = out.reasons
    assert reason.code == "AAA-72"
    assert "insurance card" in reason.fix
    assert "BMP12" not in reason.message  # no member id in what people and logs see


def test_a_payer_the_clearinghouse_does_not_serve_is_rejected_79() -> None:
    enc = encounter(coverages=[coverage(payer_id="ACME1")])
    out = ask(enc, None)
    assert isinstance(out, Held)
    assert [r.code for r in out.reasons] == ["AAA-79"]
    assert "payer id" in out.reasons[0].fix


def test_a_subscriber_birth_date_that_does_not_match_is_rejected_71() -> None:
    enc = encounter(coverages=[ppo()])
    out = ask(enc, enrolled(enc.coverages[0], subscriber_birth_date=dt.date(1981, 1, 1)))
    assert isinstance(out, Held)
    assert [r.code for r in out.reasons] == ["AAA-71"]


def test_a_271_answering_another_inquiry_is_unexpected() -> None:
    enc = encounter(coverages=[ppo()])
    verify = precheck("C1", enc, list(enc.coverages))
    assert isinstance(verify, Verify)
    theirs = read_270(write_270(inquiry_for(enc, verify.primary, trace="1"), envelope=ENV))
    enr = enrolled(enc.coverages[0])
    text = write_271(theirs, judge(theirs, enr), enr, Met(), envelope=ENV)
    with pytest.raises(X12Error, match="no TRN\\*2 with trace 2"):
        response_for(parse_271(text), "2")


def test_secondary_coverage_is_recorded_for_coordination_of_benefits() -> None:
    medicare = coverage(payer_id="MCR01", member_id="1EG4TE5MK72", relationship=Relationship.self_)
    medicaid = coverage(payer_id="MCD01", member_id="MC123456789", priority=2)
    enc = encounter(coverages=[medicare, medicaid])
    out = ask(enc, enrolled(medicare, plan="Medicare Part B"))
    assert isinstance(out, EligibilityChecked)
    assert out.payer_id == "MCR01"
    assert "secondary MCD01 recorded for coordination of benefits" in out.reasons


def _roster_of(day: list[EncounterCreated]) -> dict[tuple[str, str], Enrollment]:
    """What the simulator's roster holds after consuming the day (as its handler does)."""
    roster: dict[tuple[str, str], Enrollment] = {}
    for enc in day:
        for c in enc.coverages:
            dep = c.relationship is not Relationship.self_
            sub_dob = c.subscriber.birth_date if dep and c.subscriber else enc.patient.birth_date
            old = roster.get((c.payer_id, c.member_id))
            roster[(c.payer_id, c.member_id)] = enrolled(
                c,
                effective_date=c.effective_date,
                termination_date=c.termination_date,
                subscriber_birth_date=sub_dob,
                dependents=(
                    *(old.dependents if old else ()),
                    *([enc.patient.birth_date] if dep else []),
                ),
            )
    return roster


def test_a_generated_day_is_eligible_except_where_every_coverage_lapsed() -> None:
    """The end-to-end expectation, without processes: lapsed coverage is held, all else flows."""
    day = generate_day(400, seed=11, date_of_service=dt.date(2026, 4, 6))
    roster = _roster_of(day)
    held, checked = set(), set()
    for enc in day:
        verify = precheck("C1", enc, list(enc.coverages))
        if isinstance(verify, Verify):
            c = verify.primary
            out = ask(enc, roster[(c.payer_id, c.member_id)])
        else:
            out = verify
        (held if isinstance(out, Held) else checked).add(enc.encounter_id)
    lapsed = {
        e.encounter_id
        for e in day
        if e.coverages
        and all(c.termination_date and c.termination_date < e.date_of_service for c in e.coverages)
    }
    assert lapsed, "the day should carry some lapsed coverage"
    assert held == lapsed
    assert any(c.relationship is not Relationship.self_ for e in day for c in e.coverages)


def test_the_encounter_supplies_the_subscriber_the_registry_does_not_keep() -> None:
    on_encounter = dependent_coverage(payer_id="PPO01", member_id="BMP000000077")
    assert on_encounter.subscriber is not None
    registry = [
        coverage(payer_id="PPO01", member_id="BMP000000077", relationship=Relationship.child),
        coverage(payer_id="HMO02", member_id="HM1", priority=2),
    ]
    enc = encounter(coverages=[on_encounter])
    dependent, other = with_subscribers(enc, registry)
    assert dependent.subscriber == on_encounter.subscriber
    assert dependent.relationship == Relationship.child
    assert other == registry[1]  # not on the encounter: as the registry has it
    assert registry[0].subscriber is None  # the registry's own coverage is not changed
