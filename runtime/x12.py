"""X12 envelope and segment plumbing shared by every X12 reader and writer.

Transaction semantics (837P, 835, 999, 277CA, 270/271) live with the service
that owns them; this module only knows delimiters, segments and envelopes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

ISA_LENGTH = 106
#: The longest segment a reader takes: the longest 835 or 271 segment the TR3s allow is
#: under 1,000 characters, so a longer one is a hostile or broken file, refused by name.
MAX_SEGMENT = 4096
#: Distinct warnings kept per file; past it they are counted, not kept.
MAX_WARNINGS = 100


class X12Error(ValueError):
    """An X12 text that cannot be read. Names the segment and position."""

    def __init__(self, message: str, *, segment: int | None = None, position: int | None = None):
        if not message.isprintable():  # one line, whatever bytes the file quoted
            message = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
        where = []
        if segment is not None:
            where.append(f"segment {segment}")
        if position is not None:
            where.append(f"position {position}")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)
        self.segment = segment
        self.position = position


@dataclass(frozen=True, slots=True)
class X12Warning:
    """A fault a reader read through: where it is (segment number, segment id, element
    position), what was wrong and how it was read. ``count``: how many segments had the
    same fault (the first one's place is kept)."""

    segment: int
    segment_id: str
    position: int
    message: str
    count: int = 1

    def as_json(self) -> dict[str, object]:
        return {
            "segment": self.segment,
            "segment_id": self.segment_id,
            "position": self.position,
            "message": self.message,
            "count": self.count,
        }


class Warnings:
    """The warnings of one file, in the order found; a fault given a ``kind`` is kept
    once and counted; at most :data:`MAX_WARNINGS` are kept."""

    __slots__ = ("_kinds", "dropped", "items")

    def __init__(self) -> None:
        self.items: list[X12Warning] = []
        self._kinds: dict[str, int] = {}
        self.dropped = 0

    def add(
        self, segment: int, segment_id: str, position: int, message: str, kind: str | None = None
    ) -> None:
        if kind is not None and kind in self._kinds:
            k = self._kinds[kind]
            w = self.items[k]
            self.items[k] = X12Warning(w.segment, w.segment_id, w.position, w.message, w.count + 1)
            return
        if len(self.items) >= MAX_WARNINGS:
            self.dropped += 1
            return
        if not message.isprintable():
            message = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
        if kind is not None:
            self._kinds[kind] = len(self.items)
        self.items.append(X12Warning(segment, segment_id[:10], position, message))

    def result(self) -> tuple[X12Warning, ...]:
        if self.dropped:
            more = X12Warning(0, "", 0, f"{self.dropped} more warnings not kept", self.dropped)
            return (*self.items, more)
        return tuple(self.items)


@dataclass(frozen=True, slots=True)
class Delimiters:
    element: str = "*"
    repetition: str = "^"
    component: str = ":"
    segment: str = "~"


DEFAULT = Delimiters()


def money(cents: int) -> str:
    """Cents to an X12 decimal amount: no trailing zeros past the point, as payers write it."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:02d}".rstrip("0")


def d8(text: str) -> dt.date:
    """An X12 D8 date (CCYYMMDD) as a date; ValueError if it is not one. Eight ASCII
    digits exactly: strptime's ``%Y%m%d`` also took seven ("2026111"), and cost ten
    times as much."""
    if len(text) == 8 and text.isascii() and text.isdigit():
        try:
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            pass
    raise ValueError(f"not a CCYYMMDD date: {text[:20]!r}")


def d8_element(text: str, seg: Sequence[str], pos: int, n: int) -> dt.date:
    """:func:`d8` of ``text``, read from element ``pos`` of segment number ``n`` (``seg``):
    X12Error naming the element (``DTP03``) and where it stands when it is not a date."""
    try:
        return d8(text)
    except ValueError:
        raise X12Error(
            f"{seg[0]}{pos:02d} is not a CCYYMMDD date: {text[:40]!r}", segment=n, position=pos
        ) from None


def cents(amount: str) -> int:
    """An X12 decimal amount (R type) to integer cents, exactly."""
    text = amount.strip()
    if not text:
        raise ValueError("empty amount")
    sign = 1
    if text[0] in "+-":
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    whole, _, frac = text.partition(".")
    if (
        not text.isascii()
        or not (whole or frac)
        or not (whole or "0").isdigit()
        or (frac and not frac.isdigit())
    ):
        raise ValueError(f"not a decimal amount: {amount!r}")
    if len(frac) > 2 and set(frac[2:]) != {"0"}:
        raise ValueError(f"amount has fractions of a cent: {amount!r}")
    return sign * (int(whole or "0") * 100 + int((frac + "00")[:2]))


def segment(*elements: str | None, d: Delimiters = DEFAULT) -> str:
    """One segment; trailing empty elements are dropped as X12 requires."""
    parts = ["" if e is None else str(e) for e in elements]
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return d.element.join(parts) + d.segment


def composite(*parts: str | None, d: Delimiters = DEFAULT) -> str:
    items = ["" if p is None else p for p in parts]
    while len(items) > 1 and items[-1] == "":
        items.pop()
    return d.component.join(items)


@dataclass(frozen=True, slots=True)
class Envelope:
    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    functional_id: str
    version: str
    interchange_control_number: int
    group_control_number: int
    usage: str = "T"
    at: dt.datetime | None = None
    #: GS02 and GS03 when a trading partner's differ from its ISA ids
    gs_sender: str = ""
    gs_receiver: str = ""


def wrap(envelope: Envelope, transactions: Sequence[Sequence[str]], d: Delimiters = DEFAULT) -> str:
    """ISA/GS ... GE/IEA around transaction sets given as lists of segments (ST to SE)."""
    at = envelope.at or dt.datetime.now(dt.UTC)
    icn = f"{envelope.interchange_control_number:09d}"
    isa = (
        d.element.join(
            [
                "ISA",
                "00",
                " " * 10,
                "00",
                " " * 10,
                envelope.sender_qualifier.ljust(2),
                envelope.sender_id.ljust(15)[:15],
                envelope.receiver_qualifier.ljust(2),
                envelope.receiver_id.ljust(15)[:15],
                at.strftime("%y%m%d"),
                at.strftime("%H%M"),
                d.repetition,
                "00501",
                icn,
                "0",
                envelope.usage,
                d.component,
            ]
        )
        + d.segment
    )
    gs = segment(
        "GS",
        envelope.functional_id,
        envelope.gs_sender or envelope.sender_id.strip(),
        envelope.gs_receiver or envelope.receiver_id.strip(),
        at.strftime("%Y%m%d"),
        at.strftime("%H%M"),
        str(envelope.group_control_number),
        "X",
        envelope.version,
        d=d,
    )
    body = "".join("".join(t) for t in transactions)
    ge = segment("GE", str(len(transactions)), str(envelope.group_control_number), d=d)
    iea = segment("IEA", "1", icn, d=d)
    return isa + gs + body + ge + iea


def transaction(
    st_id: str,
    control: str,
    body: Iterable[str],
    version: str | None = None,
    d: Delimiters = DEFAULT,
) -> list[str]:
    """ST ... SE with the segment count filled in."""
    segs = [segment("ST", st_id, control, version, d=d), *body]
    segs.append(segment("SE", str(len(segs) + 1), control, d=d))
    return segs


def delimiters_of(text: str, warnings: Warnings | None = None) -> Delimiters:
    """Reads the delimiters an interchange declares in its fixed-width ISA. With
    ``warnings``, an ISA that is not 106 characters wide (elements not padded) is read by
    its element separator instead, with a warning."""
    start = text.find("ISA")
    if start < 0:
        raise X12Error("not X12: no ISA segment", segment=1, position=0)
    try:
        return _fixed_width(text, start)
    except X12Error:
        loose = _by_separator(text, start) if warnings is not None else None
        if loose is None or warnings is None:
            raise
    warnings.add(
        1,
        "ISA",
        16,
        "ISA is not 106 characters wide (elements not padded): its separators were read "
        "from ISA11 and ISA16",
    )
    return loose


def _fixed_width(text: str, start: int) -> Delimiters:
    isa = text[start : start + ISA_LENGTH]
    if len(isa) < ISA_LENGTH:
        raise X12Error("truncated ISA segment", segment=1, position=start + len(isa))
    element = isa[3]
    fields = isa.split(element)
    if len(fields) != 17:
        raise X12Error(f"ISA has {len(fields)} elements, 17 expected", segment=1, position=start)
    d = Delimiters(
        element=element,
        repetition=isa[82],
        component=isa[104],
        segment=isa[105],
    )
    if not _usable(d):
        raise X12Error(
            f"ISA declares unusable delimiters {(d.element, d.component, d.segment)!r}",
            segment=1,
            position=start,
        )
    return d


def _usable(d: Delimiters) -> bool:
    separators = (d.element, d.component, d.segment)
    return len(set(separators)) == 3 and not any(c.isalnum() or c == " " for c in separators)


def _by_separator(text: str, start: int) -> Delimiters | None:
    """An ISA read element by element: 16 element separators, then ISA16 (one character)
    and the segment terminator. None when that reading is not unambiguous either."""
    if len(text) < start + 4:
        return None
    element = text[start + 3]
    parts = text[start : start + 4 * ISA_LENGTH].split(element, 16)
    if len(parts) != 17 or len(parts[16]) < 2 or len(parts[11]) != 1:
        return None
    d = Delimiters(element, parts[11], parts[16][0], parts[16][1])
    return d if _usable(d) and d.segment not in "".join(parts[:16]) else None


def iter_segments(text: str, d: Delimiters | None = None) -> Iterator[list[str]]:
    """Segments one at a time, as element lists, from the first ISA on.

    Streams, so a large file never holds every segment at once. Does not check
    for the IEA trailer (the caller sees where the segments stop); segments() does.
    """
    if d is None:
        d = delimiters_of(text)
    element = d.element
    for raw in text[text.find("ISA") :].split(d.segment):
        raw = raw.strip("\r\n")
        if raw and not raw.isspace():
            yield raw.split(element)


def _segment_id_ok(sid: str) -> bool:
    return 2 <= len(sid) <= 3 and sid.isascii() and sid.isalnum() and sid.isupper()


def read_segments(
    text: str, d: Delimiters, warnings: Warnings, max_segment: int = MAX_SEGMENT
) -> Iterator[list[str]]:
    """Segments one at a time, as element lists, from the first ISA on, reading through
    what a careful person would (each with a warning): spaces or tabs between segments,
    a segment id in lower case. A segment longer than ``max_segment`` is refused.

    Finds one terminator after the other rather than splitting the whole text, so a
    large file never holds a second copy of itself as a list of segments."""
    element, term = d.element, d.segment
    pos = text.find("ISA")
    end_of_text = len(text)
    n = 0
    while pos < end_of_text:
        end = text.find(term, pos)
        if end < 0:
            end = end_of_text
        raw = text[pos:end].strip("\r\n")
        pos = end + 1
        if not raw or raw.isspace():
            continue
        n += 1
        if len(raw) > max_segment:
            seg = raw.split(element)
            longest = max(range(len(seg)), key=lambda k: len(seg[k]))
            raise X12Error(
                f"{seg[0][:3].strip()} segment is {len(raw)} characters long (at most "
                f"{max_segment}); its element {longest} alone is {len(seg[longest])}",
                segment=n,
                position=longest,
            )
        spaced = raw[0] in " \t\r\n\f\v"
        seg = (raw.lstrip() if spaced else raw).split(element)
        sid = seg[0]
        if not _segment_id_ok(sid) and _segment_id_ok(sid.upper()):
            seg[0] = sid.upper()
            warnings.add(
                n, seg[0], 0, f"segment id {sid!r} in lower case, read as {seg[0]}",
                kind=f"case-{seg[0]}",
            )  # fmt: skip
        if spaced:
            warnings.add(n, seg[0], 0, "spaces or tabs between segments, read through", kind="ws")
        yield seg


def segments(text: str) -> tuple[Delimiters, list[list[str]]]:
    """Splits an interchange into segments of elements, whatever delimiters the ISA declares."""
    d = delimiters_of(text)
    out = list(iter_segments(text, d))
    if not out or out[-1][0] != "IEA":
        raise X12Error(
            "truncated interchange: no IEA trailer", segment=len(out), position=len(text)
        )
    return d, out


def begin(text: object, warnings: Warnings | None = None) -> tuple[str, Delimiters]:
    """The interchange text from its ISA on, and its delimiters; X12Error when the text is
    not X12 or its last segment is cut off (no terminator after it). With ``warnings``,
    a file whose last segment is a whole IEA (IEA*count*control) without its terminator
    is read with a warning: nothing is missing from it."""
    if not isinstance(text, str):
        raise X12Error("not X12: expected text", segment=1, position=0)
    head = text.lstrip(" \t\r\n\ufeff")
    if not head.startswith("ISA"):
        raise X12Error(f"not X12: expected ISA, found {head[:3]!r}", segment=1, position=0)
    d = delimiters_of(head, warnings)
    tail = head.rstrip("".join(c for c in " \t\r\n" if c != d.segment))
    if not tail.endswith(d.segment):
        last = tail[tail.rfind(d.segment) + 1 :].strip().split(d.element)
        n = tail.count(d.segment) + 1
        if warnings is not None and _whole_iea(last):
            warnings.add(n, "IEA", 2, "no segment terminator after IEA, the file's last segment")
            return tail + d.segment, d
        raise X12Error(
            f"truncated: {last[0][:10]} is cut off (no segment terminator {d.segment!r} after it)",
            segment=n,
            position=len(last) - 1,
        )
    return head, d


def _whole_iea(seg: list[str]) -> bool:
    return (
        len(seg) == 3
        and seg[0].upper() == "IEA"
        and seg[1].isascii()
        and seg[1].isdigit()
        and len(seg[2]) == 9
        and seg[2].isascii()
        and seg[2].isdigit()
    )
