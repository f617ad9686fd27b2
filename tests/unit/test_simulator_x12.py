"""Clearinghouse/payer simulator X12: 837P in; 999 and 277CA out, checked by pyx12."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime.x12 import Envelope, X12Error, d8, segments
from services.simulator.adjudicate import adjudicate
from services.simulator.clearinghouse import front_end_edits, npi_is_valid
from services.simulator.model import Accumulators
from services.simulator.payers import PAYERS
from services.simulator.samples import AT, NPI, build_set, interchange
from services.simulator.samples import Claim837 as C
from services.simulator.samples import Line837 as L
from services.simulator.x12_277ca import ClaimAck, write_277ca
from services.simulator.x12_837 import read_837, triage_837
from services.simulator.x12_837_set import SegmentError
from services.simulator.x12_999 import write_999
from tests.pyx12check import problems

pytestmark = pytest.mark.unit

X12VALID = Path(sys.executable).parent / "x12valid"
TODAY = dt.date(2025, 3, 11)


def env_back(icn: int = 9001) -> Envelope:
    return Envelope("ZZ", "SIMCH", "ZZ", "SUB01", "", "", icn, icn, at=AT)


# --- pyx12 -------------------------------------------------------------------------------


def pyx12_check(tmp_path: Path, text: str, name: str = "doc.x12") -> list[str]:
    """x12valid's problems with ``text`` (tests/pyx12check.py says how it is read)."""
    return problems(tmp_path / name, text)


def assert_valid(tmp_path: Path, text: str, name: str = "doc.x12") -> None:
    assert pyx12_check(tmp_path, text, name) == []


def test_read_837_claims_with_control_numbers(tmp_path: Path) -> None:
    text = interchange(
        build_set(
            [
                C(
                    "PCN-A",
                    [
                        L("99214", "150", mods=("25",), control="A1"),
                        L("96372", "30", pointers="1:2"),
                    ],
                    auth="AUTH9",
                ),
                C("PCN-B", [L("99213", "95.5")], dependent=True, payer_id="PPO01", filing="12"),
            ]
        ),
        build_set(
            [
                C(
                    "PCN-C",
                    [L("99396", "200")],
                    sbr="S",
                    prior_paid="40.25",
                    freq="7",
                    original="MCR25000000000001",
                )
            ],
            st02="0002",
        ),
    )
    assert_valid(tmp_path, text, "in.837")
    ic = read_837(text)
    assert ic.interchange_control_number == "000004242"
    assert [g.control_number for g in ic.groups] == ["17"]
    assert [s.control_number for s in ic.groups[0].sets] == ["0001", "0002"]
    assert ic.groups[0].sets[0].reference == "BATCH0001"
    a, b, c = ic.claims()
    assert (a.interchange_control_number, a.group_control_number, a.transaction_control_number) == (
        "000004242",
        "17",
        "0001",
    )
    assert c.transaction_control_number == "0002"
    assert a.patient_control_number == "PCN-A"
    assert a.total_charge_cents == 18000
    assert a.prior_authorization == "AUTH9"
    assert a.date_of_service == dt.date(2025, 3, 3)
    assert a.lines[0].modifiers == ("25",)
    assert a.lines[0].control_number == "A1"
    assert a.lines[1].diagnosis_codes == ("E119", "I10")
    assert a.billing_npi == NPI
    assert a.billing_tax_id == "123456789"
    assert a.filing_indicator == "MB"
    assert a.member_id == "MBR001"
    assert b.payer_id == "PPO01"
    assert b.patient.first == "JIMMY"
    assert b.subscriber is not None
    assert b.lines[0].charge_cents == 9550
    assert c.priority == 2
    assert c.prior_payer_paid_cents == 4025
    assert c.payer_id == "MCR01", "the 2330B other payer must not replace the claim's payer"
    assert c.frequency_code == "7"
    assert c.original_payer_claim_number == "MCR25000000000001"


@pytest.mark.parametrize(
    ("mangle", "segment_id", "position"),
    [
        (lambda t: t.replace("CLM*PCN-A*150", "CLM*PCN-A*1x0"), "CLM", 2),
        (lambda t: t.replace("DTP*472*D8*20250303", "DTP*472*D8*20251340", 1), "DTP", 3),
        (lambda t: t.replace("DTP*472*D8*20250303", "DTP*472*D8*2025033", 1), "DTP", 3),
        (lambda t: t.replace("SV1*HC:99214*150*UN*1", "SV1*HC:99214*150*UN*0"), "SV1", 4),
        (lambda t: t.replace("HL*2*1*22*0", "HL*2*1*99*0"), "HL", 3),
        (lambda t: t.replace("~SE*", "~SE*9", 1), "SE", 1),
    ],
)
def test_bad_837_raises_naming_segment_and_position(
    mangle: Callable[[str], str], segment_id: str, position: int
) -> None:
    text = interchange(build_set([C("PCN-A", [L("99214", "150")])]))
    bad = mangle(text)
    with pytest.raises(X12Error) as info:
        read_837(bad)
    err = info.value
    assert isinstance(err, SegmentError)
    assert err.segment_id == segment_id
    assert err.position == position
    assert err.segment is not None
    _, segs = segments(bad)
    assert segs[err.segment - 1][0] == segment_id
    assert f"{segment_id}{position:02d}" in str(err)


