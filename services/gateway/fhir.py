"""FHIR R4 Bundle -> EncounterCreated, or a hold naming why it cannot be billed yet.

Pure: no I/O. The mapping is documented in docs/fhir-mapping.md. Each resource the
mapping reads is first validated with fhir.resources (its R4B models: the resources
used here are the same in R4 and R4B); other resource types in the bundle are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.procedure import Procedure
from pydantic import BaseModel, ValidationError

from schemas.common import HoldReason
from schemas.events import EncounterCreated

MODELS: dict[str, type[BaseModel]] = {
    "Encounter": Encounter,
    "Patient": Patient,
    "Coverage": Coverage,
    "Condition": Condition,
    "Procedure": Procedure,
    "Claim": Claim,
    "Practitioner": Practitioner,
    "Organization": Organization,
}

ICD10CM = {"http://hl7.org/fhir/sid/icd-10-cm", "urn:oid:2.16.840.1.113883.6.90"}
CPT = {"http://www.ama-assn.org/go/cpt", "urn:oid:2.16.840.1.113883.6.12"}
HCPCS = {
    "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
    "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
    "urn:oid:2.16.840.1.113883.6.285",
}
NPI = {"http://hl7.org/fhir/sid/us-npi", "urn:oid:2.16.840.1.113883.4.6"}
TIN = {"urn:oid:2.16.840.1.113883.4.4"}
SNOMED = "http://snomed.info/sct"

# Encounter.class (v3 ActCode) -> CMS place of service.
PLACE_OF_SERVICE = {
    "AMB": "11",
    "EMER": "23",
    "IMP": "21",
    "ACUTE": "21",
    "NONAC": "21",
    "SS": "22",
    "HH": "12",
    "VR": "02",
    "OBSENC": "22",
    "PRENC": "11",
    "FLD": "99",
}
PREVENTIVE_SNOMED = {"410620009", "162673000", "185349003", "185345009"}
RELATIONSHIP = {"self": "18", "spouse": "01", "child": "19"}
GENDER = {"male": "M", "female": "F"}

US_STATES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI",
    "minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT",
    "nebraska": "NE", "nevada": "NV", "new hampshire": "NH", "new jersey": "NJ",
    "new mexico": "NM", "new york": "NY", "north carolina": "NC", "north dakota": "ND",
    "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
    "rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN",
    "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA",
    "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY", "puerto rico": "PR",
}  # fmt: skip


class BundleError(ValueError):
    """The body is not a usable FHIR Bundle. ``errors`` are field-level, without values."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(f"{len(errors)} problems in the bundle")
        self.errors = errors


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


def _errors(exc: ValidationError, prefix: str) -> list[dict[str, str]]:
    """Field paths and messages only: never the input values (they may be PHI)."""
    out = []
    for err in exc.errors(include_input=False, include_url=False)[:20]:
        loc = ".".join(str(p) for p in err["loc"])
        out.append({"loc": f"{prefix}.{loc}" if loc else prefix, "msg": err["msg"]})
    return out


