"""Claim scrubber: turn an eligibility-checked encounter into a coded claim or a hold.

:func:`scrub` is pure: it reads only its arguments (the claim, the NCCI/MUE
:class:`~services.coding.ncci.EditTables`, the patient's prior services) and the
code sets (loaded once per process by :func:`services.coding.codesets.icd_index`). Every problem it can find is
a :class:`Finding` with a stable edit id; it never raises for bad codes or missing
data. Messages speak to a coder and never carry patient names or identifiers.

Edits (id: severity):

* ``DX-INVALID`` hold: not an ICD-10-CM code.
* ``DX-NOT-BILLABLE`` hold: a category/subcategory header, not a leaf code.
* ``DX-FIRST-LISTED`` hold: external cause (V00-Y99) or a manifestation/supplementary
  code first-listed; warn when a "code first" note names another diagnosis on the claim.
* ``DX-SEX`` hold: sex-specific code for a patient of the other sex.
* ``DX-AGE`` hold: perinatal code (P00-P96) after the newborn period.
* ``DX-DUPLICATE`` warn: the same diagnosis listed twice.
* ``PROC-INVALID`` hold: not shaped like CPT or HCPCS Level II.
* ``PROC-UNKNOWN`` warn: well formed but not in our CPT/HCPCS sets.
* ``MOD-INVALID`` hold: unknown or repeated modifier.
* ``EM-MULTIPLE`` hold: more than one E/M on the date, except preventive + problem-25.
* ``EM-PREVENTIVE-AGE`` hold: preventive code's age band or new/established mismatch.
* ``EM-PATIENT-STATUS`` hold: office E/M new/established mismatch with documentation.
* ``POINTERS`` hold: >12 diagnoses, >4 pointers on a line, pointer to an unknown dx.
* ``DUP-LINE`` hold: two lines with the same code, modifiers and date.
* ``NCCI-PTP`` hold: a column 2 code billed with its column 1 code on the date, where
  the edit's modifier indicator is 0, or is 1 and no bypass modifier is on the pair
  (59, XE, XS, XP, XU on the non-E/M code; 25 on the E/M; different anatomic
  modifiers). Indicator 9 and edits not in force on the date of service are ignored.
* ``MUE`` hold: units over the medically unlikely edit: per line (MAI 1) or summed
  over the date of service (MAI 2 policy, MAI 3 clinical).
* ``EM-LEVEL`` hold when the billed office E/M is above what the documented MDM or
  total time supports (2021 rules); warn when below, or when neither is documented.
* ``EM-AWV-FREQUENCY`` hold: G0438 once per lifetime, G0439 once per 12 months
  (11 full months after the month of the last wellness visit), from the patient's
  claim history passed in.
* ``CODESET-VERSION`` warn: the date of service falls outside the ICD-10-CM release
  loaded (the claim is still checked against it).
* ``COVERAGE-MISSING`` / ``CLAIM-ID`` / ``PATIENT-AGE`` / ``CLAIM-INVALID`` hold:
  data the claim cannot be built without.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from pydantic import ValidationError

from schemas.common import Coverage, ServiceLine, Sex
from schemas.events import (
    ClaimCoded,
    ClaimHeld,
    ClaimLine,
    EligibilityChecked,
    Finding,
    HoldReason,
    Stage,
)
from services.coding.codesets import (
    EM_CODES,
    EM_OFFICE_NEW,
    EM_PREVENTIVE,
    EM_PREVENTIVE_NEW,
    EM_PROBLEM,
    KNOWN_MODIFIERS,
    icd_index,
    icd_release_for,
    in_ranges,
    is_known_procedure,
    normalize_icd,
    procedure_kind,
)
from services.coding.em import RULES_2021, expected_code
from services.coding.ncci import EMPTY, EditTables, MueEdit

HOLD = "hold"
WARN = "warn"

MAX_DIAGNOSES = 12
MAX_POINTERS = 4
MAX_PCN = 20

# What a person must change, per edit; a finding may carry a more specific fix.
FIXES: Mapping[str, str] = {
    "DX-INVALID": "correct the diagnosis to a valid ICD-10-CM code",
    "DX-NOT-BILLABLE": "code to the highest specificity: pick a billable (leaf) code under it",
    "DX-FIRST-LISTED": "resequence the diagnoses so the condition treated is listed first",
    "DX-SEX": "verify the patient's sex and the diagnosis; correct whichever is wrong",
    "DX-AGE": "verify date of birth and diagnosis; use the non-perinatal code unless the "
    "condition originated in the perinatal period (then document that)",
    "DX-DUPLICATE": "list each diagnosis once",
    "PROC-INVALID": "correct the procedure code to a valid CPT or HCPCS Level II code",
    "PROC-UNKNOWN": "confirm the code is current; load the licensed CPT file if it is CPT",
    "MOD-INVALID": "correct or remove the modifier",
    "EM-MULTIPLE": "bill one E/M for the date",
    "EM-PREVENTIVE-AGE": "use the preventive code for the patient's age band and new/"
    "established status",
    "EM-PATIENT-STATUS": "use the new-patient or established-patient E/M that matches the "
    "documentation",
    "POINTERS": "point each line at 1-4 of the claim's diagnoses (at most 12)",
    "DUP-LINE": "combine the lines into one with units, or add the modifier that makes them "
    "distinct",
    "COVERAGE-MISSING": "add the patient's coverage or mark the encounter self-pay",
    "CLAIM-ID": "the claim id must be 1-20 characters to serve as the patient control number",
    "PATIENT-AGE": "correct the patient's date of birth",
    "CLAIM-INVALID": "correct the encounter data named in the message",
    "NCCI-PTP": "remove the bundled code, or append 59/XE/XS/XP/XU (25 on an E/M) only if "
    "the service was distinct and the record shows it",
    "MUE": "report no more units than the MUE for the date; appeal with records only if "
    "the units were medically necessary",
    "EM-LEVEL": "bill the E/M level the documented MDM or total time supports, or complete "
    "the documentation",
    "EM-AWV-FREQUENCY": "check the patient's wellness-visit history; bill G0439 (or a "
    "preventive code) only when the frequency allows",
    "CODESET-VERSION": "load the ICD-10-CM release in force on the date of service",
}

# NCCI: modifiers that bypass an indicator-1 edit when on the non-E/M code of the pair.
NCCI_BYPASS: frozenset[str] = frozenset({"59", "XE", "XS", "XP", "XU"})
ANATOMIC: frozenset[str] = frozenset(
    {"LT", "RT", "50", "E1", "E2", "E3", "E4", "FA"}
    | {f"F{i}" for i in range(1, 10)}
    | {"TA"}
    | {f"T{i}" for i in range(1, 10)}
)
AWV_INITIAL = "G0438"
AWV_SUBSEQUENT = "G0439"
AWV_CODES: frozenset[str] = frozenset({AWV_INITIAL, AWV_SUBSEQUENT})
HISTORY_CODES: frozenset[str] = AWV_CODES
"""Procedures whose frequency the scrubber checks against the patient's history."""
_MAI = {1: "per line", 2: "per day, policy", 3: "per day, clinical"}


