"""The facts about a claim every edit reads, worked out once per claim.

:func:`claim_facts` normalizes the diagnoses, resolves each line's diagnosis pointers,
computes the patient's age on the date of service and collects the E/M lines. The
edits in this package only judge these facts; none of them computes them again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from schemas.common import Coverage, Documentation, ServiceLine, Sex
from schemas.events import EligibilityChecked
from services.coding import code_dates
from services.coding.codesets import EM_CODES, icd_index, normalize_icd
from services.coding.icd_cache import IcdIndex
from services.coding.ncci import EditTables
from services.coding.payer_rules import NONE, PayerRules

EmLine = tuple[int, str, list[str]]
"""An E/M line: (line number, code, modifiers)."""


class PriorService(NamedTuple):
    """A procedure on another claim of the same patient (same tenant)."""

    procedure_code: str
    date_of_service: dt.date
    claim_id: str
    payer_id: str | None = None
    """The payer the claim was coded for (None: recorded before payers were kept)."""


def age_on(birth: dt.date, on: dt.date) -> tuple[int, int]:
    """(whole years, days) of age on a date."""
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    return years, (on - birth).days


def primary_coverage(coverages: Sequence[Coverage]) -> Coverage | None:
    """The coverage billed first: the lowest priority number."""
    if not coverages:
        return None
    return min(coverages, key=lambda c: c.priority)


@dataclass(slots=True)
class ClaimFacts:
    """What the edits read about one claim: the claim as eligibility passed it on, the
    ICD-10-CM index, the NCCI/MUE tables and the patient's history, and what
    :func:`claim_facts` worked out from them.

    Read-only: no edit changes it. (Not ``frozen``: a frozen dataclass pays a
    ``setattr`` per field on every claim, on the hot path.)"""

    checked: EligibilityChecked
    ix: IcdIndex
    tables: EditTables
    history: Sequence[PriorService]
    dos: dt.date
    age_years: int
    age_days: int
    """Negative when the date of birth is after the date of service."""
    sex: Sex
    documentation: Documentation
    diagnoses: list[str]
    keys: list[str | None]
    """Each diagnosis as a dotless ICD-10-CM code, None when it is not a valid one."""
    first_dx: dict[str, int]
    """Dotless code -> the number of the first diagnosis carrying it."""
    lines: Sequence[ServiceLine]
    pointers: list[list[int]]
    """Per line, the diagnosis numbers (1-based) it points at."""
    unknown_dx: list[list[str]]
    """Per line, the diagnoses it names that are not on the claim."""
    em_lines: list[EmLine]
    coverage: Coverage | None
    """The primary coverage; None for self-pay."""
    rules: PayerRules = NONE
    """The primary payer's rules in force on the date of service (:mod:`payer_rules`)."""


def claim_facts(
    checked: EligibilityChecked,
    tables: EditTables,
    history: Sequence[PriorService],
    rules: PayerRules = NONE,
) -> ClaimFacts:
    enc = checked.encounter
    ix = icd_index()
    dos = enc.date_of_service
    age_years, age_days = age_on(enc.patient.birth_date, dos)
    diagnoses = list(enc.diagnoses)
    keys: list[str | None] = []
    exact: dict[str, int] = {}
    first_dx: dict[str, int] = {}
    dated = code_dates.active().icd10cm.ranges
    for n, dx in enumerate(diagnoses, start=1):
        exact.setdefault(dx, n)
        key = normalize_icd(dx)
        if key is None or (key not in ix.valid and key not in dated):
            keys.append(None)
        else:
            keys.append(key)
            first_dx.setdefault(key, n)
    lines = enc.lines
    pointers: list[list[int]] = []
    unknown_dx: list[list[str]] = []
    em_lines: list[EmLine] = []
    for n, ln in enumerate(lines, start=1):
        points, unknown = _pointers(ln, exact, first_dx)
        pointers.append(points)
        unknown_dx.append(unknown)
        code = ln.procedure_code
        if code in EM_CODES:
            em_lines.append((n, code, ln.modifiers))
    return ClaimFacts(
        checked=checked,
        ix=ix,
        tables=tables,
        history=history,
        dos=dos,
        age_years=age_years,
        age_days=age_days,
        sex=enc.patient.sex,
        documentation=enc.documentation,
        diagnoses=diagnoses,
        keys=keys,
        first_dx=first_dx,
        lines=lines,
        pointers=pointers,
        unknown_dx=unknown_dx,
        em_lines=em_lines,
        coverage=None if checked.self_pay else primary_coverage(enc.coverages),
        rules=rules,
    )


def _pointers(
    line: ServiceLine, exact: dict[str, int], by_key: dict[str, int]
) -> tuple[list[int], list[str]]:
    """A line's pointers, in the order it names its diagnoses (each once), matched as
    written or else dotless. A line naming none points at none: it is held
    (:func:`services.coding.edits.pointers.line_pointers`), never defaulted to diagnosis 1."""
    pointers: list[int] = []
    unknown: list[str] = []
    for dx in line.diagnosis_codes:
        p = exact.get(dx)
        if p is None:
            k = normalize_icd(dx)
            p = by_key.get(k) if k is not None else None
        if p is None:
            unknown.append(dx)
        elif p not in pointers:
            pointers.append(p)
    return pointers, unknown


def billed_payer(checked: EligibilityChecked) -> str | None:
    """The payer the claim is billed to first (its rules apply); None for self-pay."""
    if checked.self_pay:
        return None
    cov = primary_coverage(checked.encounter.coverages)
    return cov.payer_id if cov is not None else checked.payer_id
