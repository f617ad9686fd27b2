"""One 837P transaction set (ST to SE) read into claims: the walk of its loops, from the
billing provider (2000A) through subscriber and patient (2000B/C), claim (2300), other
payer (2320) and service line (2400), with errors located for the 999 (IK3/IK4/IK5).
The interchange around the sets is :mod:`services.simulator.x12_837`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from runtime.x12 import X12Error, cents, d8
from services.simulator.model import ClaimIn, ClaimLineIn, Name

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


def element(seg: list[str], n: int) -> str:
    """Element ``n`` of a segment, stripped; "" when absent."""
    return seg[n].strip() if len(seg) > n else ""


_el = element


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
    #: AMT*EAF of the last 2320 read: what the patient still owed after the prior payer
    prior_patient: int | None = None
    #: 2320/2330: (SBR01 priority, payer id, member id) of every other payer
    others: list[tuple[int, str, str]] = field(default_factory=list)


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
    #: 2430: what the prior payers paid on the line, and the patient share the last one left
    prior_paid: int = 0
    prior_patient: int | None = None


class _Walk:
    """The walk of one transaction set: where it is (``at``), what the loops above the
    current segment said (billing provider, subscriber, patient, payer, SBR), and the
    claim and service line being assembled. Errors name the segment at ``at``."""

    def __init__(
        self, body: list[list[str]], first: int, comp: str, isa: list[str], gs: list[str]
    ) -> None:
        self.body = body
        self.first = first
        self.comp = comp
        self.isa = isa
        self.gs = gs
        self.at = 0
        self.control = ""
        self.claims: list[ClaimIn] = []
        self.current: _Claim | None = None
        self.in_2320 = False
        self.line: _Line | None = None
        self.billing: tuple[str, str, str | None] = ("", "", None)
        self.payer_id = self.member_id = ""
        self.subscriber = self.patient = Name("UNKNOWN")
        self.dependent = False
        self.priority = 1
        self.filing: str | None = None

    # --- reading elements -------------------------------------------------------------

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

    # --- closing loops ----------------------------------------------------------------

    def close_line(self) -> None:
        line, current = self.line, self.current
        if line is not None and current is not None:
            if not line.code:
                raise self.fail(
                    f"service line {line.number} has no SV1", segment_code=REQUIRED_SEGMENT_MISSING
                )
            current.lines.append(_line(line, current))
        self.line = None

    def close_claim(self) -> None:
        self.close_line()
        current = self.current
        if current is not None:
            if not current.lines:
                raise self.fail(
                    f"claim {current.clm01} has no service lines",
                    segment_code=REQUIRED_SEGMENT_MISSING,
                )
            if not current.claim_date and any(ln.service_date is None for ln in current.lines):
                raise self.fail(
                    f"claim {current.clm01} has a line without a service date",
                    segment_code=REQUIRED_SEGMENT_MISSING,
                )
            self.claims.append(_claim(current, self.isa, self.gs, self.control))
        self.current = None

    # --- segments -----------------------------------------------------------------------

    def hl(self, seg: list[str]) -> None:
        self.close_claim()
        level = self.need(seg, 3)
        if level == "20":
            self.billing = ("", "", None)
        elif level == "22":
            self.dependent = False
        elif level == "23":
            self.dependent = True
        else:
            raise self.fail(
                f"unknown hierarchical level {level!r}", 3, element_code=INVALID_CODE_VALUE
            )
        self.in_2320 = False

    def sbr(self, seg: list[str]) -> None:
        if self.current is not None:  # 2320: another payer of the claim
            self.in_2320 = True
            self.close_line()
            level = {"P": 1, "S": 2, "T": 3}.get(_el(seg, 1), 0)
            self.current.others.append((level, "", ""))
            return
        self.priority = {"P": 1, "S": 2, "T": 3}.get(self.need(seg, 1), 0)
        if not self.priority:
            raise self.fail(
                "payer responsibility must be P, S or T", 1, element_code=INVALID_CODE_VALUE
            )
        self.filing = _el(seg, 9) or None

    def nm1(self, seg: list[str]) -> None:
        who = self.need(seg, 1)
        name = Name(_el(seg, 3), _el(seg, 4) or None)
        if who == "85":
            self.billing = (_el(seg, 9), _el(seg, 3), None)
        elif who == "IL":
            self.subscriber = self.patient = name
            self.member_id = _el(seg, 9)
        elif who == "QC":
            self.patient = name
        elif who == "PR":
            self.payer_id = self.need(seg, 9)
        elif who == "82" and self.current is not None:
            self.current.rendering = _el(seg, 9) or None

    def clm(self, seg: list[str]) -> None:
        self.close_claim()
        if not self.payer_id:
            raise self.fail("claim before any payer (NM1*PR)", segment_code=UNEXPECTED_SEGMENT)
        clm05 = _el(seg, 5).split(self.comp)
        pos = clm05[0] if clm05 and clm05[0] else ""
        if not pos:
            raise self.fail("place of service missing", 5, element_code=REQUIRED_ELEMENT_MISSING)
        dependent = self.dependent
        self.current = _Claim(
            clm01=self.need(seg, 1),
            charge=self.amount(seg, 2),
            pos=pos,
            frequency=clm05[2] if len(clm05) > 2 and clm05[2] else "1",
            payer_id=self.payer_id,
            member_id=self.member_id,
            priority=self.priority,
            filing=self.filing,
            patient=self.patient if dependent else self.subscriber,
            subscriber=self.subscriber if dependent else None,
            billing_npi=self.billing[0],
            billing_name=self.billing[1],
            billing_tax_id=self.billing[2],
        )
        self.in_2320 = False

    def lx(self, seg: list[str]) -> None:
        self.close_line()
        self.in_2320 = False
        if not self.need(seg, 1).isdigit():
            raise self.fail("LX01 must be a line number", 1, element_code=INVALID_VALUE)
        self.line = _Line(int(_el(seg, 1)))

    def sv1(self, seg: list[str], line: _Line) -> None:
        proc = self.need(seg, 1).split(self.comp)
        if proc[0] not in ("HC", "WK") or len(proc) < 2 or not proc[1]:
            raise self.fail("SV101 must be HC:code", 1, element_code=INVALID_CODE_VALUE)
        units_text = _el(seg, 4) or "1"
        whole, _, frac = units_text.partition(".")
        if not whole.isdigit() or int(whole) < 1 or frac.strip("0"):
            raise self.fail(
                f"units must be a whole number: {units_text!r}", 4, element_code=INVALID_VALUE
            )
        pointers = [p for p in _el(seg, 7).split(self.comp) if p]
        if not all(p.isdigit() for p in pointers):
            raise self.fail("diagnosis pointers must be numbers", 7, element_code=INVALID_VALUE)
        line.code = proc[1].upper()
        line.modifiers = tuple(m.upper() for m in proc[2:6] if m)
        line.charge = self.amount(seg, 2)
        line.units = int(whole)
        line.pointers = tuple(int(p) for p in pointers)

    def detail(self, sid: str, seg: list[str], current: _Claim) -> None:
        """The claim's (2300) or line's (2400) HI, REF, DTP and the 2320's AMT."""
        line, in_2320 = self.line, self.in_2320
        if sid == "HI" and not in_2320 and line is None:
            for n in range(1, len(seg)):
                qual, _, code = _el(seg, n).partition(self.comp)
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
            current.claim_date = self.date(seg, 3)
        elif sid == "AMT" and in_2320 and line is None and _el(seg, 1) == "D":
            current.prior_paid += self.amount(seg, 2)
        elif sid == "AMT" and in_2320 and line is None and _el(seg, 1) == "EAF":
            current.prior_patient = self.amount(seg, 2)
        elif sid == "DTP" and line is not None and _el(seg, 1) == "472":
            line.date = self.date(seg, 3)
        elif sid == "SVD" and line is not None:  # 2430: a prior payer's line
            line.prior_paid += self.amount(seg, 2)
            line.prior_patient = 0
        elif (
            sid == "CAS" and line is not None and line.prior_patient is not None
            and _el(seg, 1) == "PR"
        ):  # fmt: skip
            line.prior_patient += sum(self.amount(seg, k) for k in range(3, len(seg), 3))


