"""The 271s the sandbox payers answer read through x12sdk's 005010X279A1 models, loop by
loop (pyx12 ships no map for the X279 271): for each payer, a subscriber and a dependent,
covered, coverage ended, and a payer the clearinghouse does not know.

The rejections (AAA in 2100C/2100D: 42, 71, 72, 75, 67) are left to the eligibility
reader's own tests: x12sdk's enum for AAA03 in those loops lists the 2100B codes only,
while the X279A1 guide allows these there."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from x12sdk.io import X12ModelReader

from runtime.x12 import Envelope
from services.eligibility.domain import Verify, inquiry_for, precheck
from services.eligibility.x12_270 import write_270
from services.simulator.eligibility import Enrollment, Met, read_270, write_271
from services.simulator.payers import PAYERS
from tests.builders import encounter
from tests.unit.factories import coverage, dependent_coverage

pytestmark = pytest.mark.unit

ENV = Envelope(
    "ZZ", "SIMCH", "ZZ", "SUB01", "", "", 7, 7, at=dt.datetime(2025, 3, 14, 9, 30, tzinfo=dt.UTC)
)


def inquiry(payer_id: str, dependent: bool) -> Any:
    make = dependent_coverage if dependent else coverage
    cov = make(payer_id=payer_id, payer_name=PAYERS[payer_id].name, member_id="AB123456789")
    enc = encounter(coverages=[cov])
    verify = precheck("C1", enc, list(enc.coverages))
    assert isinstance(verify, Verify)
    return read_270(write_270(inquiry_for(enc, verify.primary, trace="000000123"), envelope=ENV))


def enrollment(payer_id: str, ended: bool) -> Enrollment:
    return Enrollment(
        payer_id=payer_id,
        member_id="AB123456789",
        plan=PAYERS[payer_id].plan,
        effective_date=dt.date(2024, 1, 1),
        termination_date=dt.date(2024, 12, 31) if ended else None,
        subscriber_birth_date=dt.date(1980, 5, 17),
        dependents=(),
    )


def x12sdk_problems(text: str) -> list[str]:
    try:
        with X12ModelReader(text) as reader:
            models: list[Any] = list(reader.models())
    except Exception as exc:  # x12sdk raises pydantic's and its own errors
        return [f"{type(exc).__name__}: {str(exc)[:300]}"]
    if [type(m).__name__ for m in models] != ["EligibilityBenefit"]:
        return [f"read as {[type(m).__name__ for m in models]}"]
    return []


@pytest.mark.parametrize("payer_id", sorted(PAYERS))
def test_every_payers_271_reads_through_x12sdk(payer_id: str) -> None:
    found = []
    for dependent in (False, True):
        inq = inquiry(payer_id, dependent)
        answers = {
            "covered": write_271(inq, "known", enrollment(payer_id, False), Met(), envelope=ENV),
            "ended": write_271(inq, "known", enrollment(payer_id, True), Met(), envelope=ENV),
            "no-payer": write_271(inq, "no-payer", None, Met(), envelope=ENV),
        }
        for name, text in answers.items():
            who = "dependent" if dependent else "subscriber"
            found += [f"{who} {name}: {p}" for p in x12sdk_problems(text)]
    assert found == []
