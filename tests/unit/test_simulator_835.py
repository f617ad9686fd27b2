"""The payer's 835: paid, denied, reversed and corrected claims, PLB adjustments, check
and zero payments, CAS splitting; every 835 balances and passes pyx12."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from random import Random
from typing import Any

import pytest
from x12sdk.io import X12ModelReader

from rcm.cli_payers import DEMO_PAYERS
from runtime.x12 import cents, segments
from services.claims.payers import parse as parse_directory
from services.simulator.adjudicate import adjudicate, reverse
from services.simulator.model import Accumulators, Adjudication, Cas
from services.simulator.payers import PAYERS, payer
from services.simulator.samples import NPI, build_set, interchange
from services.simulator.samples import Claim837 as C
from services.simulator.samples import Line837 as L
from services.simulator.x12_835 import (
    ProviderAdjustment,
    _cas_segments,
    interest,
    payment_total,
    recoupment,
    write_835,
)
from services.simulator.x12_837 import read_837
from tests.unit.test_simulator_x12 import TODAY, X12VALID, assert_valid, env_back

pytestmark = pytest.mark.unit

#: The demo payers' SBR09, from the payer directory the demo loads.
SBR09 = {p.payer_id: p.filing_indicator for p in parse_directory(DEMO_PAYERS.read_text())}


def adjudicated(payer_id: str = "MCR01", pcn: str = "PCN-A", *lines: L, **kw: Any) -> Adjudication:
    c = C(
        pcn,
        list(lines) or [L("99214", "150"), L("83036", "30"), L("36415", "10")],
        payer_id=payer_id,
        **kw,
    )
    claim = next(read_837(interchange(build_set([c]))).claims())
    return adjudicate(claim, Accumulators(2025), TODAY)


def secondary_of(adj: Adjudication) -> Adjudication:
    """The claim adjudicated again as a secondary told the patient still owes 30.00."""
    return adjudicate(replace(adj.claim, prior_patient_cents=3000), Accumulators(2025), TODAY)


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
        secondary_of(adjudicated("MCR01", "PCN-SEC", L("99396", "180"), sbr="S", prior_paid="20")),
    ]
    assert [a.status for a in batch] == ["1", "4", "1", "2"]
    text = remit_835(batch)
    assert_valid(tmp_path, text, "paid.835")
    check_835(text, batch)
    _, segs = segments(text)
    assert ["MOA", "", "", "MA130"] in segs
    assert ["LQ", "HE", "M15"] in segs
    # the secondary pays the 30.00 the prior payer left; the rest was the prior payer's
    assert ["CAS", "OA", "23", "150"] in segs
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
                filing=SBR09[payer_id],  # as the claims service sends it: from the directory
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


def test_pyx12_check_catches_a_broken_835(tmp_path: Path) -> None:
    text = remit_835([adjudicated()])
    broken = text.replace("PER*BL*", "PER*XX*")
    path = tmp_path / "bad.x12"
    path.write_text(broken)
    proc = subprocess.run([str(X12VALID), str(path)], capture_output=True, text=True, check=False)
    assert f"{path}: Failure" in proc.stderr.splitlines()


# --- 837P reading --------------------------------------------------------------------