def _check_trailer(w: _Walk, gs: list[str], has_se: bool) -> tuple[str, str]:
    """ST02 and the version, once ST and SE agree; SegmentError where they do not."""
    body = w.body
    st = body[0]
    control = w.need(st, 2)
    version = _el(st, 3) or _el(gs, 8)
    if _el(st, 1) != "837":
        raise w.fail("not an 837", 1, element_code=INVALID_CODE_VALUE)
    if not has_se:
        w.at = len(body) - 1
        raise w.fail(
            "transaction set has no SE trailer",
            segment_code=REQUIRED_SEGMENT_MISSING,
            set_code=SET_TRAILER_MISSING,
        )
    if version not in VERSIONS_837P:
        raise w.fail(f"unsupported version {version!r}", 3, element_code=INVALID_CODE_VALUE)
    se = body[-1]
    if _el(se, 2) != control:
        w.at = len(body) - 1
        raise w.fail(
            f"SE02 {_el(se, 2)!r} != ST02 {control!r}",
            2,
            element_code=INVALID_VALUE,
            set_code=SET_CONTROL_NUMBERS_DIFFER,
        )
    if _el(se, 1) != str(len(body)):
        w.at = len(body) - 1
        raise w.fail(
            f"SE01 says {_el(se, 1)} segments, counted {len(body)}",
            1,
            element_code=INVALID_VALUE,
            set_code=SET_SEGMENT_COUNT_WRONG,
        )
    return control, version


