"""Claim scrubber: turn an eligibility-checked encounter into a coded claim or a hold.

:func:`scrub` is pure: it reads only its arguments (the claim, the NCCI/MUE
:class:`~services.coding.ncci.EditTables`, the patient's prior services) and the code
sets (loaded once per process by :func:`services.coding.codesets.icd_index`). It works
out the claim's facts once (:mod:`services.coding.edits.facts`), runs the edit families
below in order and collects their findings; it never raises for bad codes or missing
data. Each family lives in its own module of :mod:`services.coding.edits`, named for
what it checks; the package's docstring lists every edit id and its module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import ValidationError

from schemas.events import ClaimCoded, ClaimHeld, ClaimLine, EligibilityChecked, HoldReason, Stage
from services.coding.edits import (
    awv_frequency,
    claim_data,
    code_dates,
    codeset_version,
    diagnosis_age,
    diagnosis_codes,
    diagnosis_sequence,
    diagnosis_sex,
    duplicate_lines,
    dx_fit,
    em_level,
    em_multiple,
    em_patient_status,
    em_preventive,
    identifiers,
    modifiers,
    mue,
    ncci_ptp,
    necessity,
    payer_auth,
    payer_coverage,
    payer_modifiers,
    pointers,
    procedure_codes,
    procedure_sex,
    vaccines,
)
from services.coding.edits.facts import ClaimFacts, PriorService, claim_facts
from services.coding.edits.flag import HOLD, Flag
from services.coding.ncci import EMPTY, EditTables
from services.coding.payer_rules import NONE, PayerRules

ClaimEdit = Callable[[ClaimFacts], list[Flag]]
DiagnosisEdit = Callable[[ClaimFacts, int, str, str], list[Flag]]
"""Takes diagnosis number, the code as written and dotless; sees billable codes only."""

# The order below is the order of the findings on the claim.
BEFORE_DIAGNOSES: tuple[ClaimEdit, ...] = (
    codeset_version.release_in_force,
    code_dates.future_date,
    claim_data.birth_after_service,
    pointers.diagnosis_count,
)
EACH_BILLABLE_DIAGNOSIS: tuple[DiagnosisEdit, ...] = (
    diagnosis_codes.duplicate,
    diagnosis_sex.other_sex,
    diagnosis_age.outside_age_group,
)
AFTER_DIAGNOSES: tuple[ClaimEdit, ...] = (diagnosis_sequence.first_listed,)
LINES: tuple[ClaimEdit, ...] = (
    procedure_codes.invalid_or_unknown,
    modifiers.unknown_or_repeated,
    pointers.line_pointers,
    duplicate_lines.repeated_lines,
    em_preventive.age_band,
    em_preventive.patient_status,
    em_patient_status.office_visit_status,
    procedure_sex.other_sex,
    dx_fit.problem_without_problem,
    dx_fit.preventive_without_exam,
    vaccines.product_and_diagnosis,
    vaccines.administration_code,
    necessity.unsupported_tests,
    payer_coverage.not_covered,
    payer_coverage.over_limit,
    payer_modifiers.required,
    payer_modifiers.telehealth,
    payer_auth.missing_numbers,
)
"""Each flags lines (never the claim); their findings are listed line by line."""
AFTER_LINES: tuple[ClaimEdit, ...] = (
    em_multiple.more_than_one,
    em_level.billed_level,
    ncci_ptp.bundled_pairs,
    mue.units_over,
    awv_frequency.too_soon,
    claim_data.claim_id_length,
    claim_data.coverage_missing,
    identifiers.provider_ids,
    identifiers.payer_ids,
)


def scrub(
    checked: EligibilityChecked,
    tables: EditTables = EMPTY,
    history: Sequence[PriorService] = (),
    rules: PayerRules = NONE,
) -> ClaimCoded | ClaimHeld:
    """Build the claim for an eligibility-checked encounter and run the coding edits.

    ``tables`` are the NCCI PTP/MUE edits (applied as in force on the date of
    service); ``history`` the patient's procedures on other claims (for frequency
    edits: :data:`~services.coding.edits.awv_frequency.HISTORY_CODES` and the codes the
    payer's frequency rules count); ``rules`` the billed payer's rules in force on the
    date of service (:meth:`~services.coding.payer_rules.RuleBook.for_claim`).
    Returns :class:`ClaimHeld` (stage ``coding``) when any edit holds, else
    :class:`ClaimCoded` carrying the warnings.
    """
    f = claim_facts(checked, tables, history, rules)
    found = find(f)
    if not any(x.severity == HOLD for x in found):
        try:
            return _coded(f, found)
        except ValidationError as exc:
            # Never echo input values: they may carry patient data.
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                for err in exc.errors(include_url=False, include_input=False)
            )
            found.append(claim_data.claim_invalid(problems))
    return ClaimHeld(
        claim_id=checked.claim_id,
        encounter_id=checked.encounter_id,
        stage=Stage.coding,
        reasons=[
            HoldReason(code=x.edit, message=x.message, fix=x.fix)
            for x in found
            if x.severity == HOLD
        ],
        findings=[x.finding() for x in found],
    )


def find(f: ClaimFacts) -> list[Flag]:
    """Every edit's findings on the claim, in order."""
    found: list[Flag] = []
    for claim_edit in BEFORE_DIAGNOSES:
        found += claim_edit(f)
    for n, (dx, key) in enumerate(zip(f.diagnoses, f.keys, strict=True), start=1):
        problems = diagnosis_codes.invalid_or_header(f, n, dx, key)
        found += problems
        if key is not None and not problems:  # billable on the date of service
            for dx_edit in EACH_BILLABLE_DIAGNOSIS:
                found += dx_edit(f, n, dx, key)
    for claim_edit in AFTER_DIAGNOSES:
        found += claim_edit(f)
    by_line: list[Flag] = []
    for line_edit in LINES:
        by_line += line_edit(f)
    # A stable sort: on each line, the findings stay in the order of LINES.
    by_line.sort(key=_line_number)
    found += by_line
    for claim_edit in AFTER_LINES:
        found += claim_edit(f)
    return found


