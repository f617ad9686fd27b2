"""Is a received file one whole X12 interchange, and of which kind? Pure.

The connector moves files and records receipts; the meaning of a file stays with the
room that owns it (claims reads 999 and 277CA, remittance the 835). What it checks
before accepting a file is the envelope only: ISA ... IEA once, every GS ... GE and
ST ... SE closed with the counts and control numbers its header promised, and one
transaction kind a file.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.x12 import X12Error, begin, iter_segments

#: The kinds a mailbox or an import takes in, by ST01 and (for 277) the GS08 version.
INBOUND_KINDS = ("999", "277CA", "277", "835")
MAX_FILE_BYTES = 64 * 1024 * 1024


class EnvelopeError(ValueError):
    """The file is not a whole interchange; the message says what is wrong and where."""


@dataclass(frozen=True)
class Envelope:
    sender: str  # ISA06, trimmed
    receiver: str  # ISA08, trimmed
    control_number: str  # ISA13
    kind: str  # 837, 999, 277CA, 277, 835
    transactions: int
    trace_number: str  # the first 835's TRN02 (empty for other kinds)
    payer_id: str  # the first 835's REF*2U, else N1*PR N104, else TRN03, else ISA06


def kind_of(st01: str, version: str) -> str:
    if st01 == "277" and "X214" in version:
        return "277CA"
    return st01


def check(data: bytes) -> Envelope:
    """The envelope of ``data``; EnvelopeError naming the first fault."""
    if len(data) > MAX_FILE_BYTES:
        raise EnvelopeError(f"file of {len(data)} bytes is over the {MAX_FILE_BYTES} limit")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise EnvelopeError(f"not X12: byte {exc.start} is not ASCII") from None
    try:
        head, d = begin(text)
        return _walk(list(iter_segments(head, d)))
    except X12Error as exc:
        raise EnvelopeError(str(exc)) from None


@dataclass
class _Open:
    isa: list[str] | None = None
    gs: list[str] | None = None
    st: list[str] | None = None
    st_segments: int = 0
    groups: int = 0
    sets_in_group: int = 0
    sets: int = 0


def _walk(segs: list[list[str]]) -> Envelope:
    o = _Open()
    kinds: set[str] = set()
    trace = payer = ""
    for n, seg in enumerate(segs, start=1):
        sid = seg[0].upper()
        if o.st is not None:
            o.st_segments += 1
        if sid == "ISA":
            if o.isa is not None:
                raise EnvelopeError(f"segment {n}: a second ISA (one interchange a file)")
            if len(seg) != 17:
                raise EnvelopeError(f"segment {n}: ISA has {len(seg)} elements, 17 expected")
            o.isa = seg
        elif o.isa is None:
            raise EnvelopeError(f"segment {n}: {sid} before ISA")
        elif sid == "GS":
            _expect(o.gs is None, n, "GS inside an open group (no GE)")
            o.gs, o.sets_in_group = seg, 0
        elif sid == "ST":
            _expect(o.gs is not None and o.st is None, n, "ST outside a group or inside an ST")
            assert o.gs is not None
            o.st, o.st_segments = seg, 1
            kinds.add(kind_of(seg[1] if len(seg) > 1 else "", o.gs[8] if len(o.gs) > 8 else ""))
        elif o.st is not None and o.st[1:2] == ["835"] and o.sets == 0 and sid in PAYER_IDS:
            trace, payer = _payer_id(seg, trace, payer)
        elif sid == "SE":
            _expect(o.st is not None, n, "SE without ST")
            assert o.st is not None
            _count(seg, o.st_segments, o.st[2] if len(o.st) > 2 else "", "SE", "segments", n)
            o.st = None
            o.sets_in_group += 1
            o.sets += 1
        elif sid == "GE":
            _expect(o.gs is not None and o.st is None, n, "GE without GS, or inside an ST")
            assert o.gs is not None
            _count(seg, o.sets_in_group, o.gs[6] if len(o.gs) > 6 else "", "GE", "ST", n)
            o.gs = None
            o.groups += 1
        elif sid == "IEA":
            _expect(o.gs is None, n, "IEA inside an open group (no GE)")
            _count(seg, o.groups, o.isa[13], "IEA", "GS", n)
            if n != len(segs):
                raise EnvelopeError(f"segment {n}: {len(segs) - n} segments after IEA")
            return _envelope(o, kinds, trace, payer)
    raise EnvelopeError(f"truncated: no IEA after {len(segs)} segments")


#: Where the first 835 names its payer: TRN (TRN02 the trace, TRN03 the payer's
#: identifier), N1*PR (N104), REF*2U (the payer id claims were sent to; wins).
PAYER_IDS = ("TRN", "N1", "REF")


def _payer_id(seg: list[str], trace: str, payer: str) -> tuple[str, str]:
    sid = seg[0].upper()

    def get(i: int) -> str:
        return seg[i] if len(seg) > i else ""

    if sid == "TRN" and not trace:
        return get(2), payer or get(3)
    if sid == "N1" and get(1) == "PR" and get(4):
        return trace, get(4)
    if sid == "REF" and get(1) == "2U" and get(2):
        return trace, get(2)
    return trace, payer


def _envelope(o: _Open, kinds: set[str], trace: str, payer: str) -> Envelope:
    assert o.isa is not None
    if o.sets == 0:
        raise EnvelopeError("the interchange holds no transaction set")
    if len(kinds) != 1:
        raise EnvelopeError(f"one transaction kind a file expected, found {sorted(kinds)}")
    return Envelope(
        sender=o.isa[6].strip(),
        receiver=o.isa[8].strip(),
        control_number=o.isa[13],
        kind=kinds.pop(),
        transactions=o.sets,
        trace_number=trace,
        payer_id=payer or o.isa[6].strip(),
    )


def _expect(ok: bool, n: int, what: str) -> None:
    if not ok:
        raise EnvelopeError(f"segment {n}: {what}")


def _count(seg: list[str], seen: int, control: str, sid: str, what: str, n: int) -> None:
    said = seg[1] if len(seg) > 1 else ""
    if said != str(seen):
        raise EnvelopeError(f"segment {n}: {sid}01 says {said or 'nothing'}, {seen} {what} found")
    theirs = seg[2] if len(seg) > 2 else ""
    if theirs != control:
        raise EnvelopeError(f"segment {n}: {sid}02 {theirs!r} does not match {control!r}")