class _Index:
    """The bundle's resources by fullUrl and Type/id, validated once."""

    def __init__(self, bundle: Any) -> None:
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise BundleError([{"loc": "body.resourceType", "msg": "must be 'Bundle'"}])
        entries = bundle.get("entry") or []
        if not isinstance(entries, list):
            raise BundleError([{"loc": "body.entry", "msg": "must be an array"}])
        self.by_ref: dict[str, dict[str, Any]] = {}
        self.by_type: dict[str, list[dict[str, Any]]] = {}
        errors: list[dict[str, str]] = []
        for n, entry in enumerate(entries):
            res = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(res, dict):
                errors.append(
                    {"loc": f"body.entry.{n}.resource", "msg": "missing or not an object"}
                )
                continue
            rtype = res.get("resourceType")
            model = MODELS.get(str(rtype))
            if model is None:
                continue  # Observation, Immunization, ...: not billing data
            try:
                model.model_validate(res)
            except ValidationError as exc:
                errors.extend(_errors(exc, f"body.entry.{n}.resource"))
                continue
            self.by_type.setdefault(str(rtype), []).append(res)
            if isinstance(entry.get("fullUrl"), str):
                self.by_ref[entry["fullUrl"]] = res
            if res.get("id"):
                self.by_ref[f"{rtype}/{res['id']}"] = res
        if errors:
            raise BundleError(errors[:50])
        if not self.by_type.get("Encounter"):
            raise BundleError([{"loc": "body.entry", "msg": "no Encounter resource"}])

    def get(self, ref: Any, rtype: str) -> dict[str, Any] | None:
        if not isinstance(ref, dict):
            return None
        target = ref.get("reference")
        if not isinstance(target, str):
            return None
        res = self.by_ref.get(target)
        if res is None and target.startswith(("http://", "https://")):
            tail = "/".join(target.rstrip("/").split("/")[-2:])
            res = self.by_ref.get(tail)
        return res if res is not None and res.get("resourceType") == rtype else None

    def points_at(self, ref: Any, res: dict[str, Any]) -> bool:
        return self.get(ref, str(res.get("resourceType"))) is res

    def of(self, rtype: str) -> list[dict[str, Any]]:
        return self.by_type.get(rtype, [])


def _codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, dict):
        return []
    return [c for c in concept.get("coding") or [] if isinstance(c, dict) and c.get("code")]


def _pick(concept: Any, systems: set[str]) -> str | None:
    for c in _codings(concept):
        if c.get("system") in systems:
            return str(c["code"]).strip().upper()
    return None


def _described(concept: Any) -> str:
    """How a code that cannot be billed is named in a hold: system and code, no text."""
    codings = _codings(concept)
    if not codings:
        return "no code"
    c = codings[0]
    system = str(c.get("system") or "no system")
    name = "SNOMED CT" if system == SNOMED else system
    return f"{name} {c['code']}"


def _identifier(res: dict[str, Any], systems: set[str] | None = None, type_code: str = "") -> str:
    for ident in res.get("identifier") or []:
        if not isinstance(ident, dict) or not ident.get("value"):
            continue
        if systems is not None and ident.get("system") not in systems:
            continue
        if type_code and type_code not in {c.get("code") for c in _codings(ident.get("type"))}:
            continue
        return str(ident["value"])
    return ""


def _date(value: Any) -> str | None:
    return value[:10] if isinstance(value, str) and len(value) >= 10 else None


def _address(addrs: Any) -> dict[str, Any] | None:
    if not isinstance(addrs, list) or not addrs:
        return None
    a = addrs[0]
    lines = [str(x) for x in a.get("line") or []]
    state = str(a.get("state") or "").strip()
    if len(state) != 2:
        state = US_STATES.get(state.lower(), state)
    postal = "".join(ch for ch in str(a.get("postalCode") or "") if ch.isdigit())
    return {
        "line1": lines[0] if lines else "",
        "line2": lines[1] if len(lines) > 1 else None,
        "city": a.get("city") or "",
        "state": state.upper(),
        "postal_code": postal,
    }


def _name(res: dict[str, Any]) -> tuple[str, str]:
    names = [n for n in res.get("name") or [] if isinstance(n, dict)]
    official = [n for n in names if n.get("use") == "official"] or names
    if not official:
        return "", ""
    n = official[0]
    given = [str(g) for g in n.get("given") or []]
    return (given[0] if given else ""), str(n.get("family") or "")


def _person(res: dict[str, Any]) -> dict[str, Any]:
    first, last = _name(res)
    return {
        "id": _identifier(res, type_code="MR") or str(res.get("id") or ""),
        "first_name": first,
        "last_name": last,
        "birth_date": res.get("birthDate"),
        "sex": GENDER.get(str(res.get("gender")), "U"),
        "address": _address(res.get("address")),
    }


def _provider(res: dict[str, Any] | None, *, person: bool) -> dict[str, Any] | None:
    if res is None:
        return None
    out: dict[str, Any] = {"npi": _identifier(res, NPI)}
    if person:
        first, last = _name(res)
        out["name"] = last
        out["first_name"] = first or None
    else:
        out["name"] = str(res.get("name") or "")
        tin = "".join(ch for ch in _identifier(res, TIN) if ch.isdigit())
        out["tax_id"] = tin or None
        out["address"] = _address(res.get("address"))
    return out


