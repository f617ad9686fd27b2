"""Clearinghouse/payer simulator X12: 837P in; 999, 277CA and 835 out, checked by pyx12."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from random import Random
from typing import Any

import pytest
from x12sdk.io import X12ModelReader

from runtime.x12 import Envelope, X12Error, cents, d8, segment, segments, transaction, wrap
from services.simulator.adjudicate import (
    Accumulators,
    Adjudication,
    Cas,
    adjudicate,
    reverse,
)
from services.simulator.payers import PAYERS, payer
from services.simulator.x12_in import SegmentError, read_837, triage_837
from services.simulator.x12_out import (
    ClaimAck,
    ProviderAdjustment,
    _cas_segments,
    front_end_edits,
    interest,
    npi_is_valid,
    payment_total,
    recoupment,
    write_277ca,
    write_835,
    write_999,
)

pytestmark = pytest.mark.unit

X12VALID = Path(sys.executable).parent / "x12valid"
AT = dt.datetime(2025, 3, 11, 9, 30, tzinfo=dt.UTC)
TODAY = dt.date(2025, 3, 11)
NPI = "1234567893"


# --- a tiny 837P builder (hand-made test input; not the production writer) -----------


@dataclass
class L:
    code: str
    charge: str
    mods: tuple[str, ...] = ()
    units: str = "1"
    pointers: str = "1"
    date: str = "20250303"
    control: str | None = None


@dataclass
class C:
    pcn: str
    lines: list[L]
    payer_id: str = "MCR01"
    member: str = "MBR001"
    dx: tuple[str, ...] = ("E119", "I10")
    sbr: str = "P"
    filing: str = "MB"
    freq: str = "1"
    original: str | None = None
    auth: str | None = None
    dependent: bool = False
    prior_paid: str | None = None
    charge: str | None = None
    extra: list[str] = field(default_factory=list)


def build_set(claims: list[C], st02: str = "0001", count_fix: int = 0) -> list[str]:
    segs = [
        segment("BHT", "0019", "00", f"BATCH{st02}", "20250310", "1200", "CH"),
        segment("NM1", "41", "2", "FAMILY CLINIC", "", "", "", "", "46", "SUB01"),
        segment("PER", "IC", "BILLING OFFICE", "TE", "5555550100"),
        segment("NM1", "40", "2", "RCM SIM CLEARINGHOUSE", "", "", "", "", "46", "SIMCH"),
        segment("HL", "1", "", "20", "1"),
        segment("NM1", "85", "2", "FAMILY CLINIC", "", "", "", "", "XX", NPI),
        segment("N3", "1 MAIN ST"),
        segment("N4", "SPRINGFIELD", "IL", "62701"),
        segment("REF", "EI", "123456789"),
    ]
    hl = 1
    for c in claims:
        hl += 1
        sub_hl = hl
        segs += [
            segment("HL", str(sub_hl), "1", "22", "1" if c.dependent else "0"),
            segment("SBR", c.sbr, "" if c.dependent else "18", "", "", "", "", "", "", c.filing),
            segment("NM1", "IL", "1", "DOE", "JANE", "", "", "", "MI", c.member),
            segment("N3", "2 ELM ST"),
            segment("N4", "SPRINGFIELD", "IL", "62701"),
            segment("DMG", "D8", "19500101", "F"),
            segment(
                "NM1",
                "PR",
                "2",
                PAYERS[c.payer_id].name if c.payer_id in PAYERS else "X",
                "",
                "",
                "",
                "",
                "PI",
                c.payer_id,
            ),
        ]
        if c.dependent:
            hl += 1
            segs += [
                segment("HL", str(hl), str(sub_hl), "23", "0"),
                segment("PAT", "19"),
                segment("NM1", "QC", "1", "DOE", "JIMMY"),
                segment("N3", "2 ELM ST"),
                segment("N4", "SPRINGFIELD", "IL", "62701"),
                segment("DMG", "D8", "20150101", "M"),
            ]
        total = c.charge or str(sum(Decimal(ln.charge) for ln in c.lines))
        segs.append(segment("CLM", c.pcn, total, "", "", f"11:B:{c.freq}", "Y", "A", "Y", "Y"))
        if c.auth:
            segs.append(segment("REF", "G1", c.auth))
        if c.original:
            segs.append(segment("REF", "F8", c.original))
        if c.dx:
            segs.append(
                segment("HI", *[("ABK:" if i == 0 else "ABF:") + d for i, d in enumerate(c.dx)])
            )
        if c.prior_paid is not None:
            segs += [
                segment("SBR", "P", "18", "", "", "", "", "", "", "CI"),
                segment("AMT", "D", c.prior_paid),
                segment("OI", "", "", "Y", "", "", "Y"),
                segment("NM1", "IL", "1", "DOE", "JANE", "", "", "", "MI", "OTHER9"),
                segment("NM1", "PR", "2", "OTHER PLAN", "", "", "", "", "PI", "OTHER"),
            ]
        segs += c.extra
        for n, ln in enumerate(c.lines, 1):
            segs += [
                segment("LX", str(n)),
                segment(
                    "SV1",
                    ":".join(("HC", ln.code, *ln.mods)),
                    ln.charge,
                    "UN",
                    ln.units,
                    "",
                    "",
                    ln.pointers,
                ),
                segment("DTP", "472", "D8", ln.date),
            ]
            if ln.control:
                segs.append(segment("REF", "6R", ln.control))
    st = transaction("837", st02, segs, "005010X222A1")
    if count_fix:
        st[-1] = segment("SE", str(len(st) + count_fix), st02)
    return st


def interchange(*sets: list[str], icn: int = 4242, gcn: int = 17) -> str:
    env = Envelope("ZZ", "SUB01", "ZZ", "SIMCH", "HC", "005010X222A1", icn, gcn, at=AT)
    return wrap(env, list(sets))


def env_back(icn: int = 9001) -> Envelope:
    return Envelope("ZZ", "SIMCH", "ZZ", "SUB01", "", "", icn, icn, at=AT)


# --- pyx12 -------------------------------------------------------------------------------


def pyx12_check(tmp_path: Path, text: str, name: str = "doc.x12") -> list[str]:
    """Runs x12valid; returns its error lines, failing unless it says "<file>: OK".

    x12valid reports each file on stderr as "<path>: OK" or "<path>: Failure", logging
    every problem at ERROR level; its exit status says nothing about validity. For an
    835 it also tries to build its own 999 and logs "Failed to create 999 response"
    because a 5010 835 carries no ST03; that is about pyx12's ack, not our file.
    """
    path = tmp_path / name
    path.write_text(text, encoding="ascii")
    proc = subprocess.run(
        [str(X12VALID), str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    lines = (proc.stdout + proc.stderr).splitlines()
    errors = [ln for ln in lines if " ERROR " in ln and "Failed to create 999 response" not in ln]
    assert f"{path}: OK" in lines, "\n".join(lines[-30:])
    assert f"{path}: Failure" not in lines
    return errors


def assert_valid(tmp_path: Path, text: str, name: str = "doc.x12") -> None:
    assert pyx12_check(tmp_path, text, name) == []


def test_pyx12_check_catches_a_broken_835(tmp_path: Path) -> None:
    text = remit_835([adjudicated()])
    broken = text.replace("PER*BL*", "PER*XX*")
    path = tmp_path / "bad.x12"
    path.write_text(broken)
    proc = subprocess.run([str(X12VALID), str(path)], capture_output=True, text=True, check=False)
    assert f"{path}: Failure" in proc.stderr.splitlines()


# --- 837P reading --------------------------------------------------------------------


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


def adjudicated(payer_id: str = "MCR01", pcn: str = "PCN-A", *lines: L, **kw: Any) -> Adjudication:
    c = C(
        pcn,
        list(lines) or [L("99214", "150"), L("83036", "30"), L("36415", "10")],
        payer_id=payer_id,
        **kw,
    )
    claim = next(read_837(interchange(build_set([c]))).claims())
    return adjudicate(claim, Accumulators(2025), TODAY)


def remit_835(
    batch: list[Adjudication], plb: tuple[ProviderAdjustment, ...] = (), payer_id: str = "MCR01"
) -> str:
    return write_835(
        batch,
        plan=payer(payer_id),
        envelope=env_back(),
        payment_date=TODAY,
        trace_number="TRACE0001",
        adjustments=plb,
    )


def clp_amounts(text: str) -> list[tuple[str, str, int, int, int]]:
    _, segs = segments(text)
    return [(s[1], s[2], cents(s[3]), cents(s[4]), cents(s[5])) for s in segs if s[0] == "CLP"]


def check_835(text: str, batch: list[Adjudication]) -> None:
    """Balancing in the written text, and x12sdk reads back the same CLP amounts."""
    _, segs = segments(text)
    bpr = next(s for s in segs if s[0] == "BPR")
    plb_total = sum(cents(p[i]) for p in segs if p[0] == "PLB" for i in range(4, len(p), 2))
    clps = clp_amounts(text)
    assert cents(bpr[2]) == sum(c[3] for c in clps) - plb_total
    assert cents(bpr[2]) >= 0
    assert (bpr[1] == "H") == (cents(bpr[2]) == 0)
    # per claim: CLP03 = CLP04 + every CAS; per line: SVC02 = SVC03 + line CAS;
    # CLP05 = every PR amount. Checked when the next claim, or the trailer, begins.
    claims: list[dict[str, int]] = []
    lines: list[dict[str, int]] = []
    for s in segs:
        if s[0] == "CLP":
            claims.append(
                {
                    "charge": cents(s[3]),
                    "paid": cents(s[4]),
                    "pr": cents(s[5]),
                    "cas": 0,
                    "prsum": 0,
                }
            )
        elif s[0] == "SVC":
            lines.append({"charge": cents(s[2]), "paid": cents(s[3]), "cas": 0})
        elif s[0] == "CAS":
            assert len(s) <= 20, "at most six triplets per CAS"
            amount = sum(cents(s[i]) for i in range(3, len(s), 3))
            claims[-1]["cas"] += amount
            if s[1] == "PR":
                claims[-1]["prsum"] += amount
            if lines and claims[-1].get("lines_from", 0) < len(lines):
                lines[-1]["cas"] += amount
        if s[0] == "CLP":
            claims[-1]["lines_from"] = len(lines)
    for c in claims:
        assert c["charge"] == c["paid"] + c["cas"]
        assert c["pr"] == c["prsum"]
    for ln in lines:
        assert ln["charge"] == ln["paid"] + ln["cas"]
    assert len(lines) == sum(len(a.lines) for a in batch)
    with X12ModelReader(text) as reader:
        models: list[Any] = list(reader.models())
    parsed = [
        (c.patient_control_number, c.status, c.charge, c.paid, c.payer_claim_control_number)
        for m in models
        for c in m.claims()
    ]
    assert parsed == [
        (
            a.claim.patient_control_number,
            a.status,
            Decimal(a.charge_cents) / 100,
            Decimal(a.paid_cents) / 100,
            a.payer_claim_number,
        )
        for a in batch
    ]


def test_835_for_paid_denied_and_partially_denied_claims(tmp_path: Path) -> None:
    batch = [
        adjudicated(),
        adjudicated("MCR01", "PCN-DENY", L("99213", "95"), dx=()),
        adjudicated(
            "MCR01", "PCN-LINE", L("99213", "95"), L("96372", "30"), L("J1030", "8", units="2")
        ),
        adjudicated("MCR01", "PCN-SEC", L("99396", "180"), sbr="S", prior_paid="20"),
    ]
    assert [a.status for a in batch] == ["1", "4", "1", "2"]
    text = remit_835(batch)
    assert_valid(tmp_path, text, "paid.835")
    check_835(text, batch)
    _, segs = segments(text)
    assert ["MOA", "", "", "MA130"] in segs
    assert ["LQ", "HE", "M15"] in segs
    assert ["CAS", "OA", "23", "20"] in segs
    assert segs[1][1] == "HP"
    assert segs[1][8] == "005010X221A1"
    assert segs[-3][0] == "SE"
    assert int(segs[-3][1]) == len(segs) - 4
    bpr = segs[3]
    assert bpr[:5] == ["BPR", "I", bpr[2], "C", "ACH"]
    assert bpr[16] == "20250311"
    assert ["TRN", "1", "TRACE0001", "1" + payer("MCR01").tax_id] in segs
    assert ["REF", "EV", "SUB01"] in segs
    assert ["DTM", "405", "20250311"] in segs
    assert ["N1", "PE", "FAMILY CLINIC", "XX", NPI] in segs


def test_835_reversal_and_correction_with_plb(tmp_path: Path) -> None:
    first = adjudicated("PPO01", "PCN-R", L("99214", "150"), L("85025", "25"), filing="12")
    corrected_claim = replace(
        first.claim, frequency_code="7", original_payer_claim_number=first.payer_claim_number
    )
    corrected = adjudicate(corrected_claim, Accumulators(2025), TODAY)
    batch = [
        reverse(first),
        corrected,
        adjudicated("PPO01", "PCN-X", L("99396", "250"), filing="12"),
    ]
    assert batch[2].paid_cents == payer("PPO01").fees["99396"]
    plb = (interest(137, "PCN-X"), recoupment(2500, "OLDCLAIM1"))
    text = remit_835(batch, plb, "PPO01")
    assert_valid(tmp_path, text, "reversal.835")
    check_835(text, batch)
    assert payment_total(batch, plb) == sum(a.paid_cents for a in batch) + 137 - 2500
    _, segs = segments(text)
    assert ["PLB", NPI, "20251231", "L6:PCN-X", "-1.37", "WO:OLDCLAIM1", "25"] in segs
    statuses = [s[2] for s in segs if s[0] == "CLP"]
    assert statuses == ["22", "1", "1"]


def test_835_check_payment_and_zero_payment(tmp_path: Path) -> None:
    paid = adjudicated("MCD01", "PCN-M", L("99213", "95"), filing="MC")
    text = remit_835([paid], payer_id="MCD01")
    assert_valid(tmp_path, text, "check.835")
    check_835(text, [paid])
    assert segments(text)[1][3][:5] == ["BPR", "C", "64.4", "C", "CHK"]  # 70% of 92.00

    nothing = adjudicated("MCR01", "PCN-Z", L("99213", "95"), dx=())
    zero = remit_835([nothing])
    assert_valid(tmp_path, zero, "zero.835")
    check_835(zero, [nothing])
    assert segments(zero)[1][3][:5] == ["BPR", "H", "0", "C", "NON"]


def test_835_reversal_alone_forwards_the_negative_balance(tmp_path: Path) -> None:
    first = adjudicated("MCD01", "PCN-N", L("99214", "150"), filing="MC")
    batch = [reverse(first)]
    text = remit_835(batch, payer_id="MCD01")
    assert_valid(tmp_path, text, "negative.835")
    check_835(text, batch)
    _, segs = segments(text)
    assert [
        "PLB",
        NPI,
        "20251231",
        "FB:TRACE0001",
        f"-{first.paid_cents / 100:.2f}".rstrip("0").rstrip("."),
    ] in segs
    assert segs[3][:3] == ["BPR", "H", "0"]


def test_cas_segments_split_after_six_triplets(tmp_path: Path) -> None:
    many = (
        *tuple(Cas("CO", str(r), 100) for r in (45, 16, 50, 96, 97, 197, 18)),
        Cas("PR", "1", 5),
    )
    segs = _cas_segments(many, segments(interchange(build_set([C("X", [L("1", "1")])])))[0])
    assert segs == [
        "CAS*CO*45*1**16*1**50*1**96*1**97*1**197*1~",
        "CAS*CO*18*1~",
        "CAS*PR*1*.05~",
    ] or segs == [
        "CAS*CO*45*1**16*1**50*1**96*1**97*1**197*1~",
        "CAS*CO*18*1~",
        "CAS*PR*1*0.05~",
    ]
    first = adjudicated("MCD01", "PCN-CAS", L("99214", "150"), filing="MC")
    ln = first.lines[0]
    extra = (
        Cas("CO", "45", ln.adjustments[0].amount_cents - 600),
        *tuple(Cas("CO", r, 100) for r in ("16", "50", "96", "97", "197", "18")),
    )
    split = replace(first, lines=(replace(ln, adjustments=extra),))
    text = remit_835([split], payer_id="MCD01")
    assert_valid(tmp_path, text, "split.835")
    check_835(text, [split])


def test_random_batches_balance_and_validate(tmp_path: Path) -> None:
    rng = Random(99)
    codes = [
        "99213",
        "99214",
        "83036",
        "36415",
        "96372",
        "J1030",
        "20610",
        "17110",
        "99396",
        "90686",
        "90471",
        "99999",
    ]
    for payer_id in sorted(PAYERS):
        batch: list[Adjudication] = []
        acc = Accumulators(2025)
        for n in range(12):
            lines = [
                L(
                    rng.choice(codes),
                    str(rng.randint(1, 400)),
                    units=str(rng.choice([1, 1, 2])),
                    mods=rng.choice([(), ("25",)]),
                )
                for _ in range(rng.randint(1, 5))
            ]
            c = C(
                f"P{payer_id}{n}",
                lines,
                payer_id=payer_id,
                dx=rng.choice([("E119",), ("Z0000",), ("I10", "E119")]),
            )
            claim = next(read_837(interchange(build_set([c]), icn=n + 1)).claims())
            r = adjudicate(claim, acc, TODAY, rng=rng, denial_rate=0.2)
            assert r.accumulators is not None
            acc = r.accumulators
            batch.append(r)
        batch.append(reverse(batch[0]))
        plb = (interest(rng.randint(1, 999), batch[1].claim.patient_control_number),)
        text = remit_835(batch, plb, payer_id)
        assert_valid(tmp_path, text, f"{payer_id}.835")
        check_835(text, batch)
