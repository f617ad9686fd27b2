"""NCCI procedure-to-procedure (PTP) and medically unlikely edit (MUE) tables.

Pure: parsers for CMS's published practitioner files and an immutable, indexed
:class:`EditTables` the scrubber takes as an argument. Loading into and out of
PostgreSQL lives in :mod:`services.coding.repository`.

Layouts read (CMS "Medicare NCCI Procedure to Procedure (PTP) Edits", practitioner
files ``ccipra-v…-f1..f4``, and the "Practitioner Services MUE Table"), as the
tab-delimited ``.txt`` or as CSV (the ``.xlsx`` saved as CSV):

PTP, seven columns by position::

    1 Column 1                      the comprehensive code
    2 Column 2                      the code bundled into it
    3 *=in existence prior to 1996  "*" or empty
    4 Effective Date                YYYYMMDD
    5 Deletion Date *=no data       YYYYMMDD, or "*" while the edit is in force
    6 Modifier                      0 not allowed, 1 allowed, 9 not applicable
    7 PTP Edit Rationale            free text

MUE, four columns by position::

    1 HCPCS/CPT Code
    2 Practitioner Services MUE Values      units per line or per day
    3 MUE Adjudication Indicator            "1 Line Edit", "2 Date of Service Edit:
                                            Policy", "3 Date of Service Edit: Clinical"
    4 MUE Rationale                         free text

The files open with a copyright notice and a header split over one or two lines;
any line whose first field is not a procedure code is skipped, so both layouts and
both delimiters parse. The MUE file carries no dates: a load states the quarter's
effective date and ends the previous quarter's rows the day before.

Dates are half-open: an edit applies to a date of service on or after its effective
date and before its deletion date (CMS publishes an edit that never took effect with
equal dates and modifier indicator 9).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

_PROC = re.compile(r"^(\d{5}|\d{4}[FTU]|[A-V]\d{4})$")


class LayoutError(ValueError):
    """The file is not in the layout the loader reads; the message names the line."""


@dataclass(frozen=True, slots=True)
class PtpEdit:
    column1: str
    column2: str
    prior_1996: bool
    effective: dt.date
    deletion: dt.date | None
    modifier_indicator: int  # 0 never bypassed, 1 bypassed by the right modifier, 9 n/a
    rationale: str

    def applies_on(self, dos: dt.date) -> bool:
        return self.effective <= dos and (self.deletion is None or dos < self.deletion)


@dataclass(frozen=True, slots=True)
class MueEdit:
    code: str
    value: int
    mai: int  # 1 line, 2 date of service (policy), 3 date of service (clinical)
    rationale: str
    effective: dt.date
    deletion: dt.date | None = None

    def applies_on(self, dos: dt.date) -> bool:
        return self.effective <= dos and (self.deletion is None or dos < self.deletion)


def parse_date(text: str) -> dt.date | None:
    """``YYYYMMDD``, ``YYYY-MM-DD`` or ``MM/DD/YYYY``; ``None`` for ``*`` or empty."""
    t = text.strip()
    if t in ("", "*"):
        return None
    for fmt in ("%Y%m%d", "%Y-%m-%d", "%m/%d/%Y"):
        try:
            return dt.datetime.strptime(t, fmt).replace(tzinfo=dt.UTC).date()
        except ValueError:
            continue
    raise ValueError(f"not a date: {t!r}")


def _rows(text: str) -> Iterable[tuple[int, list[str]]]:
    """(line number, fields) for each line, tab- or comma-delimited (CSV quoting)."""
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        tabbed = "\t" in line
        fields = line.split("\t") if tabbed else next(csv.reader(io.StringIO(line)), [])
        yield n, [f.strip().strip('"').strip() for f in fields]


def parse_ptp(text: str) -> list[PtpEdit]:
    """Rows of a practitioner PTP file (txt or csv). Raises :class:`LayoutError`."""
    out: list[PtpEdit] = []
    for n, f in _rows(text):
        if not f or not _PROC.match(f[0].upper()):
            continue  # copyright notice, header lines
        if len(f) < 6:
            raise LayoutError(f"line {n}: {len(f)} columns; a PTP row has 7")
        c1, c2 = f[0].upper(), f[1].upper()
        if not _PROC.match(c2):
            raise LayoutError(f"line {n}: column 2 {c2!r} is not a procedure code")
        try:
            effective = parse_date(f[3])
            deletion = parse_date(f[4])
        except ValueError as exc:
            raise LayoutError(f"line {n}: {exc}") from None
        if effective is None:
            raise LayoutError(f"line {n}: no effective date")
        if f[5] not in ("0", "1", "9"):
            raise LayoutError(f"line {n}: modifier indicator {f[5]!r} is not 0, 1 or 9")
        out.append(
            PtpEdit(
                column1=c1,
                column2=c2,
                prior_1996=f[2] == "*",
                effective=effective,
                deletion=deletion,
                modifier_indicator=int(f[5]),
                rationale=f[6] if len(f) > 6 else "",
            )
        )
    if not out:
        raise LayoutError("no PTP rows (expected Column 1, Column 2, ..., one edit a line)")
    return out


def parse_mue(text: str, effective: dt.date) -> list[MueEdit]:
    """Rows of a practitioner MUE file (txt or csv), in force from ``effective``."""
    out: list[MueEdit] = []
    for n, f in _rows(text):
        if not f or not _PROC.match(f[0].upper()):
            continue
        if len(f) < 3:
            raise LayoutError(f"line {n}: {len(f)} columns; an MUE row has 4")
        if not f[1].isdigit():
            raise LayoutError(f"line {n}: MUE value {f[1]!r} is not a whole number")
        mai = f[2][:1]
        if mai not in ("1", "2", "3"):
            raise LayoutError(f"line {n}: adjudication indicator {f[2]!r} is not 1, 2 or 3")
        out.append(
            MueEdit(
                code=f[0].upper(),
                value=int(f[1]),
                mai=int(mai),
                rationale=f[3] if len(f) > 3 else "",
                effective=effective,
            )
        )
    if not out:
        raise LayoutError("no MUE rows (expected HCPCS/CPT code, MUE value, MAI, rationale)")
    return out


from services.coding.ptp_index import PtpIndex  # noqa: E402  (it reads PtpEdit above)


@dataclass(frozen=True)
class EditTables:
    """Every PTP and MUE row, indexed for the scrubber. Immutable; share it freely."""

    ptp: PtpIndex = field(default_factory=lambda: PtpIndex(()))
    """Compact: :mod:`services.coding.ptp_index` (millions of rows in CMS's files)."""
    mue: Mapping[str, tuple[MueEdit, ...]] = field(default_factory=lambda: MappingProxyType({}))
    version: str = "none"
    """What was loaded (sources and counts), for the coding record."""
    column1: frozenset[str] = frozenset()
    """Every code that is column 1 of some pair: most lines are not, and skip the pairs."""

    @classmethod
    def build(
        cls, ptp: Iterable[PtpEdit] | PtpIndex, mue: Iterable[MueEdit], *, version: str
    ) -> EditTables:
        p = ptp if isinstance(ptp, PtpIndex) else PtpIndex(ptp)
        m: dict[str, list[MueEdit]] = {}
        for e2 in mue:
            m.setdefault(e2.code, []).append(e2)
        return cls(
            ptp=p,
            mue=MappingProxyType({k: tuple(v) for k, v in m.items()}),
            version=version,
            column1=p.column1(),
        )

    def ptp_on(self, column1: str, column2: str, dos: dt.date) -> PtpEdit | None:
        """The pair's edit in force on the date of service, if any."""
        return self.ptp.on(column1, column2, dos)

    def mue_on(self, code: str, dos: dt.date) -> MueEdit | None:
        for e in self.mue.get(code, ()):
            if e.applies_on(dos):
                return e
        return None

    def __len__(self) -> int:
        return self.ptp.rows + sum(len(v) for v in self.mue.values())


EMPTY = EditTables()

DATA_DIR = Path(__file__).parent / "data"
BUNDLED_PTP = DATA_DIR / "ncci_ptp_practitioner_subset.txt"
BUNDLED_MUE = DATA_DIR / "mue_practitioner_subset.csv"
BUNDLED_MUE_EFFECTIVE = dt.date(2020, 1, 1)
BUNDLED_SOURCE = "bundled-subset"


def bundled_ptp() -> list[PtpEdit]:
    """The project's demonstration PTP subset (family-medicine pairs; not CMS's data)."""
    return parse_ptp(BUNDLED_PTP.read_text(encoding="utf-8"))


def bundled_mue() -> list[MueEdit]:
    return parse_mue(BUNDLED_MUE.read_text(encoding="utf-8"), BUNDLED_MUE_EFFECTIVE)


@functools.cache
def bundled_tables() -> EditTables:
    """The demonstration subset as tables, for tests, the CLI and the benchmark."""
    return EditTables.build(bundled_ptp(), bundled_mue(), version=BUNDLED_SOURCE)


__all__ = [
    "BUNDLED_MUE",
    "BUNDLED_MUE_EFFECTIVE",
    "BUNDLED_PTP",
    "BUNDLED_SOURCE",
    "EMPTY",
    "EditTables",
    "LayoutError",
    "MueEdit",
    "PtpEdit",
    "bundled_mue",
    "bundled_ptp",
    "bundled_tables",
    "parse_date",
    "parse_mue",
    "parse_ptp",
]
