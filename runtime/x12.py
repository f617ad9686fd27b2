"""X12 envelope and segment plumbing shared by every X12 reader and writer.

Transaction semantics (837P, 835, 999, 277CA, 270/271) live with the service
that owns them; this module only knows delimiters, segments and envelopes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

ISA_LENGTH = 106


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
        envelope.sender_id.strip(),
        envelope.receiver_id.strip(),
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


def delimiters_of(text: str) -> Delimiters:
    """Reads the delimiters an interchange declares in its fixed-width ISA."""
    start = text.find("ISA")
    if start < 0:
        raise X12Error("not X12: no ISA segment", segment=1, position=0)
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
    separators = (d.element, d.component, d.segment)
    if len(set(separators)) != 3 or any(c.isalnum() or c == " " for c in separators):
        raise X12Error(
            f"ISA declares unusable delimiters {separators!r}", segment=1, position=start
        )
    return d


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


def segments(text: str) -> tuple[Delimiters, list[list[str]]]:
    """Splits an interchange into segments of elements, whatever delimiters the ISA declares."""
    d = delimiters_of(text)
    out = list(iter_segments(text, d))
    if not out or out[-1][0] != "IEA":
        raise X12Error(
            "truncated interchange: no IEA trailer", segment=len(out), position=len(text)
        )
    return d, out


def begin(text: object) -> tuple[str, Delimiters]:
    """The interchange text from its ISA on, and its delimiters; X12Error when the text is
    not X12 or its last segment is cut off (no terminator after it)."""
    if not isinstance(text, str):
        raise X12Error("not X12: expected text", segment=1, position=0)
    head = text.lstrip(" \t\r\n\ufeff")
    if not head.startswith("ISA"):
        raise X12Error(f"not X12: expected ISA, found {head[:3]!r}", segment=1, position=0)
    d = delimiters_of(head)
    tail = head.rstrip("".join(c for c in " \t\r\n" if c != d.segment))
    if not tail.endswith(d.segment):
        last = tail[tail.rfind(d.segment) + 1 :].strip().split(d.element)
        raise X12Error(
            f"truncated: {last[0][:10]} is cut off (no segment terminator {d.segment!r} after it)",
            segment=tail.count(d.segment) + 1,
            position=len(last) - 1,
        )
    return head, d
