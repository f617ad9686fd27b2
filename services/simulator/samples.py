"""Hand-made 837P interchanges, for the simulator's tests and benchmark: a compact
builder (claims and lines as short dataclasses with the usual defaults), not the
pipeline's production writer (services/claims)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from runtime.x12 import Envelope, segment, transaction, wrap
from services.simulator.payers import PAYERS

#: The time stamped on sample interchanges.
AT = dt.datetime(2025, 3, 11, 9, 30, tzinfo=dt.UTC)
#: The sample billing provider's NPI (a valid check digit).
NPI = "1234567893"


@dataclass
class Line837:
    code: str
    charge: str
    mods: tuple[str, ...] = ()
    units: str = "1"
    pointers: str = "1"
    date: str = "20250303"
    control: str | None = None


@dataclass
class Claim837:
    pcn: str
    lines: list[Line837]
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


def _subscriber(c: Claim837, hl: int) -> list[str]:
    return [
        segment("HL", str(hl), "1", "22", "1" if c.dependent else "0"),
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


def _dependent(hl: int, sub_hl: int) -> list[str]:
    return [
        segment("HL", str(hl), str(sub_hl), "23", "0"),
        segment("PAT", "19"),
        segment("NM1", "QC", "1", "DOE", "JIMMY"),
        segment("N3", "2 ELM ST"),
        segment("N4", "SPRINGFIELD", "IL", "62701"),
        segment("DMG", "D8", "20150101", "M"),
    ]


def _claim(c: Claim837) -> list[str]:
    """CLM to the last service line: references, diagnoses, a prior payer's 2320."""
    total = c.charge or str(sum(Decimal(ln.charge) for ln in c.lines))
    segs = [segment("CLM", c.pcn, total, "", "", f"11:B:{c.freq}", "Y", "A", "Y", "Y")]
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
    return segs


def build_set(claims: list[Claim837], st02: str = "0001", count_fix: int = 0) -> list[str]:
    """One 837P transaction set from a billing provider; ``count_fix`` miscounts SE01."""
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
        segs += _subscriber(c, hl)
        if c.dependent:
            hl += 1
            segs += _dependent(hl, hl - 1)
        segs += _claim(c)
    st = transaction("837", st02, segs, "005010X222A1")
    if count_fix:
        st[-1] = segment("SE", str(len(st) + count_fix), st02)
    return st


def interchange(*sets: list[str], icn: int = 4242, gcn: int = 17) -> str:
    env = Envelope("ZZ", "SUB01", "ZZ", "SIMCH", "HC", "005010X222A1", icn, gcn, at=AT)
    return wrap(env, list(sets))