def _cents(money: Any) -> int | None:
    if not isinstance(money, dict) or money.get("value") is None:
        return None
    try:
        value = Decimal(str(money["value"]))
    except InvalidOperation:
        return None
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _coverages(idx: _Index, patient: dict[str, Any] | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n, cov in enumerate(idx.of("Coverage")):
        if patient is not None and not idx.points_at(cov.get("beneficiary"), patient):
            continue
        if cov.get("status") not in (None, "active"):
            continue
        payors = cov.get("payor") or []
        org = idx.get(payors[0], "Organization") if payors else None
        payor_ref = payors[0] if payors and isinstance(payors[0], dict) else {}
        payer_name = str((org or {}).get("name") or payor_ref.get("display") or "")
        payer_id = _identifier(org) if org else ""
        if not payer_id and isinstance(payor_ref.get("identifier"), dict):
            payer_id = str(payor_ref["identifier"].get("value") or "")
        plan = ""
        for cls in cov.get("class") or []:
            if "plan" in {c.get("code") for c in _codings(cls.get("type"))}:
                plan = str(cls.get("name") or cls.get("value") or "")
        member = str(cov.get("subscriberId") or _identifier(cov))
        rel = next((str(c["code"]) for c in _codings(cov.get("relationship"))), "self")
        period = cov.get("period") or {}
        out.append(
            {
                "payer_id": payer_id,
                "payer_name": payer_name[:60],
                "member_id": member,
                "plan": (plan or payer_name or "unknown")[:60],
                "priority": min(int(cov.get("order") or n + 1), 3),
                "effective_date": _date(period.get("start")) or "1900-01-01",
                "termination_date": _date(period.get("end")),
                "relationship": RELATIONSHIP.get(rel, "G8"),
            }
        )
    out.sort(key=lambda c: int(c["priority"]))
    return out[:3]


def _for_encounter(idx: _Index, enc: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [r for r in idx.of(rtype) if idx.points_at(r.get("encounter"), enc)]


def _claim_of(idx: _Index, enc: dict[str, Any]) -> dict[str, Any] | None:
    for claim in idx.of("Claim"):
        if claim.get("use") not in (None, "claim"):
            continue
        for item in claim.get("item") or []:
            if any(idx.points_at(ref, enc) for ref in item.get("encounter") or []):
                return claim
    return None


def map_encounter(idx: _Index, enc: dict[str, Any]) -> Mapped:
    holds: list[HoldReason] = []
    encounter_id = _identifier(enc) or str(enc.get("id") or "")
    patient = idx.get(enc.get("subject"), "Patient")
    person = _person(patient) if patient else None

    # Diagnoses: the Claim's, in sequence order; else the encounter's Conditions.
    claim = _claim_of(idx, enc)
    concepts: list[tuple[int, Any]] = []
    if claim is not None:
        for d in sorted(claim.get("diagnosis") or [], key=lambda d: d.get("sequence") or 0):
            concept = d.get("diagnosisCodeableConcept")
            if concept is None:
                cond = idx.get(d.get("diagnosisReference"), "Condition")
                concept = cond.get("code") if cond else None
            concepts.append((int(d.get("sequence") or 0), concept))
    else:
        conditions = _for_encounter(idx, enc, "Condition")
        concepts = [(n, c.get("code")) for n, c in enumerate(conditions, start=1)]
    diagnoses: list[str] = []
    by_sequence: dict[int, str] = {}
    for seq, concept in concepts:
        code = _pick(concept, ICD10CM)
        if code is None:
            holds.append(
                _hold(
                    "DX-CODESET",
                    f"diagnosis {_described(concept)} is not ICD-10-CM",
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

    # Service lines: the Claim's items; else the encounter's Procedures (no charge known).
    lines: list[dict[str, Any]] = []
    if claim is not None:
        items = sorted(claim.get("item") or [], key=lambda i: i.get("sequence") or 0)
        for item in items:
            concept = item.get("productOrService")
            code = _pick(concept, CPT | HCPCS)
            if code is None:
                holds.append(
                    _hold(
                        "PROC-CODESET",
                        f"line {item.get('sequence')}: {_described(concept)} is not CPT or HCPCS",
                        "code the service in CPT or HCPCS Level II",
                    )
                )
                continue
            qty = (item.get("quantity") or {}).get("value")
            units = max(1, int(Decimal(str(qty)))) if qty is not None else 1
            charge = _cents(item.get("net"))
            if charge is None:
                unit = _cents(item.get("unitPrice"))
                charge = unit * units if unit is not None else None
            if charge is None:
                holds.append(
                    _hold(
                        "CHARGE-MISSING",
                        f"line {item.get('sequence')} has no net or unit price",
                        "add the charge for the service line",
                    )
                )
                charge = 0
            modifiers = [
                str(c["code"]).upper()
                for m in item.get("modifier") or []
                for c in _codings(m)
                if len(str(c["code"])) == 2
            ]
            pointers = [
                by_sequence[s] for s in item.get("diagnosisSequence") or [] if s in by_sequence
            ]
            lines.append(
                {
                    "procedure_code": code,
                    "modifiers": modifiers[:4],
                    "units": units,
                    "charge_cents": charge,
                    "diagnosis_codes": (pointers or diagnoses[:1])[:4],
                }
            )
    else:
        for proc in _for_encounter(idx, enc, "Procedure"):
            concept = proc.get("code")
            code = _pick(concept, CPT | HCPCS)
            if code is None:
                holds.append(
                    _hold(
                        "PROC-CODESET",
                        f"procedure {_described(concept)} is not CPT or HCPCS",
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
    if not lines and not any(h.code == "PROC-CODESET" for h in holds):
        holds.append(_hold("PROC-MISSING", "the encounter has no service line", "add the services"))

    # Providers: the primary performer, and the service provider organisation.
    rendering = None
    for part in enc.get("participant") or []:
        rendering = idx.get(part.get("individual"), "Practitioner")
        if rendering is not None:
            break
    billing = idx.get(enc.get("serviceProvider"), "Organization")
    if billing is None and claim is not None:
        billing = idx.get(claim.get("provider"), "Organization")
    if rendering is None and claim is not None:
        rendering = idx.get(claim.get("provider"), "Practitioner")

    klass = enc.get("class") or {}
    types = {c.get("code") for t in enc.get("type") or [] for c in _codings(t)}
    preventive = bool(types & PREVENTIVE_SNOMED) or any(
        str(t).startswith(("9938", "9939")) for t in types
    )
    period = enc.get("period") or {}
    draft: dict[str, Any] = {
        "encounter_id": encounter_id,
        "patient": person,
        "coverages": _coverages(idx, patient),
        "rendering_provider": _provider(rendering, person=True),
        "billing_provider": _provider(billing, person=False),
        "place_of_service": PLACE_OF_SERVICE.get(str(klass.get("code")), "11"),
        "date_of_service": _date(period.get("start")),
        "diagnoses": diagnoses,
        "lines": lines,
        "documentation": {"visit_type": "preventive" if preventive else "problem"},
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


def map_bundle(bundle: Any) -> list[Mapped]:
    """Every Encounter in the bundle, mapped; raises BundleError for an unusable bundle."""
    idx = _Index(bundle)
    out = []
    seen: set[str] = set()
    errors = []
    for n, enc in enumerate(idx.of("Encounter")):
        m = map_encounter(idx, enc)
        if not m.encounter_id or len(m.encounter_id) > 64:
            errors.append({"loc": f"Encounter[{n}].id", "msg": "missing or longer than 64"})
            continue
        if m.encounter_id in seen:
            errors.append({"loc": f"Encounter[{n}].id", "msg": "the same encounter twice"})
            continue
        if not m.patient_id:
            errors.append({"loc": f"Encounter[{n}].subject", "msg": "no Patient in the bundle"})
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