class PriorService(NamedTuple):
    """A procedure on another claim of the same patient (same tenant)."""

    procedure_code: str
    date_of_service: dt.date
    claim_id: str


def _months(d: dt.date) -> int:
    return d.year * 12 + d.month - 1


FIX_ADD_25 = "add modifier 25 to the problem-oriented E/M if separately identifiable"

# Preventive medicine age bands: last digit of 9938x/9939x -> (min, max) age in years.
PREVENTIVE_BANDS: Mapping[str, tuple[int, int]] = {
    "1": (0, 0),
    "2": (1, 4),
    "3": (5, 11),
    "4": (12, 17),
    "5": (18, 39),
    "6": (40, 64),
    "7": (65, 200),
}


def preventive_code_for(age_years: int, new_patient: bool) -> str:
    """The preventive E/M code for an age and new/established status."""
    for digit, (low, high) in PREVENTIVE_BANDS.items():
        if low <= age_years <= high:
            return ("9938" if new_patient else "9939") + digit
    return ("9938" if new_patient else "9939") + "7"


def _band_label(digit: str) -> str:
    low, high = PREVENTIVE_BANDS[digit]
    if low == 0 and high == 0:
        return "under 1 year"
    if high >= 200:
        return f"{low} and over"
    return f"{low}-{high} years"


def age_on(birth: dt.date, on: dt.date) -> tuple[int, int]:
    """(whole years, days) of age on a date."""
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    return years, (on - birth).days


class _F(NamedTuple):
    edit: str
    severity: str
    line: int | None
    message: str
    fix: str


def _primary(coverages: list[Coverage]) -> Coverage | None:
    if not coverages:
        return None
    return min(coverages, key=lambda c: c.priority)


