"""Dated code sets: when each ICD-10-CM, HCPCS Level II and CPT code is in force.

A code's validity is a list of ranges ``(effective, termination)``, both inclusive;
``None`` for ``effective`` means "in force since before the first release we hold",
``None`` for ``termination`` means "still in force in the latest release we hold". The
scrubber asks :meth:`CodeDates.on` whether a code is in force on the date of service.

Readers for the files as published (each raises :class:`LayoutError` naming the line):

* ICD-10-CM: CMS's order file (``icd10cm_order_YYYY.txt``: order number in columns 1-5,
  the dotless code in 7-13, ``1`` for a billable code in 15), or a code list (one code a
  line, chapters and blocks included, as simple-icd-10-cm ships it; billable = leaves).
  One file holds one release; :func:`icd_ranges` turns several releases, each with the
  date it took effect (October 1 for a fiscal year, April 1 for an update), into ranges.
  A code missing from a release ends the day before that release; a code first seen in
  a release starts on its date.
* HCPCS Level II: CMS's alpha-numeric file (``HCPCYYYY_..._ANWEB.txt``, 320-character
  records): HCPC 1-5, record id 11 (3 = a procedure's first line), short description
  92-119, ADD DT 269-276, ACT EFF DT 277-284, TERM DT 285-292. A code is in force from
  its add date through its termination date.
* CPT: the practice's licensed file, CSV ``code,description[,effective[,termination]]``
  (:func:`services.coding.codesets.read_cpt_file`); only the numbers and dates are kept
  in the bundled data, never the AMA's descriptions.

The bundled defaults (``data/icd10cm_dates.csv.gz``, ``data/hcpcs_dates.csv.gz``) are
built by ``scripts/build_code_sets.py``; ``data/README.md`` says where they
came from and what they cover.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import gzip
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from services.coding.ncci import LayoutError

DATA_DIR = Path(__file__).parent / "data"
ICD_FILE = DATA_DIR / "icd10cm_dates.csv.gz"
HCPCS_FILE = DATA_DIR / "hcpcs_dates.csv.gz"

Range = tuple[dt.date | None, dt.date | None]

_ICD = re.compile(r"[A-Z][0-9A-Z]{2}[0-9A-Z]{0,4}")
_CHAPTER_OR_BLOCK = re.compile(r"\d{1,2}|[A-Z]\d[0-9A-Z]-[A-Z]\d[0-9A-Z]")
_HCPCS = re.compile(r"[A-V]\d{4}")
_CPT = re.compile(r"\d{4}[0-9FTU]")


@dataclass(frozen=True, slots=True)
class Release:
    """One release a set was built from: in force from ``start`` to ``end`` (inclusive)."""

    name: str
    start: dt.date
    end: dt.date | None


@dataclass(frozen=True, slots=True)
class CodeDates:
    """One code system's codes and the dates each is in force."""

    system: str
    ranges: Mapping[str, tuple[Range, ...]]
    releases: tuple[Release, ...]
    source: str
    descriptions: Mapping[str, str]

    def on(self, code: str, dos: dt.date) -> tuple[bool, Range] | None:
        """``None`` for a code this set does not know; else (in force on ``dos``, the
        range nearest ``dos``: the one covering it, else the last one before it, else the
        first)."""
        spans = self.ranges.get(code)
        if spans is None:
            return None
        nearest = spans[0]
        for span in spans:
            start, end = span
            if (start is None or start <= dos) and (end is None or dos <= end):
                return True, span
            if start is not None and start <= dos:
                nearest = span
        return False, nearest

    def __len__(self) -> int:
        return len(self.ranges)


# --------------------------------------------------------------------------- readers


def _date(text: str, n: int, what: str) -> dt.date | None:
    t = text.strip()
    if not t:
        return None
    try:
        if len(t) == 8 and t.isdigit():
            return dt.date(int(t[:4]), int(t[4:6]), int(t[6:]))
        return dt.date.fromisoformat(t)
    except ValueError:
        raise LayoutError(f"line {n}: {what} {t!r} is not a date (YYYYMMDD)") from None


def read_icd_release(text: str) -> frozenset[str]:
    """The billable codes of one ICD-10-CM release (an order file or a code list)."""
    lines = text.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    if first[:5].isdigit() and len(first) > 15:
        return _read_order_file(lines)
    return _read_code_list(lines)


def _read_order_file(lines: Sequence[str]) -> frozenset[str]:
    billable: set[str] = set()
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        code, flag = line[6:13].strip(), line[14:15]
        if not line[:5].isdigit() or not _ICD.fullmatch(code) or flag not in ("0", "1"):
            raise LayoutError(
                f"line {n}: not an ICD-10-CM order record (order number, code, 0/1 billable)"
            )
        if flag == "1":
            billable.add(code)
    if not billable:
        raise LayoutError("no billable ICD-10-CM codes in the file")
    return frozenset(billable)


