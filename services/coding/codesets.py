"""Code sets for the coding service: ICD-10-CM, HCPCS Level II and CPT code numbers.

ICD-10-CM comes from ``simple_icd_10_cm`` (the CMS tabular list) through a cache on disk
(:mod:`services.coding.icd_cache`); :func:`icd_index` loads it once per process and
descriptions are read only when asked for.

HCPCS Level II is public: CMS's alpha-numeric file, with each code's dates, is bundled
(:mod:`services.coding.code_dates`); ``data/hcpcs_level2.csv`` adds the codes a family
practice bills that are newer than that file, with their CMS short descriptors.

CPT descriptors belong to the AMA. We ship the code *numbers* our practice bills and
nothing else; :func:`load_cpt_file` reads a user's licensed CPT file (CSV
``code,description``) and the descriptions then come from it.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from services.coding.code_dates import bundled_hcpcs
from services.coding.icd_cache import IcdIndex, load_icd_descriptions, load_icd_index

DATA_DIR = Path(__file__).parent / "data"
HCPCS_FILE = DATA_DIR / "hcpcs_level2.csv"

# --------------------------------------------------------------------------- ICD-10-CM


def normalize_icd(code: str) -> str | None:
    """``"e11.9"`` / ``"E119"`` -> ``"E119"``; ``None`` when the shape is not ICD-10-CM."""
    c = code.strip().upper()
    if "." in c:
        if c.index(".") != 3 or c.count(".") != 1 or len(c) == 4:
            return None
        c = c[:3] + c[4:]
    if not _ICD_SHAPE.fullmatch(c):
        return None
    return c


_ICD_SHAPE = re.compile(r"[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}")


_lock = threading.Lock()
_index: IcdIndex | None = None
_descriptions: Mapping[str, str] | None = None


def icd_index() -> IcdIndex:
    """The ICD-10-CM index, loaded on first use (thread-safe) and kept for the process.

    It comes from the cache file (tens of milliseconds); the first process after a new
    simple-icd-10-cm release or builder change builds that file in a child process.
    """
    global _index
    if _index is None:
        with _lock:
            if _index is None:
                _index = load_icd_index()
    return _index


def _icd_descriptions() -> Mapping[str, str]:
    global _descriptions
    if _descriptions is None:
        with _lock:
            if _descriptions is None:
                _descriptions = load_icd_descriptions()
    return _descriptions


# --------------------------------------------------------------------------- releases

_RELEASE_DATE = re.compile(
    r"(January|February|March|April|May|June|July|August|September|"
    r"October|November|December)-(\d{1,2})-(\d{4})"
)
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")  # fmt: skip


def icd_fiscal_year(dos: dt.date) -> int:
    """The ICD-10-CM fiscal year a date of service is coded in: it turns on October 1."""
    return dos.year + 1 if dos.month >= 10 else dos.year


@dataclass(frozen=True, slots=True)
class IcdRelease:
    """One ICD-10-CM release: the code set in force from ``valid_from`` to ``valid_to``."""

    fiscal_year: int
    valid_from: dt.date
    valid_to: dt.date
    """Inclusive: September 30 of the fiscal year (an April update replaces the October
    release for the second half of the year)."""
    source: str

    @property
    def name(self) -> str:
        return _release_name(self.fiscal_year, self.valid_from)

    def covers(self, dos: dt.date) -> bool:
        return self.valid_from <= dos <= self.valid_to


@functools.lru_cache(maxsize=64)
def _release_name(fiscal_year: int, valid_from: dt.date) -> str:
    """Every coded claim names its release: formatted once per release, not per claim."""
    update = "" if valid_from.month == 10 else f", {valid_from:%B %-d} update"
    return f"ICD-10-CM FY{fiscal_year}{update}"


def release_from_source(source: str) -> IcdRelease:
    """The release a CMS tabular file name names (``icd10c-tabular-April-1-2026.xml``)."""
    m = _RELEASE_DATE.search(source)
    if m is None:
        raise ValueError(f"no release date in {source!r}")
    start = dt.date(int(m.group(3)), _MONTHS.index(m.group(1)) + 1, int(m.group(2)))
    fy = icd_fiscal_year(start)
    return IcdRelease(fy, start, dt.date(fy, 9, 30), source)


@functools.cache
def icd_release() -> IcdRelease:
    """The ICD-10-CM release this process checks against.

    simple-icd-10-cm ships exactly one release (its data file names it); a date of
    service outside it is still checked against it, and :func:`icd_release_for` says so.
    """
    return release_from_source(icd_index().version)


def icd_release_for(dos: dt.date) -> tuple[IcdRelease, bool]:
    """(the release a claim on ``dos`` is coded against, whether it is the one in force)."""
    rel = icd_release()
    return rel, rel.covers(dos)


def icd_is_valid(code: str) -> bool:
    """A real ICD-10-CM category or subcategory (billable or header)."""
    key = normalize_icd(code)
    return key is not None and key in icd_index().valid


def icd_is_billable(code: str) -> bool:
    """A leaf code: valid on a claim."""
    key = normalize_icd(code)
    return key is not None and key in icd_index().billable


def icd_description(code: str) -> str | None:
    """The tabular-list description, or ``None`` for an unknown code."""
    key = normalize_icd(code)
    if key is None or key not in icd_index().valid:
        return None
    return _icd_descriptions().get(key)


def in_ranges(key: str, ranges: Iterable[tuple[str, str]]) -> bool:
    """Whether a dotless code falls in any (low, high) prefix range, bounds inclusive."""
    return any(key[: len(low)] >= low and key[: len(high)] <= high for low, high in ranges)


# --------------------------------------------------------------------------- procedures

ProcKind = Literal["cpt", "cpt_cat2", "cpt_cat3", "cpt_pla", "hcpcs"]

_PROC_SHAPES: tuple[tuple[re.Pattern[str], ProcKind], ...] = (
    (re.compile(r"\d{5}"), "cpt"),
    (re.compile(r"\d{4}F"), "cpt_cat2"),
    (re.compile(r"\d{4}T"), "cpt_cat3"),
    (re.compile(r"\d{4}U"), "cpt_pla"),
    (re.compile(r"[A-V]\d{4}"), "hcpcs"),
)


def procedure_kind(code: str) -> ProcKind | None:
    """Which code system a 5-character procedure code is shaped like; ``None`` if malformed."""
    c = code.strip().upper()
    for pattern, kind in _PROC_SHAPES:
        if pattern.fullmatch(c):
            return kind
    return None


def _expand(*items: str | tuple[int, int]) -> frozenset[str]:
    out: set[str] = set()
    for item in items:
        if isinstance(item, tuple):
            out.update(f"{n:05d}" for n in range(item[0], item[1] + 1))
        else:
            out.add(item)
    return frozenset(out)


# CPT code numbers this practice bills. Numbers only: the descriptors are the AMA's.
PRACTICE_CPT_CODES: frozenset[str] = _expand(
    (99202, 99205),
    (99211, 99215),
    (99381, 99387),
    (99391, 99397),
    "99401",
    "99402",
    "99406",
    "99417",
    "99490",
    "99495",
    "99496",
    "99497",
    "36415",
    "80048",
    "80053",
    "80061",
    "82947",
    "83036",
    "84443",
    "85025",
    "81002",
    "81003",
    "81025",
    "87426",
    "87804",
    "87880",
    "96372",
    "96127",
    "96160",
    "90460",
    "90461",
    "90471",
    "90472",
    "90633",
    "90651",
    "90670",
    "90677",
    "90686",
    "90688",
    "90700",
    "90707",
    "90714",
    "90715",
    "90716",
    "90732",
    "90744",
    "90750",
    "93000",
    "94640",
    "94760",
    "10060",
    "11102",
    "12001",
    "17000",
    "17110",
    "20610",
    "69210",
)

# Office E/M (new 99202-99205, established 99211-99215) and preventive medicine.
EM_OFFICE_NEW: frozenset[str] = _expand((99202, 99205))
EM_OFFICE_ESTABLISHED: frozenset[str] = _expand((99211, 99215))
EM_PREVENTIVE_NEW: frozenset[str] = _expand((99381, 99387))
EM_PREVENTIVE_ESTABLISHED: frozenset[str] = _expand((99391, 99397))
EM_PROBLEM: frozenset[str] = EM_OFFICE_NEW | EM_OFFICE_ESTABLISHED
EM_PREVENTIVE: frozenset[str] = EM_PREVENTIVE_NEW | EM_PREVENTIVE_ESTABLISHED
EM_CODES: frozenset[str] = EM_PROBLEM | EM_PREVENTIVE

# Modifiers: CPT modifier numbers (numbers only) and HCPCS Level II modifiers (public).
KNOWN_MODIFIERS: frozenset[str] = frozenset(
    [
        "22",
        "23",
        "24",
        "25",
        "26",
        "27",
        "32",
        "33",
        "47",
        "50",
        "51",
        "52",
        "53",
        "54",
        "55",
        "56",
        "57",
        "58",
        "59",
        "62",
        "63",
        "66",
        "76",
        "77",
        "78",
        "79",
        "80",
        "81",
        "82",
        "90",
        "91",
        "92",
        "93",
        "95",
        "96",
        "97",
        "99",
        "XE",
        "XP",
        "XS",
        "XU",
        "LT",
        "RT",
        "E1",
        "E2",
        "E3",
        "E4",
        "FA",
        "F1",
        "F2",
        "F3",
        "F4",
        "F5",
        "F6",
        "F7",
        "F8",
        "F9",
        "TA",
        "T1",
        "T2",
        "T3",
        "T4",
        "T5",
        "T6",
        "T7",
        "T8",
        "T9",
        "GA",
        "GC",
        "GE",
        "GT",
        "GV",
        "GW",
        "GX",
        "GY",
        "GZ",
        "KX",
        "QW",
        "JW",
        "JZ",
        "TC",
        "SA",
        "SB",
        "SL",
        "FS",
        "AI",
        "CR",
        "CS",
        "Q5",
        "Q6",
        "QK",
        "GQ",
        "AQ",
        "AS",
    ]
)


def _read_hcpcs() -> dict[str, str]:
    """CMS's HCPCS Level II short descriptors: the bundled dated set
    (:func:`services.coding.code_dates.bundled_hcpcs`), then the practice's list for
    codes newer than it."""
    known = dict(bundled_hcpcs().descriptions)
    with HCPCS_FILE.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            known.setdefault(row["code"].strip().upper(), row["short_description"].strip())
    return known


HCPCS_LEVEL2: Mapping[str, str] = MappingProxyType(_read_hcpcs())

_cpt_codes: frozenset[str] = PRACTICE_CPT_CODES
_cpt_descriptions: dict[str, str] = {}


def cpt_codes() -> frozenset[str]:
    """CPT code numbers known to this process (the practice's, plus a loaded CPT file)."""
    return _cpt_codes


def read_cpt_file(path: str | Path) -> dict[str, str]:
    """A licensed CPT file (CSV ``code,description``, optional header) as code -> text.

    Rows that are not a well-formed CPT code (5 digits, or 4 digits and F/T/U) are
    skipped.
    """
    loaded: dict[str, str] = {}
    with Path(path).open(newline="", encoding="utf-8-sig") as f:
        for row in csv.reader(f):
            if len(row) < 2:
                continue
            code = row[0].strip().upper()
            kind = procedure_kind(code) if len(code) == 5 else None
            if kind is None or kind == "hcpcs":
                continue
            loaded[code] = row[1].strip()
    return loaded


def add_cpt_codes(codes: Mapping[str, str]) -> int:
    """Make CPT codes (and their licensed descriptions) known to this process."""
    global _cpt_codes
    with _lock:
        _cpt_descriptions.update(codes)
        _cpt_codes = _cpt_codes | frozenset(codes)
    return len(codes)


def load_cpt_file(path: str | Path) -> int:
    """Load a user's licensed CPT file into this process; returns the codes loaded.

    Adds its codes to the known CPT set and makes their descriptions available from
    :func:`procedure_description`.
    """
    return add_cpt_codes(read_cpt_file(path))


def is_known_procedure(code: str) -> bool:
    c = code.strip().upper()
    return c in _cpt_codes or c in HCPCS_LEVEL2


def procedure_description(code: str) -> str | None:
    """HCPCS short descriptor, or the licensed CPT file's description; else ``None``."""
    c = code.strip().upper()
    return HCPCS_LEVEL2.get(c) or _cpt_descriptions.get(c)


__all__ = [
    "EM_CODES",
    "EM_OFFICE_ESTABLISHED",
    "EM_OFFICE_NEW",
    "EM_PREVENTIVE",
    "EM_PREVENTIVE_ESTABLISHED",
    "EM_PREVENTIVE_NEW",
    "EM_PROBLEM",
    "HCPCS_LEVEL2",
    "KNOWN_MODIFIERS",
    "PRACTICE_CPT_CODES",
    "IcdRelease",
    "add_cpt_codes",
    "cpt_codes",
    "icd_description",
    "icd_fiscal_year",
    "icd_index",
    "icd_is_billable",
    "icd_is_valid",
    "icd_release",
    "icd_release_for",
    "in_ranges",
    "is_known_procedure",
    "load_cpt_file",
    "normalize_icd",
    "procedure_description",
    "procedure_kind",
    "read_cpt_file",
    "release_from_source",
]
