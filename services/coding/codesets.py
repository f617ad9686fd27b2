"""Code sets for the coding service: ICD-10-CM, HCPCS Level II and CPT code numbers.

ICD-10-CM comes from ``simple_icd_10_cm`` (the CMS tabular list). Importing it parses
the whole tabular XML (about 3 s and 190 MB RSS), so it is imported lazily, once, by
:func:`icd_index`, which also precomputes every set the scrubber needs so that a claim
costs only set lookups.

HCPCS Level II is public: a small table of the codes a family practice bills, with
their CMS short descriptors, lives in ``data/hcpcs_level2.csv``.

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
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

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
_CODE_REF = re.compile(r"\b([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)(?:\.-|-)?")
_CODE_RANGE = re.compile(
    r"\b([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)-?\s*-\s*([A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)\b"
)
_DAYS_AFTER_BIRTH = re.compile(r"first (\d+) days after birth")


@dataclass(frozen=True, slots=True)
class IcdIndex:
    """Everything the scrubber asks of ICD-10-CM, as sets keyed by the dotless code."""

    valid: frozenset[str]
    """Categories and subcategories (headers and billable codes); not chapters/blocks."""
    billable: frozenset[str]
    """Leaf codes: the only ones a claim may carry."""
    external_cause: frozenset[str]
    """Chapter 20 (V00-Y99): never first-listed."""
    never_first: Mapping[str, str]
    """Manifestation / supplementary codes -> the code set's reason."""
    code_first_refs: Mapping[str, tuple[tuple[str, str], ...]]
    """Code -> dotless (low, high) ranges its "code first" note names."""
    female_only: frozenset[str]
    male_only: frozenset[str]
    newborn_only: frozenset[str]
    newborn_max_age_days: int
    version: str


_lock = threading.Lock()
_index: IcdIndex | None = None
_icd_module: Any = None


def _icd() -> Any:
    global _icd_module
    if _icd_module is None:
        with warnings.catch_warnings():  # its importlib.resources calls are deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            import simple_icd_10_cm  # deliberately lazy: ~3 s, ~190 MB

        _icd_module = simple_icd_10_cm
    return _icd_module


def _dotless(code: str) -> str:
    return code.replace(".", "")


# Small documented supplement to what the tabular list says about sex. The code set
# marks whole blocks ("... of male genital organs", "... of female pelvic organs")
# and the maternal chapter/categories ("for use only on maternal records"); these
# are the sex-specific categories it does not mark, after the CMS Medicare Code
# Editor's sex-conflict lists. Dotless prefixes.
FEMALE_ONLY_EXTRA: tuple[str, ...] = (
    "D06",  # carcinoma in situ of cervix uteri
    "D070",  # carcinoma in situ of endometrium
    "D071",  # ... vulva
    "D072",  # ... vagina
    "D073",  # ... other female genital organs
    "D25",  # leiomyoma of uterus
    "D26",
    "D27",  # benign neoplasm of ovary
    "D28",
    "D39",  # neoplasm of uncertain behaviour, female genital organs
    "Z014",  # gynecological examination
    "Z124",  # screening for malignant neoplasm of cervix
    "Z33",  # pregnant state
    "Z34",  # supervision of normal pregnancy
    "Z36",  # antenatal screening
    "Z39",  # postpartum care
)
MALE_ONLY_EXTRA: tuple[str, ...] = (
    "D074",  # carcinoma in situ of penis
    "D075",  # ... prostate
    "D076",  # ... other male genital organs
    "D29",  # benign neoplasm of male genital organs
    "D40",  # neoplasm of uncertain behaviour, male genital organs
    "R972",  # elevated prostate specific antigen
    "Z125",  # screening for malignant neoplasm of prostate
)

_MALE_BLOCK = re.compile(r"(?<!fe)male genital", re.IGNORECASE)
_FEMALE_BLOCK = re.compile(r"female (genital|pelvic)", re.IGNORECASE)


def _parse_code_first(note: str) -> tuple[tuple[str, str], ...]:
    """Code ranges a "code first" note names, as dotless (low, high) prefix bounds."""
    if not note or "if applicable" in note.lower():
        return ()
    out: list[tuple[str, str]] = []
    taken: list[tuple[int, int]] = []
    for m in _CODE_RANGE.finditer(note):
        out.append((_dotless(m.group(1)), _dotless(m.group(2))))
        taken.append(m.span())
    for m in _CODE_REF.finditer(note):
        if any(a <= m.start() < b for a, b in taken):
            continue
        c = _dotless(m.group(1))
        out.append((c, c))
    return tuple(out)