def test_envelope_errors_raise() -> None:
    text = interchange(build_set([C("PCN-A", [L("99214", "150")])]))
    with pytest.raises(X12Error, match="IEA02"):
        read_837(text.replace("IEA*1*000004242", "IEA*1*000004243"))
    with pytest.raises(X12Error, match="IEA"):
        read_837(text[: text.index("GE*")])
    with pytest.raises(X12Error, match="GE01"):
        read_837(text.replace("GE*1*", "GE*2*"))


# --- 999 ------------------------------------------------------------------------------


def test_999_accepts_a_clean_interchange(tmp_path: Path) -> None:
    text = interchange(build_set([C("PCN-A", [L("99214", "150")])]))
    ack = write_999(triage_837(text), envelope=env_back())
    assert_valid(tmp_path, ack, "ok.999")
    _, segs = segments(ack)
    ids = [s[0] for s in segs]
    assert ids == ["ISA", "GS", "ST", "AK1", "AK2", "IK5", "AK9", "SE", "GE", "IEA"]
    assert segs[3] == ["AK1", "HC", "17", "005010X222A1"]
    assert segs[5] == ["IK5", "A"]
    assert segs[6] == ["AK9", "A", "1", "1", "1"]
    assert segs[1][1] == "FA"
    assert segs[1][8] == "005010X231A1"


def test_999_rejects_only_the_bad_set(tmp_path: Path) -> None:
    good = build_set([C("PCN-A", [L("99214", "150")])], st02="0001")
    bad = build_set([C("PCN-B", [L("99213", "95")])], st02="0002")
    bad = [s.replace("CLM*PCN-B*95*", "CLM*PCN-B*9X5*") for s in bad]
    counted = build_set([C("PCN-C", [L("99213", "95")])], st02="0003", count_fix=3)
    received = triage_837(interchange(good, bad, counted))
    sets = received.groups[0].sets
    assert [s.accepted for s in sets] == [True, False, False]
    assert [c.patient_control_number for c in received.claims()] == ["PCN-A"]
    ack = write_999(received, envelope=env_back())
    assert_valid(tmp_path, ack, "reject.999")
    _, segs = segments(ack)
    assert ["IK3", "CLM", "18", "", "8"] in segs  # ST is 1, CLM the 18th segment of the set
    assert ["IK4", "2", "", "6", "9X5"] in segs
    assert ["IK5", "R", "5"] in segs
    assert ["IK5", "R", "4"] in segs
    assert ["AK9", "P", "3", "3", "1"] in segs
    all_bad = triage_837(interchange(bad))
    assert ["AK9", "R", "1", "1", "0"] in segments(write_999(all_bad, envelope=env_back()))[1]


# --- 277CA ----------------------------------------------------------------------------


def test_277ca_accepts_and_rejects_claims(tmp_path: Path) -> None:
    text = interchange(
        build_set(
            [
                C("PCN-A", [L("99214", "150"), L("85025", "25", date="20250304")]),
                C("PCN-B", [L("99213", "95")], payer_id="NOPE1"),
                C("PCN-C", [L("99213", "95")], member="", charge="100"),
            ]
        )
    )
    received = read_837(text)
    acks = []
    for claim in received.claims():
        reasons = front_end_edits(claim, PAYERS)
        number = (
            None if reasons else adjudicate(claim, Accumulators(2025), TODAY).payer_claim_number
        )
        acks.append(ClaimAck(claim, reasons, number))
    assert [a.accepted for a in acks] == [True, False, False]
    assert [r.code for r in acks[2].reasons] == ["164", "178"]
    out = write_277ca(
        acks,
        envelope=env_back(),
        source_name="RCM SIM CLEARINGHOUSE",
        source_id="SIMCH",
        receiver_name="FAMILY CLINIC",
        receiver_id="SUB01",
        received=TODAY,
        processed=TODAY,
        batch_reference=received.groups[0].sets[0].reference,
        receipt_trace="R000001",
    )
    assert_valid(tmp_path, out, "ack.277")
    _, segs = segments(out)
    assert segs[1][1] == "HN"
    assert segs[1][8] == "005010X214"
    stc = [s for s in segs if s[0] == "STC"]
    assert stc[2][1:5] == ["A1:20", "20250311", "WQ", "175"]
    assert stc[3][1:5] == ["A3:116:PR", "20250311", "U", "95"]
    assert stc[4][1] == "A3:164:IL"
    assert stc[4][10] == "A3:178"
    refs = [s for s in segs if s[:2] == ["REF", "1K"]]
    assert refs == [["REF", "1K", acks[0].payer_claim_number]]
    assert ["DTP", "472", "RD8", "20250303-20250304"] in segs
    assert ["QTY", "90", "1"] in segs
    assert ["QTY", "AA", "2"] in segs


@pytest.mark.parametrize(
    "text", ["2025033", "202503031", "2025-3-3", "20251340", "２０２５０３０３", ""]
)
def test_a_d8_date_is_eight_ascii_digits_of_a_real_day(text: str) -> None:
    with pytest.raises(ValueError, match="not a CCYYMMDD date"):
        d8(text)


def test_d8_reads_a_day() -> None:
    assert d8("20240229") == dt.date(2024, 2, 29)


def test_npi_check_digit() -> None:
    assert npi_is_valid(NPI)
    assert not npi_is_valid("1234567890")
    assert not npi_is_valid("12345")


# --- 835 ------------------------------------------------------------------------------