def read_set(
    body: list[list[str]], first: int, has_se: bool, isa: list[str], gs: list[str], comp: str
) -> TransactionSet837:
    """The claims of one transaction set (ST to SE; ``first``: the ST's ordinal in the
    interchange); SegmentError at the first problem."""
    w = _Walk(body, first, comp, isa, gs)
    w.control, version = _check_trailer(w, gs, has_se)
    for at in range(1, len(body) - 1):
        w.at = at
        seg = body[at]
        sid = seg[0]
        if sid == "HL":
            w.hl(seg)
        elif sid == "SBR":
            w.sbr(seg)
        elif sid == "NM1" and not w.in_2320 and w.line is None:
            w.nm1(seg)
        elif sid == "NM1" and w.current is not None and w.current.others and w.line is None:
            level, payer_id, member_id = w.current.others[-1]  # 2330A, 2330B of that 2320
            if _el(seg, 1) == "IL":
                w.current.others[-1] = (level, payer_id, _el(seg, 9))
            elif _el(seg, 1) == "PR":
                w.current.others[-1] = (level, _el(seg, 9), member_id)
        elif sid == "REF" and w.current is None and _el(seg, 1) == "EI":
            w.billing = (w.billing[0], w.billing[1], _el(seg, 2))
        elif sid == "CLM":
            w.clm(seg)
        elif w.current is None:
            continue
        elif sid == "LX":
            w.lx(seg)
        elif sid == "SV1":
            if w.line is not None:
                w.sv1(seg, w.line)
        else:
            w.detail(sid, seg, w.current)
    w.at = len(body) - 1
    w.close_claim()
    if not w.claims:
        w.at = 1
        raise w.fail("transaction set has no claims", segment_code=REQUIRED_SEGMENT_MISSING)
    bht = body[1] if len(body) > 1 and body[1][0] == "BHT" else []
    return TransactionSet837(w.control, version, tuple(w.claims), None, _el(bht, 3) if bht else "")


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
        prior_paid_cents=raw.prior_paid,
        prior_patient_cents=raw.prior_patient,
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
        prior_patient_cents=c.prior_patient,
        other_payers=tuple(c.others),
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
