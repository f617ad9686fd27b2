"""X12 5010 271 (005010X279A1) reader: a payer's eligibility answer to project records.

A hand walk over :func:`runtime.x12.iter_segments` (as the 835 reader does), not
x12sdk's pydantic models: it is much faster on the real-time path and every
problem is an ``X12Error`` naming the segment number and element position, which
is what a held claim shows a person. x12sdk reads the same files in the tests as
an independent second reading.

What is kept, per person the answer is about (subscriber loop 2000C, dependent
loop 2000D):

- the member id (NM109 of the subscriber, also for a dependent);
- ``active``: True when an EB01 says active coverage (1-5), False when it says
  inactive (6, 7, 8) and nothing says active, None when no EB says either (a
  rejected inquiry, an answer with only AAA segments);
- every EB as a :class:`Benefit`: EB01 code, EB02 coverage level, EB03 service
  types (repeated), EB06 time period (23 calendar year, 29 remaining, 27 visit...),
  EB07 amount (cents and the text as stated), EB08 percent (EB08 is a fraction,
  .2; kept as the percentage, 20), EB12 in-network (Y true, N false, else None);
- plan and eligibility dates (DTP 346/347, 356/357, 291, 307) of the person;
- every AAA rejection, with the loop it came in, its code, its follow-up action
  and a plain message. An AAA in the payer (2100A) or receiver (2100B) loop with
  no subscriber after it becomes a response with no member id.

Patient names, birth dates and addresses are not kept: nothing downstream needs
them from the answer, and it keeps identifiers out of errors and events.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from runtime.x12 import X12Error, begin, cents, d8_element, iter_segments

ACTIVE_CODES = frozenset({"1", "2", "3", "4", "5"})
INACTIVE_CODES = frozenset({"6", "7", "8"})

#: AAA03 reject reasons (X279 code list), the ones a 271 may carry, as plain words.
AAA_MESSAGES: dict[str, str] = {
    "04": "authorized quantity exceeded",
    "15": "required application data missing",
    "33": "input errors",
    "35": "out of network",
    "41": "authorization/access restrictions",
    "42": "payer unable to respond at current time",
    "43": "invalid/missing provider identification",
    "44": "invalid/missing provider name",
    "45": "invalid/missing provider specialty",
    "46": "invalid/missing provider phone number",
    "47": "invalid/missing provider state",
    "48": "invalid/missing referring provider identification number",
    "49": "provider is not primary care physician",
    "50": "provider ineligible for inquiries",
    "51": "provider not on file",
    "52": "service dates not within provider plan enrollment",
    "53": "inquired benefit inconsistent with provider type",
    "54": "inappropriate product/service id qualifier",
    "56": "inappropriate date",
    "57": "invalid/missing date(s) of service",
    "58": "invalid/missing date-of-birth",
    "60": "date of birth follows date(s) of service",
    "61": "date of death precedes date(s) of service",
    "62": "date of service not within allowable inquiry period",
    "63": "date of service in future",
    "64": "invalid/missing patient id",
    "65": "invalid/missing patient name",
    "66": "invalid/missing patient gender code",
    "67": "patient not found",
    "68": "duplicate patient id number",
    "69": "inconsistent with patient's age",
    "70": "inconsistent with patient's gender",
    "71": "patient birth date does not match that for the patient on the database",
    "72": "invalid/missing subscriber/insured id",
    "73": "invalid/missing subscriber/insured name",
    "74": "invalid/missing subscriber/insured gender code",
    "75": "subscriber/insured not found",
    "76": "duplicate subscriber/insured id number",
    "77": "subscriber found, patient not found",
    "78": "subscriber/insured not in group/plan identified",
    "79": "invalid participant identification",
    "80": "no response received - transaction terminated",
    "97": "invalid or missing provider address",
    "98": "experimental service or procedure",
    "AA": "authorization number not found",
    "AE": "requires primary care physician authorization",
    "AF": "invalid/missing diagnosis code(s)",
    "AG": "invalid/missing procedure code(s)",
    "AO": "additional patient condition information required",
    "CI": "certification information does not match patient",
    "E8": "requires medical review",
    "IA": "invalid authorization number format",
    "MA": "missing authorization number",
    "T4": "payer name or identifier missing",
}


@dataclass(frozen=True, slots=True)
class Benefit:
    """One EB segment."""

    code: str
    coverage_level: str | None
    service_types: tuple[str, ...]
    insurance_type: str | None
    plan: str | None
    time_period: str | None
    amount_cents: int | None
    amount_text: str | None
    percent: Decimal | None
    in_network: bool | None
    segment: int


@dataclass(frozen=True, slots=True)
class Rejection:
    """One AAA segment."""

    loop: str
    code: str
    follow_up: str | None
    segment: int

    @property
    def message(self) -> str:
        return AAA_MESSAGES.get(self.code, f"reject reason {self.code}")

    @property
    def retryable(self) -> bool:
        """The payer asked to be asked again later (42 unable to respond now, 80 timeout)."""
        return self.code in ("42", "80") and self.follow_up in (None, "R", "P", "Y")


@dataclass(slots=True)
class Response:
    """What the 271 says about one person."""

    member_id: str | None
    dependent: bool
    payer_id: str | None
    trace_numbers: list[str] = field(default_factory=list)
    benefits: list[Benefit] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    #: DTP qualifier -> (start, end); a single date has end == start.
    dates: dict[str, tuple[dt.date, dt.date]] = field(default_factory=dict)
    segment: int = 0

    @property
    def active(self) -> bool | None:
        codes = {b.code for b in self.benefits}
        if codes & ACTIVE_CODES:
            return True
        if codes & INACTIVE_CODES:
            return False
        return None

    def date(self, *qualifiers: str) -> tuple[dt.date, dt.date] | None:
        for q in qualifiers:
            if q in self.dates:
                return self.dates[q]
        return None

    @property
    def coverage_begins(self) -> dt.date | None:
        found = self.date("346", "356")
        return found[0] if found else None

    @property
    def coverage_ends(self) -> dt.date | None:
        found = self.date("347", "357")
        if found:
            return found[1]
        plan = self.date("291", "307")
        return plan[1] if plan and plan[1] != plan[0] else None


@dataclass(frozen=True, slots=True)
class Reply:
    """Every response in a 271 interchange, in file order."""

    responses: tuple[Response, ...]
    control_numbers: tuple[str, ...]


# --- parsing -----------------------------------------------------------------


def _el(seg: list[str], pos: int) -> str:
    return seg[pos] if pos < len(seg) else ""


def _need(seg: list[str], pos: int, n: int) -> str:
    if pos < len(seg) and seg[pos]:
        return seg[pos]
    raise X12Error(f"{seg[0]}{pos:02d} is missing", segment=n, position=pos)


def _dtp(seg: list[str], n: int) -> tuple[str, tuple[dt.date, dt.date]]:
    qual = _need(seg, 1, n)
    fmt = _need(seg, 2, n)
    text = _need(seg, 3, n)
    if fmt == "D8":
        day = d8_element(text, seg, 3, n)
        return qual, (day, day)
    if fmt == "RD8":
        first, sep, last = text.partition("-")
        if not sep:
            raise X12Error(
                f"DTP03 is not a CCYYMMDD-CCYYMMDD range: {text[:40]!r}", segment=n, position=3
            )
        return qual, (d8_element(first, seg, 3, n), d8_element(last, seg, 3, n))
    raise X12Error(f"DTP02 {fmt[:10]!r} is not D8 or RD8", segment=n, position=2)


def _eb(seg: list[str], n: int, rep: str) -> Benefit:
    code = _need(seg, 1, n)
    amount_text = _el(seg, 7) or None
    amount_cents = None
    if amount_text is not None:
        try:
            amount_cents = cents(amount_text)
        except ValueError:
            raise X12Error(
                f"EB07 is not a decimal amount: {amount_text[:40]!r}", segment=n, position=7
            ) from None
    percent = None
    if _el(seg, 8):
        try:
            fraction = Decimal(seg[8])
        except InvalidOperation:
            fraction = Decimal(-1)
        if not seg[8].isascii() or not fraction.is_finite() or not 0 <= fraction <= 1:
            raise X12Error(
                f"EB08 is not a percent between 0 and 1: {seg[8][:40]!r}", segment=n, position=8
            )
        percent = (fraction * 100).normalize()
        if percent == percent.to_integral_value():
            percent = percent.quantize(Decimal(1))
    network = _el(seg, 12)
    return Benefit(
        code=code,
        coverage_level=_el(seg, 2) or None,
        service_types=tuple(s for s in _el(seg, 3).split(rep) if s),
        insurance_type=_el(seg, 4) or None,
        plan=_el(seg, 5) or None,
        time_period=_el(seg, 6) or None,
        amount_cents=amount_cents,
        amount_text=amount_text,
        percent=percent,
        in_network=True if network == "Y" else False if network == "N" else None,
        segment=n,
    )


_LOOP_OF_LEVEL = {"20": "2100A", "21": "2100B", "22": "2100C", "23": "2100D"}


def parse_271(text: str) -> Reply:
    """Reads every 271 transaction in the interchange.

    Raises X12Error (and nothing else) on text that is not a well-formed 271.
    """
    head, d = begin(text)
    try:
        return _walk(list(iter_segments(head, d)), d.repetition)
    except X12Error:
        raise
    except (IndexError, ValueError, TypeError, KeyError) as exc:  # pragma: no cover - net
        raise X12Error(f"unreadable 271: {exc}") from exc


def _walk(segs: list[list[str]], rep: str) -> Reply:
    responses: list[Response] = []
    controls: list[str] = []
    in_txn = False
    st_n = 0
    control = ""
    level = ""  # HL03 of the current level
    in_2110 = False
    in_2120 = False
    payer_id: str | None = None
    upper: list[Rejection] = []  # 2100A/2100B rejections waiting for a subscriber
    upper_used = False
    subscriber: Response | None = None
    current: Response | None = None
    groups_open = False
    saw_iea = False

    def flush_upper() -> None:
        nonlocal upper, upper_used
        if upper and not upper_used:
            responses.append(Response(None, False, payer_id, rejections=list(upper)))
        upper = []
        upper_used = False

    for n, seg in enumerate(segs, 1):
        sid = seg[0]
        if saw_iea:
            if sid == "ISA":
                saw_iea = False
                continue
            raise X12Error(f"{sid[:10]} after the IEA trailer", segment=n, position=0)
        if not in_txn:
            if sid == "ISA":
                continue
            if sid == "GS":
                if _el(seg, 1) != "HB":
                    raise X12Error(
                        f"GS01 is {_el(seg, 1)[:10]!r}, a 271 group is HB", segment=n, position=1
                    )
                groups_open = True
                continue
            if sid == "ST":
                if _el(seg, 1) != "271":
                    raise X12Error(
                        f"expected a 271, found ST01 {_el(seg, 1)[:10]!r}", segment=n, position=1
                    )
                if not groups_open:
                    raise X12Error("ST outside a functional group (no GS)", segment=n, position=0)
                in_txn, st_n, control = True, n, _need(seg, 2, n)
                level, payer_id, subscriber, current = "", None, None, None
                upper, upper_used, in_2110, in_2120 = [], False, False, False
                continue
            if sid == "GE":
                groups_open = False
                continue
            if sid == "IEA":
                saw_iea = True
                continue
            raise X12Error(f"{sid[:10]} outside a transaction (no ST before it)", segment=n)
        # inside ST ... SE
        if sid == "SE":
            flush_upper()
            count = _need(seg, 1, n)
            if count != str(n - st_n + 1):
                raise X12Error(
                    f"SE01 says {count[:10]} segments, the transaction has {n - st_n + 1}",
                    segment=n,
                    position=1,
                )
            if _el(seg, 2) != control:
                raise X12Error(
                    f"SE02 {_el(seg, 2)[:10]!r} does not match ST02 {control[:10]!r}",
                    segment=n,
                    position=2,
                )
            controls.append(control)
            in_txn = False
            continue
        if sid == "BHT":
            continue
        if sid == "HL":
            code = _need(seg, 3, n)
            if code not in _LOOP_OF_LEVEL:
                raise X12Error(f"HL03 {code[:10]!r} is not 20, 21, 22 or 23", segment=n, position=3)
            if code in ("20", "21"):
                flush_upper()
                subscriber = current = None
            elif code == "22":
                current = subscriber = Response(None, False, payer_id, segment=n)
                subscriber.rejections.extend(upper)
                responses.append(subscriber)
                if upper:
                    upper_used = True
            else:
                if subscriber is None:
                    raise X12Error(
                        "dependent level (HL03 23) without a subscriber level before it",
                        segment=n,
                        position=3,
                    )
                current = Response(subscriber.member_id, True, payer_id, segment=n)
                current.rejections.extend(upper)
                current.trace_numbers.extend(subscriber.trace_numbers)
                responses.append(current)
            level, in_2110, in_2120 = code, False, False
            continue
        if level == "":
            raise X12Error(f"{sid[:10]} before the first HL", segment=n, position=0)
        if sid == "LS":
            in_2120 = True
            continue
        if sid == "LE":
            in_2120 = False
            continue
        if in_2120:
            continue  # 2120 benefit related entity (other payer, PCP): not needed here
        if sid == "NM1":
            qual = _el(seg, 1)
            if level == "20" and qual in ("PR", "2B", "36", "GP", "P5"):
                payer_id = _el(seg, 9) or None
            elif level == "22" and current is not None:
                if qual != "IL":
                    raise X12Error(
                        f"NM101 {qual[:10]!r} in the subscriber loop, IL expected",
                        segment=n,
                        position=1,
                    )
                current.member_id = _el(seg, 9) or None
            elif level == "23" and qual != "03":
                raise X12Error(
                    f"NM101 {qual[:10]!r} in the dependent loop, 03 expected",
                    segment=n,
                    position=1,
                )
            continue
        if sid == "TRN":
            if current is not None and _el(seg, 1) == "2":
                current.trace_numbers.append(_need(seg, 2, n))
            continue
        if sid == "AAA":
            if _el(seg, 1) not in ("Y", "N"):
                raise X12Error(
                    f"AAA01 is {_el(seg, 1)[:10]!r}, Y or N expected", segment=n, position=1
                )
            loop = _LOOP_OF_LEVEL.get(level, "2100A")
            if in_2110:
                loop = "2110" + loop[-1]
            rej = Rejection(loop, _need(seg, 3, n), _el(seg, 4) or None, n)
            if level in ("22", "23") and current is not None:
                current.rejections.append(rej)
            else:
                upper.append(rej)
            continue
        if sid == "EB":
            if current is None:
                raise X12Error("EB outside a subscriber or dependent level", segment=n, position=0)
            in_2110 = True
            current.benefits.append(_eb(seg, n, rep))
            continue
        if sid == "DTP":
            qual, span = _dtp(seg, n)
            if current is not None and not in_2110:
                current.dates[qual] = span
            continue
        # REF, N3, N4, PRV, DMG, INS, HI, MPI, HSD, MSG, III, EB-level REF: not needed here
    if in_txn:
        raise X12Error(
            f"transaction {control[:10]} has no SE trailer", segment=len(segs), position=0
        )
    if not saw_iea:
        raise X12Error("truncated interchange: no IEA trailer", segment=len(segs), position=0)
    if not controls:
        raise X12Error("no 271 transaction in the interchange", segment=len(segs), position=0)
    return Reply(tuple(_drop_silent_subscribers(responses)), tuple(controls))


def _drop_silent_subscribers(responses: list[Response]) -> list[Response]:
    """A subscriber level that only frames its dependents says nothing about the subscriber."""
    out: list[Response] = []
    for i, r in enumerate(responses):
        nxt = responses[i + 1] if i + 1 < len(responses) else None
        silent = not r.benefits and not r.rejections and not r.dates
        if not r.dependent and silent and nxt is not None and nxt.dependent:
            continue
        out.append(r)
    return out


# --- JSON --------------------------------------------------------------------


def benefit_json(b: Benefit) -> dict[str, Any]:
    return {
        "code": b.code,
        "service_types": list(b.service_types),
        "coverage_level": b.coverage_level,
        "amount": b.amount_text,
        "percent": str(b.percent) if b.percent is not None else None,
        "time_period": b.time_period,
        "in_network": b.in_network,
    }


def to_json(reply: Reply) -> dict[str, Any]:
    """The `rcm x12 parse-271` shape; amounts are the decimal text as the payer wrote it,
    percents are percentages (EB08 .2 -> "20")."""
    return {
        "responses": [
            {
                "member_id": r.member_id,
                "active": r.active,
                "benefits": [benefit_json(b) for b in r.benefits],
                "rejections": [{"code": x.code, "message": x.message} for x in r.rejections],
            }
            for r in reply.responses
        ]
    }
