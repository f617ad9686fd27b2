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

from collections.abc import Iterator
from dataclasses import dataclass, field

from runtime.x12 import Delimiters, X12Error, segments
from services.simulator.model import ClaimIn
from services.simulator.x12_837_set import SegmentError, TransactionSet837, read_set
from services.simulator.x12_837_set import element as _el


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
                sets.append(read_set(body, start + 1, has_se, isa, gs, d.component))
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