def _build_index() -> IcdIndex:
    icd = _icd()
    valid: set[str] = set()
    billable: set[str] = set()
    external: set[str] = set()
    never_first: dict[str, str] = {}
    code_first_refs: dict[str, tuple[tuple[str, str], ...]] = {}
    female: set[str] = set()
    male: set[str] = set()
    newborn: set[str] = set()

    # Chapter/block level facts, read from the code set's own notes.
    maternal_nodes: set[str] = set()
    newborn_nodes: set[str] = set()
    supplementary_nodes: set[str] = set()
    male_nodes: set[str] = set()
    female_nodes: set[str] = set()
    external_chapter = ""
    newborn_days = 28
    all_codes: list[str] = icd.get_all_codes()
    for code in all_codes:
        if not icd.is_chapter_or_block(code) or icd.is_category(code):
            continue
        notes = icd.get_notes(code).lower()
        desc = icd.get_description(code)
        if "only on maternal record" in notes:
            maternal_nodes.add(code)
        if "newborn records only" in notes:
            newborn_nodes.add(code)
            for inc in icd.get_includes(code):
                m = _DAYS_AFTER_BIRTH.search(inc)
                if m:
                    newborn_days = int(m.group(1))
        if "supplementary or additional codes" in notes:
            supplementary_nodes.add(code)
        if icd.is_chapter(code) and "(V00-Y99)" in desc:
            external_chapter = code
        if _FEMALE_BLOCK.search(desc):
            female_nodes.add(code)
        elif _MALE_BLOCK.search(desc):
            male_nodes.add(code)

    # Ancestors repeat across ~75k leaves: memoize the per-node lookups.
    is_code = functools.cache(lambda c: bool(icd.is_category_or_subcategory(c)))
    notes_of = functools.cache(lambda c: str(icd.get_notes(c)).lower())
    desc_of = functools.cache(lambda c: str(icd.get_description(c)).lower())
    code_first_of = functools.cache(lambda c: str(icd.get_code_first(c)))

    female_extra = tuple(FEMALE_ONLY_EXTRA)
    male_extra = tuple(MALE_ONLY_EXTRA)
    for code in all_codes:
        if not icd.is_category_or_subcategory(code):
            continue
        key = _dotless(code)
        valid.add(key)
        if not icd.is_leaf(code):
            continue
        billable.add(key)
        ancestors: list[str] = icd.get_ancestors(code)
        anc = set(ancestors)
        if external_chapter in anc:
            external.add(key)
        # Notes on categories too ("Z3A: only on the maternal record").
        if anc & maternal_nodes or any(
            "only on the maternal record" in notes_of(a) for a in ancestors if is_code(a)
        ):
            female.add(key)
        if anc & female_nodes or key.startswith(female_extra):
            female.add(key)
        if anc & male_nodes or key.startswith(male_extra):
            male.add(key)
        if anc & newborn_nodes:
            newborn.add(key)
        # Etiology/manifestation convention: an "in diseases classified elsewhere"
        # title with a "code first" note, or the supplementary B95-B97 agents.
        chain = [code] + [a for a in ancestors if is_code(a)]
        titled = any("classified elsewhere" in desc_of(a) for a in chain)
        has_code_first = any(code_first_of(a) for a in chain)
        if anc & supplementary_nodes:
            never_first[key] = (
                "is a supplementary code for the infectious agent; list the condition first"
            )
        elif titled and has_code_first:
            never_first[key] = (
                "is a manifestation code ('classified elsewhere'); the code set says to code "
                "the underlying condition first"
            )
        else:
            note = next((code_first_of(a) for a in chain if code_first_of(a)), "")
            refs = _parse_code_first(note)
            if refs:
                code_first_refs[key] = refs

    return IcdIndex(
        valid=frozenset(valid),
        billable=frozenset(billable),
        external_cause=frozenset(external),
        never_first=MappingProxyType(never_first),
        code_first_refs=MappingProxyType(code_first_refs),
        female_only=frozenset(female),
        male_only=frozenset(male - female),
        newborn_only=frozenset(newborn),
        newborn_max_age_days=newborn_days,
        version=str(getattr(icd.simple_icd_10_cm, "_classification_data_package_file_name", "")),
    )


def icd_index() -> IcdIndex:
    """The ICD-10-CM index, built on first use (thread-safe) and kept for the process."""
    global _index
    if _index is None:
        with _lock:
            if _index is None:
                _index = _build_index()
    return _index


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
        update = "" if self.valid_from.month == 10 else f", {self.valid_from:%B %-d} update"
        return f"ICD-10-CM FY{self.fiscal_year}{update}"

    def covers(self, dos: dt.date) -> bool:
        return self.valid_from <= dos <= self.valid_to


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
    icd = _icd()
    dotted = key if len(key) == 3 else key[:3] + "." + key[3:]
    return str(icd.get_description(dotted))


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
    with HCPCS_FILE.open(newline="", encoding="utf-8") as f:
        return {
            row["code"].strip().upper(): row["short_description"].strip()
            for row in csv.DictReader(f)
        }


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
    "FEMALE_ONLY_EXTRA",
    "HCPCS_LEVEL2",
    "KNOWN_MODIFIERS",
    "MALE_ONLY_EXTRA",
    "PRACTICE_CPT_CODES",
    "IcdIndex",
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
