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
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation

from runtime.x12 import (
    Warnings,
    X12Error,
    begin,
    cents,
    d8_element,
    read_segments,
)
from services.eligibility.x12_271_json import benefit_json, read_through, response_json, to_json
from services.eligibility.x12_271_model import (
    ACTIVE_CODES,
    INACTIVE_CODES,
    Benefit,
    Rejection,
    Reply,
    Response,
)

__all__ = [
    "ACTIVE_CODES",
    "INACTIVE_CODES",
    "Benefit",
    "Rejection",
    "Reply",
    "Response",
    "benefit_json",
    "parse_271",
    "read_through",
    "response_json",
    "to_json",
]

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


#: The largest 271 read (characters): a file past it is refused before it is read.
MAX_FILE = 128 * 1024 * 1024


def parse_271(
    text: str,
    *,
    max_file: int = MAX_FILE,
    on_response: Callable[[Response], None] | None = None,
) -> Reply:
    """Reads every 271 transaction in the interchange.

    Reads through what a careful person would (a wrong SE, GE or IEA count or control
    number, a DTP that is not a date, spaces between segments, a lower-case segment id,
    an unpadded ISA, no terminator after the last IEA), each a warning on the reply.
    Raises X12Error (and nothing else) on text that is not a well-formed 271.

    ``on_response``: each response is handed to it once read instead of being kept (the
    reply's ``responses`` is then empty), so a large file's are never all held.
    """
    if isinstance(text, str) and len(text) > max_file:
        raise X12Error(
            f"the file is {len(text):,} characters, more than the {max_file:,} a 271 may have"
        )
    w = Warnings()
    head, d = begin(text, w)
    rep = d.repetition
    if rep.isalnum() or rep.isspace() or rep in (d.element, d.component, d.segment):
        raise X12Error(
            f"ISA11 {rep!r} is not a usable repetition separator", segment=1, position=11
        )
    try:
        return _walk(read_segments(head, d, w), rep, w, on_response)
    except X12Error:
        raise
    except (IndexError, ValueError, TypeError, KeyError) as exc:  # pragma: no cover - net
        raise X12Error(f"unreadable 271: {exc}") from exc


def _walk(
    segs: Iterable[list[str]],
    rep: str,
    warnings: Warnings,
    on_response: Callable[[Response], None] | None,
) -> Reply:
    kept: list[Response] = []
    w = _Walk(rep, warnings, kept.append if on_response is None else on_response)
    n = 0
    for n, seg in enumerate(segs, 1):
        sid = seg[0]
        if w.saw_iea:
            if sid == "ISA":
                w.saw_iea = False
                w.isa(seg, n)
                continue
            raise X12Error(f"{sid[:10]} after the IEA trailer", segment=n, position=0)
        if w.in_txn:
            w.in_transaction(sid, seg, n)
        else:
            w.in_envelope(sid, seg, n)
    if w.in_txn:
        raise X12Error(f"transaction {w.control[:10]} has no SE trailer", segment=n, position=0)
    if not w.saw_iea:
        raise X12Error("truncated interchange: no IEA trailer", segment=n, position=0)
    if not w.controls:
        raise X12Error("no 271 transaction in the interchange", segment=n, position=0)
    w.flush()
    return Reply(tuple(kept), tuple(w.controls), warnings.result())


