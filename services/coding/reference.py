"""Reference tables the edits read that the code sets themselves do not carry.

Each is a small CSV in ``data/`` (see ``data/README.md`` for where every row comes
from), parsed once per process:

* ``dx_age_groups.csv``: diagnosis code prefixes -> the ages they are valid for (the CMS
  Medicare Code Editor's newborn, pediatric, maternity and adult groups, and the
  official guidelines' BMI ages);
* ``dx_secondary_only.csv``: Z codes that may not be listed first;
* ``procedure_sex.csv``: CPT/HCPCS ranges for one sex only;
* ``necessity.csv``: which diagnoses support a lab or screening test (a small default,
  **not** CMS's coverage determinations: load your own with :func:`load_necessity_file`
  or ``RCM_CODING_NECESSITY_FILE``);
* ``payers.csv``: the payer ids claims may be sent to (replace with
  :func:`load_payer_file` or ``RCM_CODING_PAYERS_FILE``).

Lookups take dotless ICD-10-CM codes and 5-character procedure codes.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

DATA_DIR = Path(__file__).parent / "data"
AGE_GROUPS_FILE = DATA_DIR / "dx_age_groups.csv"
SECONDARY_ONLY_FILE = DATA_DIR / "dx_secondary_only.csv"
PROCEDURE_SEX_FILE = DATA_DIR / "procedure_sex.csv"
NECESSITY_FILE = DATA_DIR / "necessity.csv"
PAYERS_FILE = DATA_DIR / "payers.csv"


class AgeGroup(NamedTuple):
    """The ages (whole years, inclusive) a diagnosis is valid for, and whose rule says so."""

    group: str
    min_years: int
    max_years: int
    source: str


def _rows(path: Path) -> list[dict[str, str]]:
    """A CSV file's rows (header names the columns); blank rows and rows whose first
    field starts with ``#`` are skipped."""
    out: list[dict[str, str]] = []
    with path.open(newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            clean = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            first = next(iter(clean.values()), "")
            if first and not first.startswith("#"):
                out.append(clean)
    return out


def _dotless(code: str) -> str:
    return code.strip().upper().replace(".", "")


def _by_prefix(table: Mapping[str, object], key: str) -> object | None:
    """The row of the longest prefix of ``key`` in ``table``."""
    for n in range(len(key), 0, -1):
        row = table.get(key[:n])
        if row is not None:
            return row
    return None


# --------------------------------------------------------------------------- diagnoses


def _read_age_groups(path: Path) -> Mapping[str, AgeGroup]:
    out: dict[str, AgeGroup] = {}
    for row in _rows(path):
        out[_dotless(row["prefix"])] = AgeGroup(
            row["group"], int(row["min_years"]), int(row["max_years"]), row["source"]
        )
    return MappingProxyType(out)


def _read_secondary_only(path: Path) -> Mapping[str, str]:
    return MappingProxyType({_dotless(r["prefix"]): r["reason"] for r in _rows(path)})


AGE_GROUPS: Mapping[str, AgeGroup] = _read_age_groups(AGE_GROUPS_FILE)
SECONDARY_ONLY: Mapping[str, str] = _read_secondary_only(SECONDARY_ONLY_FILE)


def age_group(key: str) -> AgeGroup | None:
    """The age group a dotless diagnosis belongs to (longest prefix), if any."""
    found = _by_prefix(AGE_GROUPS, key)
    return found if isinstance(found, AgeGroup) else None


def secondary_only(key: str) -> str | None:
    """Why a dotless diagnosis may not be listed first; ``None`` when it may."""
    found = _by_prefix(SECONDARY_ONLY, key)
    return found if isinstance(found, str) else None


# --------------------------------------------------------------------------- procedures


@dataclass(frozen=True, slots=True)
class _Range:
    low: str
    high: str
    value: str

    def covers(self, code: str) -> bool:
        return len(code) == len(self.low) and self.low <= code <= self.high


def _read_procedure_sex(path: Path) -> tuple[_Range, ...]:
    out = []
    for row in _rows(path):
        sex = row["sex"].upper()
        if sex not in ("F", "M"):
            raise ValueError(f"{path.name}: sex must be F or M, not {sex!r}")
        out.append(_Range(row["code_low"].upper(), row["code_high"].upper(), sex))
    return tuple(out)


PROCEDURE_SEX: tuple[_Range, ...] = _read_procedure_sex(PROCEDURE_SEX_FILE)


def procedure_sex(code: str) -> str | None:
    """``"F"`` or ``"M"`` for a procedure done on one sex only; else ``None``."""
    for rng in PROCEDURE_SEX:
        if rng.covers(code):
            return rng.value
    return None


# --------------------------------------------------------------------------- necessity


class Necessity(NamedTuple):
    """The diagnoses that support one procedure: dotless (low, high) prefix ranges."""

    ranges: tuple[tuple[str, str], ...]
    source: str


def read_necessity_file(path: str | Path) -> dict[str, Necessity]:
    """A medical-necessity table: CSV ``procedure_code,dx_low,dx_high,source`` (one row
    per supporting range; ``dx_high`` empty means the same as ``dx_low``; codes with or
    without the dot). A procedure in the table must point at a diagnosis in one of its
    ranges; a procedure not in it is not checked."""
    ranges: dict[str, list[tuple[str, str]]] = {}
    sources: dict[str, str] = {}
    for row in _rows(Path(path)):
        code = row["procedure_code"].upper()
        low = _dotless(row["dx_low"])
        if len(code) != 5 or not low:
            raise ValueError(f"{Path(path).name}: bad row for {code!r}")
        ranges.setdefault(code, []).append((low, _dotless(row.get("dx_high") or "") or low))
        sources.setdefault(code, row.get("source") or Path(path).name)
    return {c: Necessity(tuple(r), sources[c]) for c, r in ranges.items()}


def read_payer_file(path: str | Path) -> dict[str, str]:
    """A payer list: CSV ``payer_id,name``."""
    out: dict[str, str] = {}
    for row in _rows(Path(path)):
        pid = row["payer_id"]
        if not 2 <= len(pid) <= 80:
            raise ValueError(f"{Path(path).name}: bad payer id {pid!r}")
        out[pid] = row.get("name", "")
    return out


_lock = threading.Lock()
_necessity: Mapping[str, Necessity] = MappingProxyType(read_necessity_file(NECESSITY_FILE))
_necessity_source = "bundled default (data/necessity.csv)"
_payers: Mapping[str, str] = MappingProxyType(read_payer_file(PAYERS_FILE))
_payers_source = "bundled default (data/payers.csv)"


def necessity(code: str) -> Necessity | None:
    return _necessity.get(code)


def necessity_source() -> str:
    return _necessity_source


def load_necessity_file(path: str | Path, *, replace: bool = True) -> int:
    """Use a user's medical-necessity table (see :func:`read_necessity_file`) in this
    process: it replaces the bundled default (or, ``replace=False``, adds to it,
    replacing the procedures it names). Returns the procedures loaded."""
    global _necessity, _necessity_source
    loaded = read_necessity_file(path)
    with _lock:
        merged = dict(loaded) if replace else {**_necessity, **loaded}
        _necessity = MappingProxyType(merged)
        _necessity_source = str(path)
    return len(loaded)


def payer_known(payer_id: str) -> bool:
    return payer_id in _payers


def payers_source() -> str:
    return _payers_source


def load_payer_file(path: str | Path, *, replace: bool = True) -> int:
    """Use a payer list (CSV ``payer_id,name``) in this process; returns the payers."""
    global _payers, _payers_source
    loaded = read_payer_file(path)
    with _lock:
        _payers = MappingProxyType(dict(loaded) if replace else {**_payers, **loaded})
        _payers_source = str(path)
    return len(loaded)


def restore_defaults() -> None:
    """Back to the bundled tables (tests)."""
    global _necessity, _necessity_source, _payers, _payers_source
    with _lock:
        _necessity = MappingProxyType(read_necessity_file(NECESSITY_FILE))
        _necessity_source = "bundled default (data/necessity.csv)"
        _payers = MappingProxyType(read_payer_file(PAYERS_FILE))
        _payers_source = "bundled default (data/payers.csv)"
