"""276 claim status requests a payer can read, and the 277 answers read back."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from x12sdk.io import X12ModelReader

from runtime.x12 import X12Error
from services.claims.x12_276 import read_277, render_276
from services.claims.x12_837 import Party, Unbuildable
from tests.unit import factories as f

pytestmark = pytest.mark.unit

AT = dt.datetime(2025, 4, 20, 8, 5, tzinfo=dt.UTC)


def render(claim: Any, payer_claim_number: str | None = None) -> str:
    return render_276(
        claim,
        patient_control_number=claim.patient_control_number,
        payer_claim_number=payer_claim_number,
        trace="CLM1-1",
        interchange=77,
        group=78,
        submitter=Party("RCM Pipeline", "RCMPIPELINE"),
        receiver=Party("Sim Clearinghouse", "SIMCLEARHOUSE"),
        at=AT,
    )


def segs(text: str) -> list[list[str]]:
    return [s.split("*") for s in text.split("~") if s]


def test_a_subscribers_claim_reads_back_through_x12sdk() -> None:
    claim = f.claim(1)
    text = render(claim)
    with X12ModelReader(text) as reader:
        models: list[Any] = list(reader.models())
    assert len(models) == 1
    d = models[0].loop_2000a[0].loop_2000b[0].loop_2000c[0].loop_2000d[0]
    assert d.loop_2100d.nm1_segment.identification_code == "XYZ123456789"
    assert d.dmg_segment.date_time_period == dt.date(1980, 5, 17)
    req = d.loop_2200d[0]
    assert req.trn_segment.reference_identification_1 == "CLM1-1"
    assert [
        (r.reference_identification_qualifier, r.reference_identification) for r in req.ref_segment
    ] == [("EJ", "PCN000001")]
    assert req.amt_segment.monetary_amount == 125
    assert req.dtp_segment.date_time_period == f.DOS
    s = segs(text)
    assert s[1][:2] == ["GS", "HR"]
    assert s[2] == ["ST", "276", "0001", "005010X212"]
    assert s[-1] == ["IEA", "1", "000000077"]


def test_a_dependents_claim_asks_under_the_patient_with_the_payer_claim_number() -> None:
    claim = f.claim(2, coverage=f.dependent_coverage())
    text = render(claim, payer_claim_number="PAY123")
    with X12ModelReader(text) as reader:
        model: Any = next(iter(reader.models()))
    d = model.loop_2000a[0].loop_2000b[0].loop_2000c[0].loop_2000d[0]
    assert d.loop_2100d.nm1_segment.name_first == "JORDAN"  # the subscriber
    e = d.loop_2000e[0]
    assert e.loop_2100e.nm1_segment.name_first == "ALEX"  # the patient
    refs = [
        (r.reference_identification_qualifier, r.reference_identification)
        for r in e.loop_2200e[0].ref_segment
    ]
    assert refs == [("1K", "PAY123"), ("EJ", "PCN000002")]


def test_a_claim_with_no_coverage_cannot_be_asked_about() -> None:
    with pytest.raises(Unbuildable, match="coverage"):
        render(f.claim(3, coverage=None, self_pay=True))


ANSWER = (
    "ISA*00*          *00*          *ZZ*SIMCLEARHOUSE  *ZZ*RCMPIPELINE    *250420*0806*^*00501*"
    "000000009*0*T*:~GS*HN*SIMCLEARHOUSE*RCMPIPELINE*20250420*0806*9*X*005010X212~"
    "ST*277*0001*005010X212~BHT*0010*08*CLM1-1*20250420*0806*DG~"
    "TRN*2*CLM1-1~STC*F1:65:PR*20250418**125*98.5~REF*1K*PAY123~REF*EJ*PCN000001~"
    "SE*7*0001~GE*1*9~IEA*1*000000009~"
)


def test_a_277_answer_reads_as_statuses_in_cents() -> None:
    got = read_277(ANSWER)
    assert got.traces == ["CLM1-1"]
    assert got.payer_claim_number == "PAY123"
    assert got.patient_control_number == "PCN000001"
    (st,) = got.statuses
    assert (st.category, st.code, st.entity, st.family) == ("F1", "65", "PR", "finalized")
    assert (st.charge_cents, st.paid_cents) == (12500, 9850)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (ANSWER.replace("ST*277", "ST*835"), "not a 277"),
        (ANSWER.replace("STC*F1:65:PR*20250418**125*98.5~", ""), "no claim status"),
        ("<html>gateway timeout</html>", "not X12: expected ISA, found '<ht'"),
    ],
)
def test_what_is_not_a_277_is_refused(text: str, error: str) -> None:
    with pytest.raises(X12Error, match=error):
        read_277(text)
