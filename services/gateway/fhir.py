"""FHIR R4 Bundle -> EncounterCreated, or a hold naming why it cannot be billed yet.

Pure: no I/O. The mapping is documented in docs/fhir-mapping.md; it reads the resources'
fhir.resources models, which services/gateway/fhir_resources.py validates and indexes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.reference import Reference
from pydantic import ValidationError

from schemas.common import HoldReason
from schemas.events import EncounterCreated
from services.gateway.fhir_providers import Directory, entry_of
from services.gateway.fhir_resources import (
    CPT,
    HCPCS,
    ICD10CM,
    PLACE_OF_SERVICE,
    PREVENTIVE_SNOMED,
    BundleError,
    Index,
    cents,
    claim_of,
    codings,
    coverages_of,
    date_of,
    described,
    for_encounter,
    identifier,
    person_of,
    pick,
)

# BundleError is raised here too (map_bundle); callers catch it as fhir.BundleError.
__all__ = ["BundleError", "Index", "Mapped", "map_bundle", "map_encounter", "summary"]


@dataclass
class Mapped:
    """One FHIR Encounter as the pipeline sees it."""

    encounter_id: str
    patient_id: str
    draft: dict[str, Any]
    encounter: EncounterCreated | None = None
    holds: list[HoldReason] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return self.encounter is None


def _hold(code: str, message: str, fix: str) -> HoldReason:
    return HoldReason(code=code, message=message, fix=fix)


def _diagnoses(
    idx: Index, enc: Encounter, claim: Claim | None, holds: list[HoldReason]
) -> tuple[list[str], dict[int, str]]:
    """The Claim's diagnoses in sequence order, else the encounter's Conditions; and the
    ICD-10-CM code of each Claim diagnosis sequence (what the lines point at)."""
    concepts: list[tuple[int, Any]] = []
    if claim is not None:
        for d in sorted(claim.diagnosis or [], key=lambda d: d.sequence or 0):
            concept = d.diagnosisCodeableConcept
            if concept is None:
                cond = idx.get(d.diagnosisReference, "Condition")
                concept = cond.code if cond is not None else None
            concepts.append((int(d.sequence or 0), concept))
    else:
        conditions = for_encounter(idx, enc, "Condition")
        concepts = [(n, c.code) for n, c in enumerate(conditions, start=1)]
    diagnoses: list[str] = []
    by_sequence: dict[int, str] = {}
    for seq, concept in concepts:
        code = pick(concept, ICD10CM)
        if code is None:
            holds.append(
                _hold(
                    "DX-CODESET",
                    f"diagnosis {described(concept)} is not ICD-10-CM",
                    "code the diagnosis in ICD-10-CM",
                )
            )
            continue
        if code not in diagnoses:
            diagnoses.append(code)
        by_sequence[seq] = code
    if not concepts:
        holds.append(
            _hold("DX-MISSING", "the encounter has no diagnosis", "add an ICD-10-CM diagnosis")
        )
    return diagnoses, by_sequence


def _claim_lines(
    claim: Claim,
    diagnoses: list[str],
    by_sequence: dict[int, str],
    holds: list[HoldReason],
) -> list[dict[str, Any]]:
    """Service lines from the Claim's items, with their charges."""
    lines: list[dict[str, Any]] = []
    for item in sorted(claim.item or [], key=lambda i: i.sequence or 0):
        concept = item.productOrService
        code = pick(concept, CPT | HCPCS)
        if code is None:
            holds.append(
                _hold(
                    "PROC-CODESET",
                    f"line {item.sequence}: {described(concept)} is not CPT or HCPCS",
                    "code the service in CPT or HCPCS Level II",
                )
            )
            continue
        qty = item.quantity.value if item.quantity is not None else None
        units = max(1, int(Decimal(str(qty)))) if qty is not None else 1
        charge = cents(item.net)
        if charge is None:
            unit = cents(item.unitPrice)
            charge = unit * units if unit is not None else None
        if charge is None:
            holds.append(
                _hold(
                    "CHARGE-MISSING",
                    f"line {item.sequence} has no net or unit price",
                    "add the charge for the service line",
                )
            )
            charge = 0
        modifiers = [
            str(c.code).upper()
            for m in item.modifier or []
            for c in codings(m)
            if len(str(c.code)) == 2
        ]
        # No diagnosisSequence: no pointer. Coding holds such a line (POINTERS), naming it,
        # rather than the line being billed for whatever diagnosis happens to come first.
        pointers = [by_sequence[s] for s in item.diagnosisSequence or [] if s in by_sequence]
        lines.append(
            {
                "procedure_code": code,
                "modifiers": modifiers[:4],
                "units": units,
                "charge_cents": charge,
                "diagnosis_codes": pointers[:4],
            }
        )
    return lines


def _procedure_lines(
    idx: Index, enc: Encounter, diagnoses: list[str], holds: list[HoldReason]
) -> list[dict[str, Any]]:
    """Service lines from the encounter's Procedures: no FHIR Claim, so no charge known."""
    lines: list[dict[str, Any]] = []
    for proc in for_encounter(idx, enc, "Procedure"):
        concept = proc.code
        code = pick(concept, CPT | HCPCS)
        if code is None:
            holds.append(
                _hold(
                    "PROC-CODESET",
                    f"procedure {described(concept)} is not CPT or HCPCS",
                    "code the service in CPT or HCPCS Level II",
                )
            )
            continue
        holds.append(
            _hold(
                "CHARGE-MISSING",
                f"procedure {code} has no charge (no FHIR Claim for the encounter)",
                "send the Claim with the charges, or add the charge for the line",
            )
        )
        lines.append(
            {
                "procedure_code": code,
                "units": 1,
                "charge_cents": 0,
                "diagnosis_codes": diagnoses[:1],
            }
        )
    return lines