def _line_number(flag: Flag) -> int:
    assert flag.line is not None
    return flag.line


def _coded(f: ClaimFacts, found: list[Flag]) -> ClaimCoded:
    checked, dos, lines = f.checked, f.dos, f.lines
    enc = checked.encounter
    return ClaimCoded(
        claim_id=checked.claim_id,
        encounter_id=checked.encounter_id,
        patient_control_number=checked.claim_id,
        self_pay=checked.self_pay,
        payer_id=checked.payer_id,
        payer_name=checked.payer_name,
        coverage=f.coverage,
        patient=enc.patient,
        billing_provider=enc.billing_provider,
        rendering_provider=enc.rendering_provider,
        place_of_service=enc.place_of_service,
        date_of_service=dos,
        diagnoses=f.diagnoses,
        lines=[
            ClaimLine(
                line_number=n,
                procedure_code=line.procedure_code,
                modifiers=line.modifiers,
                units=line.units,
                charge_cents=line.charge_cents,
                diagnosis_pointers=f.pointers[n - 1],
                service_date=dos,
                prior_authorization=_differs(line.prior_authorization, enc.prior_authorization),
                referral_number=_differs(line.referral_number, enc.referral_number),
            )
            for n, line in enumerate(lines, start=1)
        ],
        total_charge_cents=sum(line.charge_cents for line in lines),
        findings=[x.finding() for x in found],
        prior_authorization=enc.prior_authorization,
        referral_number=enc.referral_number,
    )


def _differs(line: str | None, claim: str | None) -> str | None:
    """A line's number, kept only where it is not the claim's (X222A1: 2400 REF*G1 and
    REF*9F only when they differ from 2300's)."""
    return line if line != claim else None


__all__ = ["scrub"]