def scrub(
    checked: EligibilityChecked,
    tables: EditTables = EMPTY,
    history: Sequence[PriorService] = (),
) -> ClaimCoded | ClaimHeld:
    """Build the claim for an eligibility-checked encounter and run the coding edits.

    ``tables`` are the NCCI PTP/MUE edits (applied as in force on the date of
    service); ``history`` the patient's procedures on other claims (for frequency
    edits; only :data:`HISTORY_CODES` matter). Returns :class:`ClaimHeld` (stage
    ``coding``) when any edit holds, else :class:`ClaimCoded` carrying the warnings.
    """
    enc = checked.encounter
    ix = icd_index()
    found: list[_F] = []
    add = found.append
    dos = enc.date_of_service

    release, in_force = icd_release_for(dos)
    if not in_force:
        add(
            _F(
                "CODESET-VERSION",
                WARN,
                None,
                f"date of service {dos.isoformat()} is in ICD-10-CM FY{_fy(dos)}; the "
                f"diagnoses were checked against {release.name} "
                f"({release.valid_from.isoformat()} to {release.valid_to.isoformat()})",
                FIXES["CODESET-VERSION"],
            )
        )

    # ---- patient
    age_years, age_days = age_on(enc.patient.birth_date, dos)
    if age_days < 0:
        add(
            _F(
                "PATIENT-AGE",
                HOLD,
                None,
                "date of birth is after the date of service",
                FIXES["PATIENT-AGE"],
            )
        )
    sex = enc.patient.sex

    # ---- diagnoses
    diagnoses = list(enc.diagnoses)
    if not diagnoses:
        add(_F("POINTERS", HOLD, None, "the claim has no diagnoses", FIXES["POINTERS"]))
    elif len(diagnoses) > MAX_DIAGNOSES:
        add(
            _F(
                "POINTERS",
                HOLD,
                None,
                f"{len(diagnoses)} diagnoses; a professional claim carries at most {MAX_DIAGNOSES}",
                FIXES["POINTERS"],
            )
        )
    keys: list[str | None] = []
    seen_dx: dict[str, int] = {}
    for n, dx in enumerate(diagnoses, start=1):
        key = normalize_icd(dx)
        if key is None or key not in ix.valid:
            keys.append(None)
            add(
                _F(
                    "DX-INVALID",
                    HOLD,
                    None,
                    f"diagnosis {n} '{dx}' is not an ICD-10-CM code",
                    FIXES["DX-INVALID"],
                )
            )
            continue
        keys.append(key)
        if key not in ix.billable:
            add(
                _F(
                    "DX-NOT-BILLABLE",
                    HOLD,
                    None,
                    f"diagnosis {n} '{dx}' is a header code, not billable; it needs more "
                    "characters",
                    FIXES["DX-NOT-BILLABLE"],
                )
            )
            continue
        if key in seen_dx:
            add(
                _F(
                    "DX-DUPLICATE",
                    WARN,
                    None,
                    f"diagnosis {n} '{dx}' repeats diagnosis {seen_dx[key]}",
                    FIXES["DX-DUPLICATE"],
                )
            )
        else:
            seen_dx[key] = n
        if sex is Sex.male and key in ix.female_only:
            add(
                _F(
                    "DX-SEX",
                    HOLD,
                    None,
                    f"diagnosis {n} '{dx}' is for female patients (pregnancy or female "
                    "genital) but the patient is male",
                    FIXES["DX-SEX"],
                )
            )
        elif sex is Sex.female and key in ix.male_only:
            add(
                _F(
                    "DX-SEX",
                    HOLD,
                    None,
                    f"diagnosis {n} '{dx}' is for male patients (male genital) but the "
                    "patient is female",
                    FIXES["DX-SEX"],
                )
            )
        if key in ix.newborn_only and age_days > ix.newborn_max_age_days:
            add(
                _F(
                    "DX-AGE",
                    HOLD,
                    None,
                    f"diagnosis {n} '{dx}' is a perinatal code (newborn record) but the "
                    f"patient is older than {ix.newborn_max_age_days} days",
                    FIXES["DX-AGE"],
                )
            )

    first = keys[0] if keys else None
    if first is not None and first in ix.billable:
        if first in ix.external_cause:
            add(
                _F(
                    "DX-FIRST-LISTED",
                    HOLD,
                    None,
                    f"first-listed diagnosis '{diagnoses[0]}' is an external cause code "
                    "(V00-Y99), which is only ever secondary",
                    FIXES["DX-FIRST-LISTED"],
                )
            )
        elif first in ix.never_first:
            add(
                _F(
                    "DX-FIRST-LISTED",
                    HOLD,
                    None,
                    f"first-listed diagnosis '{diagnoses[0]}' {ix.never_first[first]}",
                    FIXES["DX-FIRST-LISTED"],
                )
            )
        else:
            refs = ix.code_first_refs.get(first)
            if refs:
                for n, other in enumerate(keys[1:], start=2):
                    if other is not None and in_ranges(other, refs):
                        add(
                            _F(
                                "DX-FIRST-LISTED",
                                WARN,
                                None,
                                f"'{diagnoses[0]}' says to code first the underlying "
                                f"condition; diagnosis {n} '{diagnoses[n - 1]}' may belong "
                                "first",
                                FIXES["DX-FIRST-LISTED"],
                            )
                        )
                        break

    exact_index = {dx: i for i, dx in reversed(list(enumerate(diagnoses, start=1)))}
    key_index = {k: i for i, k in reversed(list(enumerate(keys, start=1))) if k is not None}

    # ---- lines
    lines = enc.lines
    pointers_by_line: list[list[int]] = []
    seen_lines: dict[tuple[str, tuple[str, ...]], int] = {}
    em_lines: list[tuple[int, str, list[str]]] = []
    new_patient = enc.documentation.new_patient
    for n, line in enumerate(lines, start=1):
        code = line.procedure_code
        if procedure_kind(code) is None:
            add(
                _F(
                    "PROC-INVALID",
                    HOLD,
                    n,
                    f"line {n}: '{code}' is not a CPT or HCPCS Level II code",
                    FIXES["PROC-INVALID"],
                )
            )
        elif not is_known_procedure(code):
            add(
                _F(
                    "PROC-UNKNOWN",
                    WARN,
                    n,
                    f"line {n}: '{code}' is not in this practice's CPT/HCPCS code sets",
                    FIXES["PROC-UNKNOWN"],
                )
            )

        mods = line.modifiers
        bad = [m for m in mods if m not in KNOWN_MODIFIERS]
        if bad:
            add(
                _F(
                    "MOD-INVALID",
                    HOLD,
                    n,
                    f"line {n}: unknown modifier {', '.join(repr(m) for m in bad)}",
                    FIXES["MOD-INVALID"],
                )
            )
        if len(set(mods)) != len(mods):
            add(
                _F(
                    "MOD-INVALID",
                    HOLD,
                    n,
                    f"line {n}: a modifier is repeated",
                    FIXES["MOD-INVALID"],
                )
            )

        pointers: list[int] = []
        for dx in line.diagnosis_codes:
            p = exact_index.get(dx)
            if p is None:
                k = normalize_icd(dx)
                p = key_index.get(k) if k is not None else None
            if p is None:
                add(
                    _F(
                        "POINTERS",
                        HOLD,
                        n,
                        f"line {n} names diagnosis '{dx}', which is not on the claim",
                        FIXES["POINTERS"],
                    )
                )
            elif p not in pointers:
                pointers.append(p)
        if not line.diagnosis_codes:
            pointers = [1] if diagnoses else []
        if len(pointers) > MAX_POINTERS:
            add(
                _F(
                    "POINTERS",
                    HOLD,
                    n,
                    f"line {n} points at {len(pointers)} diagnoses; at most {MAX_POINTERS}",
                    FIXES["POINTERS"],
                )
            )
        elif not pointers:
            add(_F("POINTERS", HOLD, n, f"line {n} points at no diagnosis", FIXES["POINTERS"]))
        elif any(p > MAX_DIAGNOSES for p in pointers):
            add(
                _F(
                    "POINTERS",
                    HOLD,
                    n,
                    f"line {n} points past diagnosis {MAX_DIAGNOSES}",
                    FIXES["POINTERS"],
                )
            )
        pointers_by_line.append(pointers)

        dup_key = (code, tuple(mods))
        if dup_key in seen_lines:
            add(
                _F(
                    "DUP-LINE",
                    HOLD,
                    n,
                    f"line {n} repeats line {seen_lines[dup_key]} ('{code}', same modifiers, "
                    "same date)",
                    FIXES["DUP-LINE"],
                )
            )
        else:
            seen_lines[dup_key] = n

        if code in EM_CODES:
            em_lines.append((n, code, mods))
            if code in EM_PREVENTIVE and age_days >= 0:
                digit = code[4]
                low, high = PREVENTIVE_BANDS.get(digit, (-1, -1))
                if not low <= age_years <= high:
                    right = preventive_code_for(age_years, code in EM_PREVENTIVE_NEW)
                    add(
                        _F(
                            "EM-PREVENTIVE-AGE",
                            HOLD,
                            n,
                            f"line {n}: '{code}' is for ages {_band_label(digit)}; the "
                            f"patient's age at the date of service calls for '{right}'",
                            f"use '{right}'",
                        )
                    )
                is_new_code = code in EM_PREVENTIVE_NEW
                if is_new_code != new_patient:
                    status = "new" if new_patient else "established"
                    right = code[:3] + ("8" if new_patient else "9") + code[4]
                    add(
                        _F(
                            "EM-PREVENTIVE-AGE",
                            HOLD,
                            n,
                            f"line {n}: '{code}' is a {'new' if is_new_code else 'established'}"
                            f"-patient preventive code but the documentation says {status} "
                            "patient",
                            f"use '{right}' or correct the documentation",
                        )
                    )
            elif code in EM_PROBLEM and (code in EM_OFFICE_NEW) != new_patient:
                status = "new" if new_patient else "established"
                add(
                    _F(
                        "EM-PATIENT-STATUS",
                        HOLD,
                        n,
                        f"line {n}: '{code}' is a {'new' if code in EM_OFFICE_NEW else 'established'}"
                        f"-patient office visit but the documentation says {status} patient",
                        FIXES["EM-PATIENT-STATUS"],
                    )
                )

    if len(em_lines) > 1:
        preventive = [e for e in em_lines if e[1] in EM_PREVENTIVE]
        problem = [e for e in em_lines if e[1] in EM_PROBLEM]
        if len(preventive) == 1 and len(problem) == 1:
            n, code, mods = problem[0]
            if "25" not in mods:
                add(
                    _F(
                        "EM-MULTIPLE",
                        HOLD,
                        n,
                        f"line {n}: problem-oriented E/M '{code}' is billed with preventive "
                        f"'{preventive[0][1]}' on the same date without modifier 25",
                        FIX_ADD_25,
                    )
                )
        else:
            codes = ", ".join(f"'{c}' (line {n})" for n, c, _ in em_lines)
            if len(preventive) > 1 and not problem:
                fix = "bill one preventive visit for the date"
            elif len(preventive) > 1:
                fix = "bill one preventive visit, and the problem E/M with modifier 25"
            else:
                fix = "bill one problem-oriented E/M for the date that covers all the work"
            add(
                _F(
                    "EM-MULTIPLE",
                    HOLD,
                    em_lines[1][0],
                    f"{len(em_lines)} E/M services on the same date: {codes}",
                    fix,
                )
            )

    _em_level(lines, em_lines, enc.documentation.mdm_level, enc.documentation.total_minutes,
              dos, add)  # fmt: skip
    _ncci(lines, tables, dos, add)
    _awv_frequency(lines, history, checked.claim_id, dos, add)

    # ---- claim header
    pcn = checked.claim_id
    if not 1 <= len(pcn) <= MAX_PCN:
        add(
            _F(
                "CLAIM-ID",
                HOLD,
                None,
                f"claim id is {len(pcn)} characters; the patient control number allows 1-{MAX_PCN}",
                FIXES["CLAIM-ID"],
            )
        )
    coverage = None if checked.self_pay else _primary(list(enc.coverages))
    if not checked.self_pay and (coverage is None or not checked.payer_id):
        what = "no coverage on the encounter" if coverage is None else "no payer id"
        add(
            _F(
                "COVERAGE-MISSING",
                HOLD,
                None,
                f"{what} and the encounter is not self-pay",
                FIXES["COVERAGE-MISSING"],
            )
        )

    if not any(f.severity == HOLD for f in found):
        try:
            claim_lines = [
                ClaimLine(
                    line_number=n,
                    procedure_code=line.procedure_code,
                    modifiers=line.modifiers,
                    units=line.units,
                    charge_cents=line.charge_cents,
                    diagnosis_pointers=pointers_by_line[n - 1],
                    service_date=dos,
                )
                for n, line in enumerate(lines, start=1)
            ]
            return ClaimCoded(
                claim_id=checked.claim_id,
                encounter_id=checked.encounter_id,
                patient_control_number=pcn,
                self_pay=checked.self_pay,
                payer_id=checked.payer_id,
                payer_name=checked.payer_name,
                coverage=coverage,
                patient=enc.patient,
                billing_provider=enc.billing_provider,
                rendering_provider=enc.rendering_provider,
                place_of_service=enc.place_of_service,
                date_of_service=dos,
                diagnoses=diagnoses,
                lines=claim_lines,
                total_charge_cents=sum(line.charge_cents for line in lines),
                findings=[_finding(f) for f in found],
            )
        except ValidationError as exc:
            # Never echo input values: they may carry patient data.
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                for err in exc.errors(include_url=False, include_input=False)
            )
            add(
                _F(
                    "CLAIM-INVALID",
                    HOLD,
                    None,
                    f"the claim cannot be built: {problems}",
                    FIXES["CLAIM-INVALID"],
                )
            )

    return ClaimHeld(
        claim_id=checked.claim_id,
        encounter_id=checked.encounter_id,
        stage=Stage.coding,
        reasons=[
            HoldReason(code=f.edit, message=f.message, fix=f.fix)
            for f in found
            if f.severity == HOLD
        ],
        findings=[_finding(f) for f in found],
    )