def _read_code_list(lines: Sequence[str]) -> frozenset[str]:
    codes: list[str] = []
    for n, line in enumerate(lines, start=1):
        code = line.strip().replace(".", "")
        if not code or _CHAPTER_OR_BLOCK.fullmatch(code):
            continue
        if not _ICD.fullmatch(code):
            raise LayoutError(f"line {n}: {code[:20]!r} is not an ICD-10-CM code")
        codes.append(code)
    headers = {c[:i] for c in codes for i in range(3, len(c))}
    billable = frozenset(c for c in codes if c not in headers)
    if not billable:
        raise LayoutError("no ICD-10-CM codes in the file")
    return billable


_ADDENDA = re.compile(r"(Add|Delete|Revise from|Revise to):\s+([01]) ([0-9A-Z]{3,7})\b")
_ADDENDA_COUNT = re.compile(r"\s*(\d+) codes in icd10cm_order_(\d{4})\.txt")


def apply_order_addenda(base: frozenset[str], text: str) -> frozenset[str]:
    """The billable codes of the next release: ``base`` (the release the addenda start
    from) changed by CMS's order addenda (``icd10cm_order_addenda_YYYY.txt``: ``Add:``,
    ``Delete:`` and ``Revise`` lines, each with the 0/1 billable flag and the dotless
    code). A billable code added that ``base`` already holds, or deleted that it lacks,
    means the addenda are for another release: :class:`LayoutError` names the line. When
    the file ends with CMS's counts ("74719 codes in icd10cm_order_2026.txt"), both
    counts are checked too."""
    codes = set(base)
    seen = 0
    for n, line in enumerate(text.splitlines(), start=1):
        m = _ADDENDA.match(line)
        if m is None:
            if line.startswith(("Add:", "Delete:", "Revise")):
                raise LayoutError(f"line {n}: not an ICD-10-CM order addenda record")
            continue
        seen += 1
        action, flag, code = m.groups()
        if flag != "1" or action.startswith("Revise"):
            continue
        if action == "Add" and code in codes:
            raise LayoutError(f"line {n}: adds {code}, already billable in the base release")
        if action == "Delete" and code not in codes:
            raise LayoutError(f"line {n}: deletes {code}, not billable in the base release")
        (codes.add if action == "Add" else codes.remove)(code)
    if not seen:
        raise LayoutError("no ICD-10-CM order addenda records (Add:/Delete:/Revise lines)")
    counts = [int(m.group(1)) for m in map(_ADDENDA_COUNT.match, text.splitlines()) if m]
    if len(counts) == 2 and counts != [len(base), len(codes)]:
        raise LayoutError(
            f"the addenda count {counts[0]} codes before and {counts[1]} after; "
            f"the base release has {len(base)} and applying them gives {len(codes)}"
        )
    return frozenset(codes)


def icd_ranges(releases: Sequence[tuple[dt.date, frozenset[str]]]) -> dict[str, list[Range]]:
    """Each code's ranges from releases (start date, billable codes), in any order."""
    ordered = sorted(releases, key=lambda r: r[0])
    out: dict[str, list[Range]] = {}
    open_since: dict[str, dt.date | None] = {}
    for i, (start, codes) in enumerate(ordered):
        for code in codes:
            if code not in open_since:
                open_since[code] = None if i == 0 else start
        for code in [c for c in open_since if c not in codes]:
            out.setdefault(code, []).append((open_since.pop(code), start - dt.timedelta(days=1)))
    for code, since in open_since.items():
        out.setdefault(code, []).append((since, None))
    return out


def read_cpt_dates(text: str) -> list[tuple[str, dt.date | None, dt.date | None]]:
    """(code, effective, termination) of a licensed CPT file's rows that carry dates
    (CSV ``code,description,effective[,termination]``); the descriptions are not kept."""
    rows: list[tuple[str, dt.date | None, dt.date | None]] = []
    for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        code = row[0].strip().upper() if row else ""
        if len(row) < 3 or not _CPT.fullmatch(code):
            continue
        start = _date(row[2], n, "effective date")
        end = _date(row[3], n, "termination date") if len(row) > 3 else None
        if start and end and end < start:
            raise LayoutError(f"line {n}: {code} terminates before it takes effect")
        if start or end:
            rows.append((code, start, end))
    return rows


@dataclass(frozen=True, slots=True)
class HcpcsRow:
    code: str
    effective: dt.date | None
    termination: dt.date | None
    short_description: str


def read_cms_text(path: Path) -> str:
    """CMS's text files are Windows-1252 (curly quotes in the notices)."""
    return path.read_bytes().decode("cp1252", errors="replace")


