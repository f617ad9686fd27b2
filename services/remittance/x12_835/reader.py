"""X12 5010 835 (005010X221A1) reader: payer remittances to project-owned records.

A hand-written walk over :func:`runtime.x12.segments`, not x12sdk's pydantic
models: the walk is two orders of magnitude faster and reports bad text as
``X12Error`` naming the segment number, the segment id and the element position
(x12sdk raises pydantic and ``ValueError`` exceptions of its own). x12sdk is used
only in the tests, as an independent second reading.

Each segment is read by the handler the table of the loop the reader is in names for
its id (envelope.py, segments.py); a segment with no handler is refused between
transactions and passed over inside one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from runtime.x12 import Warnings, X12Error, begin, read_segments
from services.remittance.x12_835 import envelope as env
from services.remittance.x12_835 import segments as s
from services.remittance.x12_835.model import RemitClaim, Remittance
from services.remittance.x12_835.state import Handler, Reader, Tables

_IN_ANY_LOOP: dict[str, Handler] = {
    "ST": env.st,
    "SE": env.se,
    "ISA": env.inside_transaction,
    "IEA": env.inside_transaction,
    "GS": env.inside_transaction,
    "GE": env.inside_transaction,
    "BPR": s.bpr,
    "LX": s.lx,
    "CLP": s.clp,
    "PLB": s.plb,
}

_ENVELOPE: dict[str, Handler] = {
    "ISA": env.isa,
    "GS": env.gs,
    "ST": env.st,
    "GE": env.ge,
    "IEA": env.iea,
}

#: The transaction's header (1000A payer, 1000B payee), and between claims.
_HEADER: dict[str, Handler] = {
    **_IN_ANY_LOOP,
    "TRN": s.trn,
    "N1": s.n1,
    "REF": s.ref_header,
    "CAS": s.refuse("CAS outside a claim (no CLP before it)"),
    "SVC": s.refuse("SVC outside a claim (no CLP before it)"),
    "LQ": s.refuse("LQ outside a service line (no SVC before it)"),
    "MOA": s.refuse("MOA outside a claim"),
    "MIA": s.refuse("MIA outside a claim"),
}

_IN_A_CLAIM: dict[str, Handler] = {
    **_IN_ANY_LOOP,
    "NM1": s.nm1,
    "MOA": s.moa,
    "MIA": s.mia,
    "SVC": s.svc,
    "CAS": s.cas,
}

#: 2100: the claim, before its first service line.
_CLAIM: dict[str, Handler] = {
    **_IN_A_CLAIM,
    "DTM": s.dtm_claim,
    "LQ": s.refuse("LQ outside a service line (no SVC before it)"),
}

#: 2110: a service line.
_LINE: dict[str, Handler] = {
    **_IN_A_CLAIM,
    "DTM": s.dtm_line,
    "REF": s.ref_line,
    "AMT": s.amt_line,
    "LQ": s.lq_line,
}

#: In the order of state.ENVELOPE, HEADER, CLAIM, LINE.
TABLES: Tables = (
    (_ENVELOPE, env.outside),
    (_HEADER, s.ignore),
    (_CLAIM, s.ignore),
    (_LINE, s.ignore),
)


#: The largest 835 read (characters): a file past it is refused before it is read.
MAX_FILE = 128 * 1024 * 1024


def parse_835(
    text: str,
    *,
    max_file: int = MAX_FILE,
    on_claim: Callable[[RemitClaim], None] | None = None,
) -> Remittance:
    """Reads every 835 transaction in every interchange of ``text``.

    Reads through the faults a careful person would (a wrong SE, GE or IEA count or
    control number, a date that is not one, a composite with another separator than
    ISA16 where its meaning is plain, spaces between segments, a lower-case segment id,
    an unpadded ISA, no terminator after the last IEA): each is a warning on the result.
    Raises X12Error (and nothing else) on text that cannot be read unambiguously.

    ``on_claim``: each claim is handed to it as it ends instead of being kept (the
    result's ``claims`` is then empty), so the claims of a large file are never all held.
    """
    if isinstance(text, str) and len(text) > max_file:
        raise X12Error(
            f"the file is {len(text):,} characters, more than the {max_file:,} an 835 may have"
        )
    w = Warnings()
    head, d = begin(text, w)
    try:
        return _read(read_segments(head, d, w), d.component, w, on_claim)
    except X12Error:
        raise
    except (IndexError, ValueError, TypeError, KeyError) as exc:  # pragma: no cover - net
        raise X12Error(f"unreadable 835: {exc}", segment=None) from exc


def _read(
    segs: Iterable[list[str]],
    comp: str,
    w: Warnings,
    on_claim: Callable[[RemitClaim], None] | None = None,
) -> Remittance:
    r = Reader(comp, TABLES, w)
    if on_claim is not None:
        r.sink = on_claim
    n = 0
    seg = [""]
    for n, seg in enumerate(segs, 1):
        r.table.get(seg[0], r.otherwise)(r, seg, n)
    return _end(r, w, n, seg)


def _end(r: Reader, w: Warnings, n: int, seg: list[str]) -> Remittance:
    if n == 0:
        raise X12Error("not X12: no segments", segment=1, position=0)
    if r.isa is not None or r.txn is not None:
        raise X12Error(
            f"truncated interchange: it ends after {seg[0][:10]} without IEA",
            segment=n,
            position=0,
        )
    return Remittance(tuple(r.payments), tuple(r.claims), tuple(r.plbs), w.result())


class ClaimStream:
    """An 835's claims one at a time, as the reader finishes each, so a large file's
    claims are never all held (the remittance service posts in chunks from this).
    Iterating reads the whole file (each iteration reads it again, unless the first
    read found at most ``keep`` claims: those are kept and given again); afterwards
    ``rest`` is the file without its claims (payments, provider adjustments, warnings).
    Raises X12Error as :func:`parse_835` does, on the same files."""

    def __init__(self, text: str, *, max_file: int = MAX_FILE, keep: int = 0) -> None:
        if len(text) > max_file:
            raise X12Error(
                f"the file is {len(text):,} characters, more than the {max_file:,} an 835 may have"
            )
        self.text = text
        self.rest = Remittance((), (), (), ())
        self.keep = keep
        self._kept: list[RemitClaim] | None = None

    def __iter__(self) -> Iterator[RemitClaim]:
        if self._kept is not None:
            yield from self._kept
            return
        keeping: list[RemitClaim] | None = [] if self.keep > 0 else None
        for c in self._read():
            if keeping is not None:
                keeping.append(c)
                if len(keeping) > self.keep:
                    keeping = None  # a large file: read again, never all held
            yield c
        self._kept = keeping

    def _read(self) -> Iterator[RemitClaim]:
        w = Warnings()
        head, d = begin(self.text, w)
        done: list[RemitClaim] = []
        r = Reader(d.component, TABLES, w)
        r.sink = done.append
        n = 0
        seg = [""]
        try:
            for n, seg in enumerate(read_segments(head, d, w), 1):
                r.table.get(seg[0], r.otherwise)(r, seg, n)
                if done:
                    yield from done
                    done.clear()
            self.rest = _end(r, w, n, seg)
        except X12Error:
            raise
        except (IndexError, ValueError, TypeError, KeyError) as exc:  # pragma: no cover - net
            raise X12Error(f"unreadable 835: {exc}", segment=None) from exc
