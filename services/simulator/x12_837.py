"""Reads 837P interchanges (005010X222A1) into adjudication input, one ClaimIn per CLM.

A hand walk over ``runtime.x12.segments``: the simulator needs the envelope control
numbers (ISA13, GS06, ST02), which x12sdk's models drop, it must say exactly which
segment and element is wrong so the 999 can point at it, and one bad transaction set
must not hide the good ones in the same interchange.

``read_837`` is strict: the first problem raises ``SegmentError`` (an ``X12Error``).
``triage_837`` keeps going: a set with a problem is returned with its error and no
claims, which is what the 999 writer needs to reject that set alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from runtime.x12 import Delimiters, X12Error, cents, d8, segments
from services.simulator.adjudicate import ClaimIn, ClaimLineIn, Name

# IK304 segment syntax error codes.
UNRECOGNIZED_SEGMENT = "1"
UNEXPECTED_SEGMENT = "2"
REQUIRED_SEGMENT_MISSING = "3"
SEGMENT_HAS_ELEMENT_ERRORS = "8"
# IK403 element syntax error codes.
REQUIRED_ELEMENT_MISSING = "1"
INVALID_CODE_VALUE = "7"
INVALID_DATE = "8"
INVALID_VALUE = "6"
# IK502 transaction set syntax error codes.
SET_TRAILER_MISSING = "2"
SET_CONTROL_NUMBERS_DIFFER = "3"
SET_SEGMENT_COUNT_WRONG = "4"
SET_SEGMENTS_IN_ERROR = "5"

VERSIONS_837P = ("005010X222A1", "005010X222A2")


class SegmentError(X12Error):
    """A problem in one transaction set, located precisely enough for a 999 IK3/IK4.

    ``segment`` is the segment's ordinal in the interchange (ISA = 1); ``position`` the
    element position (CLM02 -> 2) or None for the whole segment.
    """

    def __init__(
        self,
        message: str,
        *,
        segment_id: str,
        segment: int,
        set_position: int,
        position: int | None = None,
        segment_code: str = SEGMENT_HAS_ELEMENT_ERRORS,
        element_code: str | None = None,
        value: str | None = None,
        set_code: str = SET_SEGMENTS_IN_ERROR,
    ) -> None:
        name = f"{segment_id}{position:02d}" if position else segment_id
        super().__init__(f"{name}: {message}", segment=segment, position=position)
        self.segment_id = segment_id
        self.set_position = set_position
        self.segment_code = segment_code
        self.element_code = element_code
        self.value = value
        self.set_code = set_code


@dataclass(frozen=True, slots=True)
class TransactionSet837:
    control_number: str
    version: str
    claims: tuple[ClaimIn, ...] = ()
    error: SegmentError | None = None
    #: BHT03, the submitter's batch reference (echoed as TRN*2 on the 277CA).
    reference: str = ""

    @property
    def accepted(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Group837:
    functional_id: str
    control_number: str
    version: str
    sets: tuple[TransactionSet837, ...]


@dataclass(frozen=True, slots=True)
class Interchange837:
    interchange_control_number: str
    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    usage: str
    groups: tuple[Group837, ...]
    delimiters: Delimiters = field(default_factory=Delimiters)

    def claims(self) -> Iterator[ClaimIn]:
        for group in self.groups:
            for ts in group.sets:
                yield from ts.claims


def read_837(text: str) -> Interchange837:
    """Every claim of an 837P interchange; raises X12Error at the first problem."""
    return _read(text, strict=True)


def triage_837(text: str) -> Interchange837:
    """Like read_837, but a bad transaction set is kept with its error and no claims.

    Envelope problems (ISA/IEA, GS/GE) still raise: there is nothing to acknowledge.
    """
    return _read(text, strict=False)


# --- the walk -------------------------------------------------------------------------


def _el(seg: list[str], n: int) -> str:
    return seg[n].strip() if len(seg) > n else ""


def _read(text: str, *, strict: bool) -> Interchange837:
    d, segs = segments(text)
    isa = segs[0]
    if isa[0] != "ISA" or len(isa) < 17:
        raise X12Error("interchange does not start with ISA", segment=1, position=0)
    icn = isa[13].strip()
    iea = segs[-1]
    if _el(iea, 2) != icn:
        raise X12Error(f"IEA02 {_el(iea, 2)!r} != ISA13 {icn!r}", segment=len(segs), position=2)
    groups: list[Group837] = []
    i = 1
    while i < len(segs) - 1:
        gs = segs[i]
        if gs[0] != "GS":
            raise X12Error(f"expected GS, found {gs[0]}", segment=i + 1, position=0)
        gs_at = i
        sets: list[TransactionSet837] = []
        i += 1
        while i < len(segs) - 1 and segs[i][0] == "ST":
            start = i
            while i < len(segs) - 1 and segs[i][0] not in ("SE", "GE", "IEA"):
                i += 1
            has_se = segs[i][0] == "SE"
            body = segs[start : i + 1] if has_se else segs[start:i]
            try:
                sets.append(_read_set(body, start + 1, has_se, isa, gs, d.component))
            except SegmentError as err:
                if strict:
                    raise
                sets.append(TransactionSet837(_el(segs[start], 2), _el(segs[start], 3), (), err))
            if has_se:
                i += 1
        ge = segs[i]
        if ge[0] != "GE":
            raise X12Error(f"expected GE or ST, found {ge[0]}", segment=i + 1, position=0)
        if _el(ge, 2) != _el(gs, 6):
            raise X12Error(f"GE02 {_el(ge, 2)!r} != GS06", segment=i + 1, position=2)
        if _el(ge, 1) != str(len(sets)):
            raise X12Error(
                f"GE01 says {_el(ge, 1)} sets, found {len(sets)}", segment=i + 1, position=1
            )
        if _el(gs, 1) != "HC":
            raise X12Error(f"GS01 {_el(gs, 1)!r} is not HC", segment=gs_at + 1, position=1)
        groups.append(Group837(_el(gs, 1), _el(gs, 6), _el(gs, 8), tuple(sets)))
        i += 1
    return Interchange837(
        interchange_control_number=icn,
        sender_qualifier=isa[5].strip(),
        sender_id=isa[6].strip(),
        receiver_qualifier=isa[7].strip(),
        receiver_id=isa[8].strip(),
        usage=isa[15].strip(),
        groups=tuple(groups),
        delimiters=d,
    )


@dataclass
class _Claim:
    """A claim being assembled."""

    clm01: str
    charge: int
    pos: str
    frequency: str
    payer_id: str
    member_id: str
    priority: int
    filing: str | None
    patient: Name
    subscriber: Name | None
    billing_npi: str
    billing_name: str
    billing_tax_id: str | None
    diagnoses: list[str] = field(default_factory=list)
    lines: list[ClaimLineIn] = field(default_factory=list)
    claim_date: dt.date | None = None
    prior_auth: str | None = None
    original: str | None = None
    rendering: str | None = None
    prior_paid: int = 0


@dataclass
class _Line:
    number: int
    code: str = ""
    modifiers: tuple[str, ...] = ()
    charge: int = 0
    units: int = 1
    pointers: tuple[int, ...] = ()
    date: dt.date | None = None
    control: str | None = None


class _SetReader:
    def __init__(self, body: list[list[str]], first: int, comp: str) -> None:
        self.body = body
        self.first = first
        self.comp = comp
        self.at = 0

    def fail(self, message: str, position: int | None = None, **kw: str) -> SegmentError:
        seg = self.body[self.at]
        return SegmentError(
            message,
            segment_id=seg[0],
            segment=self.first + self.at,
            set_position=self.at + 1,
            position=position,
            value=_el(seg, position) if position else None,
            **kw,
        )

    def need(self, seg: list[str], n: int) -> str:
        value = _el(seg, n)
        if not value:
            raise self.fail("required element missing", n, element_code=REQUIRED_ELEMENT_MISSING)
        return value

    def amount(self, seg: list[str], n: int) -> int:
        value = self.need(seg, n)
        try:
            return cents(value)
        except ValueError:
            raise self.fail(f"not an amount: {value!r}", n, element_code=INVALID_VALUE) from None

    def date(self, seg: list[str], n: int) -> dt.date:
        value = self.need(seg, n)[:8]
        try:
            return d8(value)
        except ValueError:
            raise self.fail(f"not a date: {value!r}", n, element_code=INVALID_DATE) from None


def _read_set(
    body: list[list[str]], first: int, has_se: bool, isa: list[str], gs: list[str], comp: str
) -> TransactionSet837:
    r = _SetReader(body, first, comp)
    st = body[0]
    control = r.need(st, 2)
    version = _el(st, 3) or _el(gs, 8)
    if _el(st, 1) != "837":
        raise r.fail("not an 837", 1, element_code=INVALID_CODE_VALUE)
    if not has_se:
        r.at = len(body) - 1
        raise r.fail(
            "transaction set has no SE trailer",
            segment_code=REQUIRED_SEGMENT_MISSING,
            set_code=SET_TRAILER_MISSING,
        )
    if version not in VERSIONS_837P:
        raise r.fail(f"unsupported version {version!r}", 3, element_code=INVALID_CODE_VALUE)
    se = body[-1]
    if _el(se, 2) != control:
        r.at = len(body) - 1
        raise r.fail(
            f"SE02 {_el(se, 2)!r} != ST02 {control!r}",
            2,
            element_code=INVALID_VALUE,
            set_code=SET_CONTROL_NUMBERS_DIFFER,
        )
    if _el(se, 1) != str(len(body)):
        r.at = len(body) - 1
        raise r.fail(
            f"SE01 says {_el(se, 1)} segments, counted {len(body)}",
            1,
            element_code=INVALID_VALUE,
            set_code=SET_SEGMENT_COUNT_WRONG,
        )

    claims: list[ClaimIn] = []
    current: _Claim | None = None
    in_2320 = False
    line: _Line | None = None
    billing: tuple[str, str, str | None] = ("", "", None)
    payer_id = member_id = ""
    subscriber = patient = Name("UNKNOWN")
    dependent = False
    priority = 1
    filing: str | None = None

    def close_line() -> None:
        nonlocal line
        if line is not None and current is not None:
            if not line.code:
                raise r.fail(
                    f"service line {line.number} has no SV1", segment_code=REQUIRED_SEGMENT_MISSING
                )
            current.lines.append(_line(line, current))
        line = None

    def close_claim() -> None:
        nonlocal current
        close_line()
        if current is not None:
            if not current.lines:
                raise r.fail(
                    f"claim {current.clm01} has no service lines",
                    segment_code=REQUIRED_SEGMENT_MISSING,
                )
            if not current.claim_date and any(ln.service_date is None for ln in current.lines):
                raise r.fail(
                    f"claim {current.clm01} has a line without a service date",
                    segment_code=REQUIRED_SEGMENT_MISSING,
                )
            claims.append(_claim(current, isa, gs, control))
        current = None

    for at in range(1, len(body) - 1):
        r.at = at
        seg = body[at]
        sid = seg[0]
        if sid == "HL":
            close_claim()
            level = r.need(seg, 3)
            if level == "20":
                billing = ("", "", None)
            elif level == "22":
                dependent = False
            elif level == "23":
                dependent = True
            else:
                raise r.fail(
                    f"unknown hierarchical level {level!r}", 3, element_code=INVALID_CODE_VALUE
                )
            in_2320 = False
        elif sid == "SBR":
            if current is not None:
                in_2320 = True
                close_line()
                continue
            priority = {"P": 1, "S": 2, "T": 3}.get(r.need(seg, 1), 0)
            if not priority:
                raise r.fail(
                    "payer responsibility must be P, S or T", 1, element_code=INVALID_CODE_VALUE
                )
            filing = _el(seg, 9) or None
        elif sid == "NM1" and not in_2320 and line is None:
            who = r.need(seg, 1)
            name = Name(_el(seg, 3), _el(seg, 4) or None)
            if who == "85":
                billing = (_el(seg, 9), _el(seg, 3), None)
            elif who == "IL":
                subscriber = patient = name
                member_id = _el(seg, 9)
            elif who == "QC":
                patient = name
            elif who == "PR":
                payer_id = r.need(seg, 9)
            elif who == "82" and current is not None:
                current.rendering = _el(seg, 9) or None
        elif sid == "REF" and current is None and _el(seg, 1) == "EI":
            billing = (billing[0], billing[1], _el(seg, 2))
        elif sid == "CLM":
            close_claim()
            if not payer_id:
                raise r.fail("claim before any payer (NM1*PR)", segment_code=UNEXPECTED_SEGMENT)
            clm05 = _el(seg, 5).split(r.comp)
            pos = clm05[0] if clm05 and clm05[0] else ""
            if not pos:
                raise r.fail("place of service missing", 5, element_code=REQUIRED_ELEMENT_MISSING)
            current = _Claim(
                clm01=r.need(seg, 1),
                charge=r.amount(seg, 2),
                pos=pos,
                frequency=clm05[2] if len(clm05) > 2 and clm05[2] else "1",
                payer_id=payer_id,
                member_id=member_id,
                priority=priority,
                filing=filing,
                patient=patient if dependent else subscriber,
                subscriber=subscriber if dependent else None,
                billing_npi=billing[0],
                billing_name=billing[1],
                billing_tax_id=billing[2],
            )
            in_2320 = False
        elif current is None:
            continue
        elif sid == "HI" and not in_2320 and line is None:
            comp = r.comp
            for n in range(1, len(seg)):
                qual, _, code = _el(seg, n).partition(r.comp)
                if qual in ("ABK", "ABF", "BK", "BF"):
                    current.diagnoses.append(code.replace(".", "").upper())
        elif sid == "REF" and line is None and not in_2320:
            if _el(seg, 1) == "G1":
                current.prior_auth = _el(seg, 2) or None
            elif _el(seg, 1) == "F8":
                current.original = _el(seg, 2) or None
        elif sid == "REF" and line is not None and _el(seg, 1) == "6R":
            line.control = _el(seg, 2) or None
        elif sid == "DTP" and line is None and not in_2320 and _el(seg, 1) == "472":
            current.claim_date = r.date(seg, 3)
        elif sid == "AMT" and in_2320 and line is None and _el(seg, 1) == "D":
            current.prior_paid += r.amount(seg, 2)
        elif sid == "LX":
            close_line()
            in_2320 = False
            if not r.need(seg, 1).isdigit():
                raise r.fail("LX01 must be a line number", 1, element_code=INVALID_VALUE)
            line = _Line(int(_el(seg, 1)))
        elif sid == "SV1" and line is not None:
            comp = r.comp
            proc = r.need(seg, 1).split(comp)
            if proc[0] not in ("HC", "WK") or len(proc) < 2 or not proc[1]:
                raise r.fail("SV101 must be HC:code", 1, element_code=INVALID_CODE_VALUE)
            units_text = _el(seg, 4) or "1"
            whole, _, frac = units_text.partition(".")
            if not whole.isdigit() or int(whole) < 1 or frac.strip("0"):
                raise r.fail(
                    f"units must be a whole number: {units_text!r}", 4, element_code=INVALID_VALUE
                )
            pointers = [p for p in _el(seg, 7).split(r.comp) if p]
            if not all(p.isdigit() for p in pointers):
                raise r.fail("diagnosis pointers must be numbers", 7, element_code=INVALID_VALUE)
            line.code = proc[1].upper()
            line.modifiers = tuple(m.upper() for m in proc[2:6] if m)
            line.charge = r.amount(seg, 2)
            line.units = int(whole)
            line.pointers = tuple(int(p) for p in pointers)
        elif sid == "DTP" and line is not None and _el(seg, 1) == "472":
            line.date = r.date(seg, 3)
        elif sid in ("SVD", "CAS") and line is not None:
            continue  # 2430 line adjudication from a prior payer: not used here
    r.at = len(body) - 1
    close_claim()
    if not claims:
        r.at = 1
        raise r.fail("transaction set has no claims", segment_code=REQUIRED_SEGMENT_MISSING)
    bht = body[1] if len(body) > 1 and body[1][0] == "BHT" else []
    return TransactionSet837(control, version, tuple(claims), None, _el(bht, 3) if bht else "")


def _line(raw: _Line, claim: _Claim) -> ClaimLineIn:
    dx = tuple(claim.diagnoses[p - 1] for p in raw.pointers if 0 < p <= len(claim.diagnoses))
    return ClaimLineIn(
        line_number=raw.number,
        procedure_code=raw.code,
        charge_cents=raw.charge,
        units=raw.units,
        modifiers=raw.modifiers,
        diagnosis_codes=dx,
        service_date=raw.date,
        control_number=raw.control,
    )


def _claim(c: _Claim, isa: list[str], gs: list[str], st02: str) -> ClaimIn:
    dates = [ln.service_date or c.claim_date for ln in c.lines]
    dos = min(x for x in dates if x is not None)
    return ClaimIn(
        patient_control_number=c.clm01,
        payer_id=c.payer_id,
        member_id=c.member_id,
        date_of_service=dos,
        lines=tuple(c.lines),
        total_charge_cents=c.charge,
        diagnoses=tuple(c.diagnoses),
        frequency_code=c.frequency,
        original_payer_claim_number=c.original,
        prior_authorization=c.prior_auth,
        place_of_service=c.pos,
        priority=c.priority,
        prior_payer_paid_cents=c.prior_paid,
        filing_indicator=c.filing,
        patient=c.patient,
        subscriber=c.subscriber,
        billing_npi=c.billing_npi,
        billing_name=c.billing_name,
        billing_tax_id=c.billing_tax_id,
        rendering_npi=c.rendering,
        interchange_control_number=isa[13].strip(),
        group_control_number=_el(gs, 6),
        transaction_control_number=st02,
        submitter_id=isa[6].strip(),
        receiver_id=isa[8].strip(),
    )


def claim_numbers_by_set(text: str) -> dict[tuple[str, str], list[str]]:
    """CLM01 of every claim, by (GS06, ST02), read leniently.

    For a transaction set the 999 rejects: its claims are unreadable as claims, but the
    submitter still needs each one told that it was rejected.
    """
    _, segs = segments(text)
    out: dict[tuple[str, str], list[str]] = {}
    gcn = st02 = ""
    for seg in segs:
        sid = seg[0].strip()
        if sid == "GS":
            gcn = _el(seg, 6)
        elif sid == "ST":
            st02 = _el(seg, 2)
            out.setdefault((gcn, st02), [])
        elif sid == "CLM" and _el(seg, 1):
            out.setdefault((gcn, st02), []).append(_el(seg, 1))
    return out
