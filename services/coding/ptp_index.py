"""A compact in-memory index of NCCI PTP edits, for CMS's full practitioner tables.

CMS's practitioner PTP files hold millions of rows. As one :class:`~services.coding.ncci.PtpEdit` object and
a tuple key per row, two million rows took about 980 MB in the coding service
(``scripts/coding_full_tables.py``). Here each edit is one packed integer under
``column1 -> column2`` (codes shared as one string object each): effective and deletion
dates as days since 1900-01-01, the modifier indicator, the pre-1996 flag and an index
into the (few) rationale texts. :meth:`PtpIndex.on` unpacks only the edit a claim hits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from services.coding import ncci  # ncci imports this module; ncci.PtpEdit is read at call time

_EPOCH = dt.date(1900, 1, 1).toordinal()
_DAYS = 0x1FFFF  # 17 bits: dates up to 2258
_MODIFIER = {0: 0, 1: 1, 9: 2}
_MODIFIER_BACK = (0, 1, 9)

Packed = int | tuple[int, ...]


def _days(d: dt.date) -> int:
    n = d.toordinal() - _EPOCH
    if not 0 < n <= _DAYS:
        raise ValueError(f"date {d.isoformat()} is outside 1900-2258")
    return n


class PtpIndex:
    """``column1 -> column2 -> packed edits``, in the order given (the first edit in
    force on a date of service wins, as the loader orders them newest first)."""

    __slots__ = ("_by_c1", "_canon", "_hits", "_rationales", "_why", "pairs", "rows")

    def __init__(self, edits: Iterable[ncci.PtpEdit] = ()) -> None:
        self._by_c1: dict[str, dict[str, Packed]] = {}
        self._canon: dict[str, str] = {}
        self._why: dict[str, int] = {}
        self._hits: dict[tuple[str, str, int], ncci.PtpEdit] = {}
        """Edits already unpacked: a day's claims hit the same few pairs again and again."""
        self._rationales: list[str] = []
        self.pairs = self.rows = 0
        for e in edits:
            self.add(e)

    def add(self, e: ncci.PtpEdit) -> None:
        """Pack one more edit (while the index is built; it is not shared before)."""
        self.rows += 1
        why = self._why.get(e.rationale)
        if why is None:
            why = self._why[e.rationale] = len(self._why)
            self._rationales.append(e.rationale)
        packed = (
            _days(e.effective)
            | ((_days(e.deletion) if e.deletion else 0) << 17)
            | (_MODIFIER[e.modifier_indicator] << 34)
            | (int(e.prior_1996) << 36)
            | (why << 37)
        )
        c1 = self._canon.setdefault(e.column1, e.column1)
        c2 = self._canon.setdefault(e.column2, e.column2)
        inner = self._by_c1.get(c1)
        if inner is None:
            inner = self._by_c1[c1] = {}
        prev = inner.get(c2)
        if prev is None:
            self.pairs += 1
            inner[c2] = packed
        else:
            inner[c2] = (*((prev,) if isinstance(prev, int) else prev), packed)

    def column1(self) -> frozenset[str]:
        return frozenset(self._by_c1)

    def on(self, column1: str, column2: str, dos: dt.date) -> ncci.PtpEdit | None:
        """The pair's edit in force on the date of service, if any."""
        inner = self._by_c1.get(column1)
        found = inner.get(column2) if inner is not None else None
        if found is None:
            return None
        day = dos.toordinal() - _EPOCH
        for p in (found,) if isinstance(found, int) else found:
            deletion = (p >> 17) & _DAYS
            if (p & _DAYS) <= day and (deletion == 0 or day < deletion):
                key = (column1, column2, p)
                hit = self._hits.get(key)
                if hit is None:
                    if len(self._hits) >= 65536:
                        self._hits.clear()  # bounded
                    hit = self._hits[key] = self._edit(column1, column2, p)
                return hit
        return None

    def _edit(self, column1: str, column2: str, p: int) -> ncci.PtpEdit:
        deletion = (p >> 17) & _DAYS
        return ncci.PtpEdit(
            column1=column1,
            column2=column2,
            prior_1996=bool((p >> 36) & 1),
            effective=dt.date.fromordinal((p & _DAYS) + _EPOCH),
            deletion=dt.date.fromordinal(deletion + _EPOCH) if deletion else None,
            modifier_indicator=_MODIFIER_BACK[(p >> 34) & 3],
            rationale=self._rationales[p >> 37],
        )

    def __iter__(self) -> Iterator[ncci.PtpEdit]:
        for c1, inner in self._by_c1.items():
            for c2, found in inner.items():
                for p in (found,) if isinstance(found, int) else found:
                    yield self._edit(c1, c2, p)

    def __len__(self) -> int:
        """The number of code pairs."""
        return self.pairs
