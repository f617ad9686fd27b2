"""Claim status 276/277 (005010X212), the simulator's knobs, and multi-claim interchanges.

pyx12 registers no 005010X212 map (the 277 file it ships is not in its maps.xml and
does not parse a valid 277), so the 276/277 are checked against the X212 structure here
(hierarchy, trace echo, STC elements, reading back what was written) and the 277 is read
through x12sdk's X212 models.
"""

from __future__ import annotations

import datetime as dt
from random import Random

import pytest

from runtime.x12 import Envelope, X12Error, segments
from services.simulator.adjudicate import adjudicate
from services.simulator.config import SimulatorSettings, parse_mix
from services.simulator.model import DENIED, Accumulators, ClaimIn, ClaimLineIn, Name
from services.simulator.samples import Claim837 as C
from services.simulator.samples import Line837 as L
from services.simulator.samples import build_set, interchange
from services.simulator.x12_276 import Party, StatusInquiry, read_276, write_276
from services.simulator.x12_277 import ClaimStatus, read_277, write_277
from services.simulator.x12_837 import triage_837

pytestmark = pytest.mark.unit

AT = dt.datetime(2025, 3, 11, 9, 30, tzinfo=dt.UTC)
PAYER = Party("MEDICARE PART B SIM", "PI", "MCR01")
RECEIVER = Party("RCM PIPELINE BILLING", "46", "RCMPIPELINE")
PROVIDER = Party("FAMILY CLINIC", "XX", "1234567893")
ENV = Envelope("ZZ", "RCMPIPELINE", "ZZ", "SIMCLEARHOUSE", "", "", 77, 77)


def inquiries() -> list[StatusInquiry]:
    day = dt.date(2025, 3, 3)
    return [
        StatusInquiry(
            "TR-1", PAYER, RECEIVER, PROVIDER, Name("DOE", "JANE"), "MBR1",
            patient_control_number="CAAA", payer_claim_number="MCR25000000000001",
            charge_cents=12345, service_from=day, service_to=day,
        ),
        StatusInquiry(
            "TR-2", PAYER, RECEIVER, PROVIDER, Name("DOE", "JANE"), "MBR1",
            patient=Name("DOE", "JIM"), patient_control_number="CBBB", charge_cents=5000,
            service_from=day, service_to=day + dt.timedelta(days=1),
        ),
        StatusInquiry(
            "TR-3", Party("BLUE MEADOW PPO", "PI", "PPO01"), RECEIVER, PROVIDER,
            Name("ROE", "RAY"), "PPO77", patient_control_number="CCCC",
        ),
    ]  # fmt: skip


def hl_chain(text: str) -> list[tuple[str, str, str]]:
    """(HL01, HL02, HL03) of every HL, checking each parent exists and is one level up."""
    parent_of = {"21": "20", "19": "21", "22": "19", "23": "22"}
    levels: dict[str, str] = {}
    out = []
    for seg in segments(text)[1]:
        if seg[0] == "HL":
            hl, parent, level = seg[1], seg[2], seg[3]
            if level == "20":
                assert parent == ""
            else:
                assert levels[parent] == parent_of[level], seg
            levels[hl] = level
            out.append((hl, parent, level))
    return out


def test_276_round_trip_keeps_every_claim_and_its_levels() -> None:
    qs = inquiries()
    text = write_276(qs, envelope=ENV, reference="Q1", at=AT)
    _, segs = segments(text)
    assert segs[1][1] == "HR"
    assert segs[1][8] == "005010X212"
    assert segs[2] == ["ST", "276", "0001", "005010X212"]
    assert ["BHT", "0010", "13", "Q1", "20250311", "0930"] in segs
    assert [s[3] for s in segs if s[0] == "HL"] == ["20", "21", "19", "22", "22", "23", "20", "21", "19", "22"]  # fmt: skip
    hl_chain(text)
    assert ["DTP", "472", "RD8", "20250303-20250304"] in segs
    req = read_276(text)
    assert req.reference == "Q1"
    assert req.sender_id == "RCMPIPELINE"
    assert req.inquiries == tuple(qs)