def _provider(
    idx: Index, directory: Directory, ref: Reference | None, rtype: str
) -> dict[str, Any] | None:
    """The provider a reference names: in the bundle, else in the tenant's directory."""
    res = idx.get(ref, rtype)
    entry = entry_of(res) if res is not None else directory.find(ref, rtype)
    return entry.as_provider() if entry is not None else None


def _providers(
    idx: Index, directory: Directory, enc: Encounter, claim: Claim | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(rendering, billing): the primary performer, and the service provider organisation."""
    rendering = None
    for part in enc.participant or []:
        rendering = _provider(idx, directory, part.individual, "Practitioner")
        if rendering is not None:
            break
    billing = _provider(idx, directory, enc.serviceProvider, "Organization")
    if billing is None and claim is not None:
        billing = _provider(idx, directory, claim.provider, "Organization")
    if rendering is None and claim is not None:
        rendering = _provider(idx, directory, claim.provider, "Practitioner")
    return rendering, billing


def _preventive(enc: Encounter) -> bool:
    types = {str(c.code) for t in enc.type or [] for c in codings(t)}
    return bool(types & PREVENTIVE_SNOMED) or any(
        str(t).startswith(("9938", "9939")) for t in types
    )


def _payer_numbers(claim: Claim) -> dict[str, str]:
    """The claim's prior authorization (the focal insurance's first ``preAuthRef``) and
    referral number (``Claim.referral``'s logical identifier; a ServiceRequest the
    reference points at is not read)."""
    out: dict[str, str] = {}
    insurance = sorted(claim.insurance or [], key=lambda i: (not i.focal, i.sequence or 0))
    refs = [r for i in insurance[:1] for r in i.preAuthRef or [] if r and r.strip()]
    if refs:
        out["prior_authorization"] = refs[0].strip()
    ref = claim.referral
    number = ref.identifier.value if ref is not None and ref.identifier is not None else None
    if number and number.strip():
        out["referral_number"] = number.strip()
    return out


def map_encounter(idx: Index, enc: Encounter, directory: Directory | None = None) -> Mapped:
    holds: list[HoldReason] = []
    encounter_id = identifier(enc) or str(enc.id or "")
    patient = idx.get(enc.subject, "Patient")
    person = person_of(patient) if patient is not None else None
    claim = claim_of(idx, enc)
    diagnoses, by_sequence = _diagnoses(idx, enc, claim, holds)
    if claim is not None:
        lines = _claim_lines(claim, diagnoses, by_sequence, holds)
    else:
        lines = _procedure_lines(idx, enc, diagnoses, holds)
    if not lines and not any(h.code == "PROC-CODESET" for h in holds):
        holds.append(_hold("PROC-MISSING", "the encounter has no service line", "add the services"))
    rendering, billing = _providers(idx, directory or Directory(), enc, claim)
    draft: dict[str, Any] = {
        "encounter_id": encounter_id,
        "patient": person,
        "coverages": coverages_of(idx, patient),
        "rendering_provider": rendering,
        "billing_provider": billing,
        "place_of_service": PLACE_OF_SERVICE.get(str(enc.class_fhir and enc.class_fhir.code), "11"),
        "date_of_service": date_of(enc.period.start) if enc.period is not None else None,
        "diagnoses": diagnoses,
        "lines": lines,
        "documentation": {"visit_type": "preventive" if _preventive(enc) else "problem"},
        **(_payer_numbers(claim) if claim is not None else {}),
    }
    mapped = Mapped(encounter_id, (person or {}).get("id") or "", draft, holds=holds)
    if holds:
        return mapped
    try:
        mapped.encounter = EncounterCreated.model_validate(draft)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        mapped.holds.append(
            _hold(
                "FHIR-INCOMPLETE",
                f"the bundle lacks or has unusable values for: {', '.join(fields[:12])}",
                "complete these fields in the EHR, or fix them in the work queue",
            )
        )
    return mapped


def map_bundle(bundle: Any, directory: Directory | None = None) -> list[Mapped]:
    """Every Encounter in the bundle (a dict, or its Index), mapped, its providers found in
    the bundle or else in ``directory``; raises BundleError for an unusable bundle. A
    bundle of providers only maps to no encounter."""
    idx = bundle if isinstance(bundle, Index) else Index(bundle)
    out = []
    seen: set[str] = set()
    errors = []
    for n, enc in enumerate(idx.of("Encounter")):
        m = map_encounter(idx, enc, directory)
        if not m.encounter_id or len(m.encounter_id) > 64:
            errors.append({"loc": f"Encounter[{n}].id", "msg": "missing or longer than 64"})
            continue
        if m.encounter_id in seen:
            errors.append({"loc": f"Encounter[{n}].id", "msg": "the same encounter twice"})
            continue
        if not m.patient_id:
            errors.append({"loc": f"Encounter[{n}].subject", "msg": "no Patient in the bundle"})
            continue
        if len(m.patient_id) > 64:  # a held draft keeps it, unchecked by the contract
            errors.append({"loc": f"Encounter[{n}].subject", "msg": "Patient id longer than 64"})
            continue
        seen.add(m.encounter_id)
        out.append(m)
    if errors:
        raise BundleError(errors)
    return out


def summary(mapped: Iterable[Mapped]) -> dict[str, Any]:
    """The shape `rcm fhir import` prints and POST /v1/fhir answers (without ids)."""
    items = list(mapped)
    held = [m for m in items if m.held]
    return {
        "encounters": len(items),
        "accepted": len(items) - len(held),
        "held": len(held),
        "holds": [
            {"encounter": m.encounter_id, "reason": "; ".join(h.message for h in m.holds)}
            for m in held
        ],
    }