def _fy(dos: dt.date) -> int:
    return dos.year + 1 if dos.month >= 10 else dos.year


def _em_level(
    lines: Sequence[ServiceLine],
    em_lines: list[tuple[int, str, list[str]]],
    mdm: str | None,
    minutes: int | None,
    dos: dt.date,
    add: Callable[[_F], None],
) -> None:
    for n, code, _ in em_lines:
        if code not in EM_PROBLEM:
            continue
        exp = expected_code(code, mdm, minutes, dos)
        if exp is None:
            if code != "99211" and dos >= RULES_2021 and mdm is None and minutes is None:
                add(
                    _F(
                        "EM-LEVEL",
                        WARN,
                        n,
                        f"line {n}: '{code}' has neither medical decision making nor total "
                        "time documented to support its level",
                        FIXES["EM-LEVEL"],
                    )
                )
            continue
        if exp.code is None:
            add(
                _F(
                    "EM-LEVEL",
                    HOLD,
                    n,
                    f"line {n}: '{code}' billed but the documentation ({exp.basis}) supports "
                    "no office visit level",
                    FIXES["EM-LEVEL"],
                )
            )
        elif code[4] > exp.code[4]:
            add(
                _F(
                    "EM-LEVEL",
                    HOLD,
                    n,
                    f"line {n}: '{code}' billed but the documentation ({exp.basis}) supports "
                    f"'{exp.code}'",
                    f"bill '{exp.code}', or document the MDM or time that supports '{code}'",
                )
            )
        elif code[4] < exp.code[4]:
            add(
                _F(
                    "EM-LEVEL",
                    WARN,
                    n,
                    f"line {n}: '{code}' billed but the documentation ({exp.basis}) supports "
                    f"'{exp.code}' (billed lower)",
                    f"consider '{exp.code}'",
                )
            )