class _Walk:
    """Where one pass over a 271 interchange stands: the envelope, the transaction and
    the HL level it is in, and the responses read so far."""

    def __init__(self, rep: str, warnings: Warnings, sink: Callable[[Response], None]) -> None:
        self.rep = rep
        self.warnings = warnings
        self.sink = sink
        self.held: Response | None = None  # the last response, complete once the next comes
        self.isa_seg: list[str] | None = None
        self.interchanges: dict[tuple[str, str], int] = {}
        self.gs_control = ""
        self.groups = 0
        self.txns = 0
        self.controls: list[str] = []
        self.in_txn = False
        self.st_n = 0
        self.control = ""
        self.level = ""  # HL03 of the current level
        self.in_2110 = False
        self.in_2120 = False
        self.payer_id: str | None = None
        self.upper: list[Rejection] = []  # 2100A/2100B rejections waiting for a subscriber
        self.upper_used = False
        self.subscriber: Response | None = None
        self.current: Response | None = None
        self.groups_open = False
        self.saw_iea = False

    def emit(self, r: Response) -> None:
        """Hands the response before ``r`` on, complete now, unless it is a subscriber
        level that only frames its dependents: it says nothing about the subscriber."""
        prev, self.held = self.held, r
        if prev is None:
            return
        silent = not prev.benefits and not prev.rejections and not prev.dates
        if prev.dependent or not silent or not r.dependent:
            self.sink(prev)

    def flush(self) -> None:
        if self.held is not None:
            self.sink(self.held)
            self.held = None

    def flush_upper(self) -> None:
        if self.upper and not self.upper_used:
            self.emit(Response(None, False, self.payer_id, rejections=list(self.upper)))
        self.upper = []
        self.upper_used = False

    def in_envelope(self, sid: str, seg: list[str], n: int) -> None:
        """A segment outside ST ... SE."""
        if sid == "ISA":
            self.isa(seg, n)
            return
        if sid == "GS":
            if _el(seg, 1) != "HB":
                raise X12Error(
                    f"GS01 is {_el(seg, 1)[:10]!r}, a 271 group is HB", segment=n, position=1
                )
            if self.groups_open:
                raise X12Error("GS before the previous GE", segment=n, position=0)
            self.groups_open, self.gs_control, self.txns = True, _el(seg, 6), 0
            self.groups += 1
            return
        if sid == "ST":
            if _el(seg, 1) != "271":
                raise X12Error(
                    f"expected a 271, found ST01 {_el(seg, 1)[:10]!r}", segment=n, position=1
                )
            if not self.groups_open:
                raise X12Error("ST outside a functional group (no GS)", segment=n, position=0)
            self.in_txn, self.st_n, self.control = True, n, _need(seg, 2, n)
            self.txns += 1
            self.level, self.payer_id, self.subscriber, self.current = "", None, None, None
            self.upper, self.upper_used, self.in_2110, self.in_2120 = [], False, False, False
            return
        if sid == "GE":
            self.ge(seg, n)
            return
        if sid == "IEA":
            self.iea(seg, n)
            return
        raise X12Error(f"{sid[:10]} outside a transaction (no ST before it)", segment=n)

    def in_transaction(self, sid: str, seg: list[str], n: int) -> None:
        """A segment inside ST ... SE."""
        if sid == "SE":
            self.trailer(seg, n)
            return
        if sid == "BHT":
            return
        if sid == "HL":
            self.hl(seg, n)
            return
        if self.level == "":
            raise X12Error(f"{sid[:10]} before the first HL", segment=n, position=0)
        if sid == "LS":
            self.in_2120 = True
            return
        if sid == "LE":
            self.in_2120 = False
            return
        if self.in_2120:
            return  # 2120 benefit related entity (other payer, PCP): not needed here
        current = self.current
        if sid == "NM1":
            self.nm1(seg, n)
        elif sid == "TRN":
            if current is not None and _el(seg, 1) == "2":
                current.trace_numbers.append(_need(seg, 2, n))
        elif sid == "AAA":
            self.aaa(seg, n)
        elif sid == "EB":
            if current is None:
                raise X12Error("EB outside a subscriber or dependent level", segment=n, position=0)
            self.in_2110 = True
            current.benefits.append(_eb(seg, n, self.rep))
        elif sid == "DTP":
            try:
                qual, span = _dtp(seg, n)
            except X12Error as exc:  # a date never decides whether a person is covered
                self.warnings.add(n, "DTP", exc.position or 0, f"{exc}: the date is not kept")
                return
            if current is not None and not self.in_2110:
                current.dates[qual] = span
        # REF, N3, N4, PRV, DMG, INS, HI, MPI, HSD, MSG, III, EB-level REF: not needed here

    def trailer(self, seg: list[str], n: int) -> None:
        self.flush_upper()
        count, w = _el(seg, 1), self.warnings
        if count != str(n - self.st_n + 1):
            w.add(
                n, "SE", 1,
                f"SE01 says {count[:10]!r} segments, the transaction has {n - self.st_n + 1}",
            )  # fmt: skip
        if _el(seg, 2) != self.control:
            w.add(
                n, "SE", 2,
                f"SE02 {_el(seg, 2)[:10]!r} does not match ST02 {self.control[:10]!r}",
            )  # fmt: skip
        self.controls.append(self.control)
        self.in_txn = False

    def isa(self, seg: list[str], n: int) -> None:
        """An interchange opens: once per IEA, and each (sender, ISA13) once per file."""
        if self.isa_seg is not None:
            raise X12Error("ISA before the previous IEA", segment=n, position=0)
        if len(seg) != 17:
            raise X12Error(f"ISA has {len(seg)} elements, 17 expected", segment=n, position=0)
        key = (seg[6].strip(), seg[13])
        if key in self.interchanges:
            raise X12Error(
                f"interchange {seg[13][:9]} repeats the one at segment {self.interchanges[key]}",
                segment=n,
                position=13,
            )
        self.interchanges[key] = n
        self.isa_seg, self.groups = seg, 0

    def ge(self, seg: list[str], n: int) -> None:
        if not self.groups_open:
            raise X12Error("GE without GS", segment=n, position=0)
        self.groups_open = False
        if _el(seg, 1) != str(self.txns):
            self.warnings.add(
                n,
                "GE",
                1,
                f"GE01 says {_el(seg, 1)[:10]!r} transactions, the group has {self.txns}",
            )
        if _el(seg, 2) != self.gs_control:
            self.warnings.add(
                n,
                "GE",
                2,
                f"GE02 {_el(seg, 2)[:10]!r} does not match GS06 {self.gs_control[:10]!r}",
            )

    def iea(self, seg: list[str], n: int) -> None:
        if self.groups_open:
            raise X12Error("IEA before GE (the group is not closed)", segment=n, position=0)
        isa = self.isa_seg
        if isa is None:
            raise X12Error("IEA without ISA", segment=n, position=0)
        if _el(seg, 1) != str(self.groups):
            self.warnings.add(
                n,
                "IEA",
                1,
                f"IEA01 says {_el(seg, 1)[:10]!r} groups, the interchange has {self.groups}",
            )
        if _el(seg, 2) != isa[13]:
            self.warnings.add(
                n, "IEA", 2, f"IEA02 {_el(seg, 2)[:10]!r} does not match ISA13 {isa[13][:10]!r}"
            )
        self.isa_seg, self.saw_iea = None, True

    def hl(self, seg: list[str], n: int) -> None:
        code = _need(seg, 3, n)
        if code not in _LOOP_OF_LEVEL:
            raise X12Error(f"HL03 {code[:10]!r} is not 20, 21, 22 or 23", segment=n, position=3)
        if code in ("20", "21"):
            self.flush_upper()
            self.subscriber = self.current = None
        elif code == "22":
            subscriber = Response(None, False, self.payer_id, segment=n)
            self.current = self.subscriber = subscriber
            subscriber.rejections.extend(self.upper)
            self.emit(subscriber)
            if self.upper:
                self.upper_used = True
        else:
            if self.subscriber is None:
                raise X12Error(
                    "dependent level (HL03 23) without a subscriber level before it",
                    segment=n,
                    position=3,
                )
            current = Response(self.subscriber.member_id, True, self.payer_id, segment=n)
            current.rejections.extend(self.upper)
            current.trace_numbers.extend(self.subscriber.trace_numbers)
            self.emit(current)
            self.current = current
        self.level, self.in_2110, self.in_2120 = code, False, False

    def nm1(self, seg: list[str], n: int) -> None:
        qual = _el(seg, 1)
        if self.level == "20" and qual in ("PR", "2B", "36", "GP", "P5"):
            self.payer_id = _el(seg, 9) or None
        elif self.level == "22" and self.current is not None:
            if qual != "IL":
                raise X12Error(
                    f"NM101 {qual[:10]!r} in the subscriber loop, IL expected",
                    segment=n,
                    position=1,
                )
            self.current.member_id = _el(seg, 9) or None
        elif self.level == "23" and qual != "03":
            raise X12Error(
                f"NM101 {qual[:10]!r} in the dependent loop, 03 expected",
                segment=n,
                position=1,
            )

    def aaa(self, seg: list[str], n: int) -> None:
        if _el(seg, 1) not in ("Y", "N"):
            raise X12Error(f"AAA01 is {_el(seg, 1)[:10]!r}, Y or N expected", segment=n, position=1)
        loop = _LOOP_OF_LEVEL.get(self.level, "2100A")
        if self.in_2110:
            loop = "2110" + loop[-1]
        rej = Rejection(loop, _need(seg, 3, n), _el(seg, 4) or None, n)
        if self.level in ("22", "23") and self.current is not None:
            self.current.rejections.append(rej)
        else:
            self.upper.append(rej)