def test_277_answers_each_claim_under_its_own_trace() -> None:
    req = read_276(write_276(inquiries(), envelope=ENV, reference="Q1", at=AT))
    paid = ClaimStatus(
        "F1", "65", dt.date(2025, 3, 10), charge_cents=12345, paid_cents=9876,
        adjudicated=dt.date(2025, 3, 10), check_date=dt.date(2025, 3, 10),
        check_number="MCR0125031000000001", payer_claim_number="MCR25000000000001",
    )  # fmt: skip
    pending = ClaimStatus("A2", "20", dt.date(2025, 3, 9), charge_cents=5000)
    missing = ClaimStatus("A4", "35", dt.date(2025, 3, 11))
    text = write_277(req, [paid, pending, missing], envelope=ENV, at=AT)
    _, segs = segments(text)
    assert segs[1][1] == "HN"
    assert segs[1][8] == "005010X212"
    assert ["BHT", "0010", "08", "Q1", "20250311", "0930", "DG"] in segs
    assert int(segs[-3][1]) == len(segs) - 4  # SE01 counts ST..SE
    hl_chain(text)
    assert [s for s in segs if s[0] == "STC"] == [
        ["STC", "F1:65", "20250310", "", "123.45", "98.76", "20250310", "", "20250310", "MCR0125031000000001"],
        ["STC", "A2:20", "20250309", "", "50"],
        ["STC", "A4:35", "20250311"],
    ]  # fmt: skip
    back = read_277(text)
    assert [(r.trace, r.payer_id, r.member_id) for r in back] == [
        ("TR-1", "MCR01", "MBR1"),
        ("TR-2", "MCR01", "MBR1"),
        ("TR-3", "PPO01", "PPO77"),
    ]
    assert back[0].status.paid_cents == 9876
    assert back[0].status.payer_claim_number == "MCR25000000000001"
    assert back[0].status.patient_control_number == "CAAA"
    assert (back[1].status.category, back[1].status.code) == ("A2", "20")
    assert back[1].status.service_to == dt.date(2025, 3, 4)
    assert (back[2].status.category, back[2].status.code, back[2].status.paid_cents) == ("A4", "35", None)  # fmt: skip


def test_277_needs_one_answer_per_claim() -> None:
    req = read_276(write_276(inquiries(), envelope=ENV, reference="Q1", at=AT))
    with pytest.raises(ValueError, match="2 answers for 3 claims"):
        write_277(req, [ClaimStatus("A4", "35", AT.date())] * 2, envelope=ENV, at=AT)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda t: t.replace("ST*276", "ST*270"), "is not 276"),
        (lambda t: t.replace("TRN*1*TR-1", "TRN*1"), "TRN\\*1\\*trace"),
        (lambda t: t.replace("AMT*T3*123.45", "AMT*T3*12x"), "AMT02"),
        (lambda t: t.replace("DTP*472*D8*20250303", "DTP*472*D8*20251303"), "not a date"),
        (
            lambda t: t.replace("NM1*1P*2*FAMILY CLINIC*****XX*1234567893", "NM1*1P*2*X"),
            "no identifier",
        ),
    ],
)
def test_unreadable_276_names_what_is_wrong(mangle: object, message: str) -> None:
    text = write_276(inquiries(), envelope=ENV, reference="Q1", at=AT)
    assert callable(mangle)
    with pytest.raises(X12Error, match=message):
        read_276(mangle(text))


# --- multi-claim interchanges -----------------------------------------------------------


def test_claim_numbers_are_found_even_in_a_rejected_set() -> None:
    good = build_set([C("PCN-A", [L("99214", "150")]), C("PCN-B", [L("99213", "90")])])
    bad = build_set([C("PCN-C", [L("99213", "95")])], st02="0002")
    bad = [s.replace("CLM*PCN-C*95*", "CLM*PCN-C*9X5*") for s in bad]
    text = interchange(good, bad)
    received = triage_837(text)
    assert [s.accepted for s in received.groups[0].sets] == [True, False]