def _ncci(
    lines: Sequence[ServiceLine], tables: EditTables, dos: dt.date, add: Callable[[_F], None]
) -> None:
    if not tables.ptp and not tables.mue:
        return
    codes = [ln.procedure_code for ln in lines]
    # PTP: every ordered pair of lines (a claim has few lines); E/M pairs are EM-MULTIPLE's.
    column1 = tables.column1
    for i, c1 in enumerate(codes):
        if c1 not in column1:
            continue
        for j, c2 in enumerate(codes):
            if i == j or c1 == c2 or (c1 in EM_CODES and c2 in EM_CODES):
                continue
            edit = tables.ptp_on(c1, c2, dos)
            if edit is None or edit.modifier_indicator == 9:
                continue
            n1, n2 = i + 1, j + 1
            if edit.modifier_indicator == 1 and _bypassed(lines[i], lines[j]):
                continue
            why = f" ({edit.rationale})" if edit.rationale else ""
            if edit.modifier_indicator == 0:
                add(
                    _F(
                        "NCCI-PTP",
                        HOLD,
                        n2,
                        f"line {n2}: '{c2}' is bundled into '{c1}' (line {n1}) on the same "
                        f"date by NCCI{why}; no modifier allows both (indicator 0)",
                        f"remove '{c2}' (line {n2}); it is not separately payable with '{c1}'",
                    )
                )
            else:
                em_side = c1 in EM_CODES or c2 in EM_CODES
                how = "modifier 25 on the E/M" if em_side else "modifier 59, XE, XS, XP or XU"
                add(
                    _F(
                        "NCCI-PTP",
                        HOLD,
                        n2,
                        f"line {n2}: '{c2}' is bundled into '{c1}' (line {n1}) on the same "
                        f"date by NCCI{why}; {how} allows both only if the service was "
                        "distinct",
                        f"remove '{c2}', or append {how} if the record shows a distinct service",
                    )
                )
    if tables.mue:
        per_day: dict[str, tuple[MueEdit, int, int]] = {}  # code -> edit, units, last line
        for n, ln in enumerate(lines, start=1):
            code = ln.procedure_code
            mue = tables.mue_on(code, dos)
            if mue is None:
                continue
            if mue.mai == 1:
                if ln.units > mue.value:
                    add(_mue_finding(n, code, ln.units, mue.value, mue.mai))
            else:
                prev = per_day.get(code)
                per_day[code] = (mue, ln.units + (prev[1] if prev else 0), n)
        for code, (mue, total, last) in per_day.items():
            if total > mue.value:
                add(_mue_finding(last, code, total, mue.value, mue.mai))