def read_hcpcs_file(text: str) -> list[HcpcsRow]:
    """Procedure codes of CMS's alpha-numeric HCPCS file (modifiers are skipped)."""
    rows: list[HcpcsRow] = []
    for n, line in enumerate(text.splitlines(), start=1):
        code, ric = line[:5], line[10:11]
        if ric != "3" or not _HCPCS.fullmatch(code):
            if _HCPCS.fullmatch(code) and ric not in ("4",) and line[5:10].isdigit():
                raise LayoutError(f"line {n}: record id {ric!r} is not 3 or 4 for code {code}")
            continue
        if len(line.rstrip("\r\n")) < 292:
            raise LayoutError(f"line {n}: {code} record is {len(line)} characters; expected 320")
        rows.append(
            HcpcsRow(
                code,
                _date(line[268:276], n, "ADD DT"),
                _date(line[284:292], n, "TERM DT"),
                line[91:119].strip(),
            )
        )
    if not rows:
        raise LayoutError("no HCPCS procedure records (expected CMS's 320-character layout)")
    return rows


# --------------------------------------------------------------------------- bundled files


def write_dates(
    path: Path, releases: Iterable[Release], source: str, rows: Iterable[list[str]]
) -> None:
    """A bundled file: ``#`` lines (source, releases), then CSV code,effective,termination[,desc]."""
    buf = io.StringIO()
    buf.write(f"# source: {source}\n")
    for r in releases:
        buf.write(
            f"# release: {r.start.isoformat()},{r.end.isoformat() if r.end else ''},{r.name}\n"
        )
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_bytes(gzip.compress(buf.getvalue().encode(), compresslevel=9, mtime=0))


def read_dates(path: Path, system: str) -> CodeDates:
    text = gzip.decompress(path.read_bytes()).decode()
    source = ""
    releases: list[Release] = []
    ranges: dict[str, list[Range]] = {}
    descriptions: dict[str, str] = {}
    body: list[str] = []
    for line in text.splitlines():
        if line.startswith("# source: "):
            source = line[10:]
        elif line.startswith("# release: "):
            start, end, name = line[11:].split(",", 2)
            releases.append(Release(name, dt.date.fromisoformat(start), _iso(end)))
        else:
            body.append(line)
    for row in csv.reader(body):
        ranges.setdefault(row[0], []).append((_iso(row[1]), _iso(row[2])))
        if len(row) > 3 and row[3]:
            descriptions[row[0]] = row[3]
    return CodeDates(
        system,
        _shared(ranges),
        tuple(releases),
        source,
        MappingProxyType(descriptions),
    )


def _shared(ranges: Mapping[str, list[Range]]) -> Mapping[str, tuple[Range, ...]]:
    """Code -> its ranges, with one tuple object per distinct set of ranges (most codes
    share "in force throughout"): about 3 MB less for ICD-10-CM."""
    canon: dict[tuple[Range, ...], tuple[Range, ...]] = {}
    return MappingProxyType({k: canon.setdefault(tuple(v), tuple(v)) for k, v in ranges.items()})


@functools.cache
def _iso(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


@functools.cache
def bundled_icd() -> CodeDates:
    return read_dates(ICD_FILE, "icd10cm")


@functools.cache
def bundled_hcpcs() -> CodeDates:
    return read_dates(HCPCS_FILE, "hcpcs")


def from_rows(
    system: str,
    rows: Iterable[tuple[str, dt.date | None, dt.date | None]],
    source: str,
    releases: Sequence[Release] = (),
) -> CodeDates:
    """A set from database rows (code, effective, termination)."""
    ranges: dict[str, list[Range]] = {}
    for code, start, end in rows:
        ranges.setdefault(code, []).append((start, end))
    return CodeDates(
        system,
        _shared(ranges),
        tuple(releases),
        source,
        MappingProxyType({}),
    )


# --------------------------------------------------------------------------- in force


@dataclass(frozen=True, slots=True)
class ActiveSets:
    """The dated sets this process checks against: the bundled ones, or those loaded
    into PostgreSQL (``rcm code load-icd`` / ``load-hcpcs`` / ``load-cpt``)."""

    icd10cm: CodeDates
    hcpcs: CodeDates
    cpt: CodeDates


EMPTY_CPT = CodeDates(
    "cpt", MappingProxyType({}), (), "no dated CPT file loaded", MappingProxyType({})
)

_active: ActiveSets | None = None


def active() -> ActiveSets:
    global _active
    if _active is None:
        _active = ActiveSets(bundled_icd(), bundled_hcpcs(), EMPTY_CPT)
    return _active


def use(
    *,
    icd10cm: CodeDates | None = None,
    hcpcs: CodeDates | None = None,
    cpt: CodeDates | None = None,
) -> ActiveSets:
    """Replace the sets given (one swap of an immutable value; readers never see half)."""
    global _active
    now = active()
    _active = ActiveSets(icd10cm or now.icd10cm, hcpcs or now.hcpcs, cpt or now.cpt)
    return _active


def reset() -> None:
    """Back to the bundled sets (tests)."""
    global _active
    _active = None