# --- knobs ------------------------------------------------------------------------------


def test_denial_mix_is_weighted_and_checked() -> None:
    mix = parse_mix("50:3, 197:1")
    assert [d[1] for d in mix] == ["50", "50", "50", "197"]
    with pytest.raises(ValueError, match="CARC '45'"):
        parse_mix("45:1")
    with pytest.raises(ValueError, match="empty"):
        parse_mix(" , ")


def test_settings_come_from_rcm_simulator_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RCM_SIMULATOR_DENIAL_RATE", "0.5")
    monkeypatch.setenv("RCM_SIMULATOR_DENIAL_MIX", "197:2,96:1")
    monkeypatch.setenv("RCM_SIMULATOR_DUPLICATE_835_RATE", "1")
    monkeypatch.setenv("RCM_SIMULATOR_FRONT_END_EDITS", "false")
    s = SimulatorSettings()
    assert s.denial_rate == 0.5
    assert s.duplicate_835_rate == 1
    assert s.front_end_edits is False
    assert [d[1] for d in s.denials()] == ["197", "197", "96"]
    monkeypatch.setenv("RCM_SIMULATOR_DENIAL_MIX", "99:1")
    with pytest.raises(ValueError, match="CARC '99'"):
        SimulatorSettings()


def test_random_denials_follow_the_mix_and_the_seed() -> None:
    claim = ClaimIn(
        patient_control_number="CMIX",
        payer_id="MCD01",
        member_id="M1",
        date_of_service=dt.date(2025, 3, 3),
        lines=(ClaimLineIn(1, "99213", 9000, diagnosis_codes=("I10",)),),
        total_charge_cents=9000,
        diagnoses=("I10",),
    )
    mix = parse_mix("197:1")

    def run(seed: int) -> list[str | None]:
        rng = Random(seed)
        return [
            adjudicate(
                claim, Accumulators(2025), dt.date(2025, 3, 11), rng=rng, denial_rate=0.5,
                denials=mix,
            ).denial_reason
            for _ in range(200)
        ]  # fmt: skip

    first = run(11)
    assert set(first) == {None, "197"}
    assert first == run(11)
    assert first != run(12)
    denied = adjudicate(
        claim, Accumulators(2025), dt.date(2025, 3, 11), rng=Random(1), denial_rate=1.0, denials=mix
    )
    assert denied.status == DENIED
    assert [a.reason for ln in denied.lines for a in ln.adjustments] == ["197"]
    assert denied.lines[0].remarks == ("M62",)


def test_277_reads_through_x12sdks_005010x212_models() -> None:
    """x12sdk models the X212 277 loop by loop; pyx12 has no map for it."""
    from typing import Any

    from x12sdk.io import X12ModelReader

    req = read_276(write_276(inquiries()[:2], envelope=ENV, reference="Q1", at=AT))
    answers = [
        ClaimStatus("F2", "1", dt.date(2025, 3, 10), charge_cents=12345, paid_cents=0),
        ClaimStatus("A2", "20", dt.date(2025, 3, 9), charge_cents=5000),
    ]
    with X12ModelReader(write_277(req, answers, envelope=ENV, at=AT)) as reader:
        models: list[Any] = list(reader.models())
    assert [type(m).__name__ for m in models] == ["HealthCareClaimsStatusResponse"]
    c = models[0].loop_2000a[0].loop_2000b[0].loop_2000c[0]
    subscriber, with_dependent = c.loop_2000d
    assert subscriber.loop_2100d.nm1_segment.identification_code == "MBR1"
    assert subscriber.loop_2200d[0].trn_segment.reference_identification_1 == "TR-1"
    dependent = with_dependent.loop_2000e[0]
    assert dependent.loop_2100e.nm1_segment.name_first == "JIM"
    assert dependent.loop_2200e[0].trn_segment.reference_identification_1 == "TR-2"