def _mue_finding(n: int, code: str, units: int, value: int, mai: int) -> _F:
    where = "on the line" if mai == 1 else "on the date of service"
    return _F(
        "MUE",
        HOLD,
        n,
        f"line {n}: {units} units of '{code}' {where}; the medically unlikely edit allows "
        f"{value} ({_MAI.get(mai, str(mai))})",
        f"report at most {value} unit(s) of '{code}'"
        + ("; an appeal with records may be paid" if mai == 3 else ""),
    )


def _bypassed(a: ServiceLine, b: ServiceLine) -> bool:
    """Whether an indicator-1 pair carries a modifier that allows both codes."""
    for line, other in ((a, b), (b, a)):
        mods = set(line.modifiers)
        if line.procedure_code in EM_CODES:
            if "25" in mods:
                return True
        elif mods & NCCI_BYPASS:
            return True
        side, other_side = mods & ANATOMIC, set(other.modifiers) & ANATOMIC
        if side and other_side and not side & other_side:
            return True
    return False


def _awv_frequency(
    lines: Sequence[ServiceLine],
    history: Sequence[PriorService],
    claim_id: str,
    dos: dt.date,
    add: Callable[[_F], None],
) -> None:
    if not history:
        return
    prior = sorted(
        (p for p in history if p.procedure_code in AWV_CODES and p.claim_id != claim_id),
        key=lambda p: p.date_of_service,
    )
    if not prior:
        return
    for n, ln in enumerate(lines, start=1):
        code = ln.procedure_code
        if code == AWV_INITIAL:
            first = prior[0]
            add(
                _F(
                    "EM-AWV-FREQUENCY",
                    HOLD,
                    n,
                    f"line {n}: '{AWV_INITIAL}' (initial wellness visit) is once per lifetime; "
                    f"the patient had '{first.procedure_code}' on "
                    f"{first.date_of_service.isoformat()}",
                    f"bill '{AWV_SUBSEQUENT}' if 12 months have passed since the last visit",
                )
            )
        elif code == AWV_SUBSEQUENT:
            near = [p for p in prior if abs(_months(dos) - _months(p.date_of_service)) < 12]
            if near:
                last = near[-1]
                due = dt.date(last.date_of_service.year + 1, last.date_of_service.month, 1)
                add(
                    _F(
                        "EM-AWV-FREQUENCY",
                        HOLD,
                        n,
                        f"line {n}: '{AWV_SUBSEQUENT}' is once a year (11 full months after "
                        f"the month of the last visit); the patient had "
                        f"'{last.procedure_code}' on {last.date_of_service.isoformat()}",
                        f"the next wellness visit is payable from {due.isoformat()}",
                    )
                )


def _finding(f: _F) -> Finding:
    return Finding(edit=f.edit, severity=f.severity, line=f.line, message=f.message)


__all__ = [
    "AWV_CODES",
    "FIXES",
    "FIX_ADD_25",
    "HISTORY_CODES",
    "NCCI_BYPASS",
    "PREVENTIVE_BANDS",
    "PriorService",
    "age_on",
    "preventive_code_for",
    "scrub",
]
