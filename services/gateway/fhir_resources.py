"""Reading a FHIR R4 Bundle: its resources validated and indexed, and the fields the
billing mapping takes from them (names, addresses, identifiers, coverages, money).

Pure: no I/O. Each resource the mapping reads is validated into its fhir.resources model
(R4B: the resources used here are the same in R4 and R4B), and the mapping reads those
typed models, never the raw JSON; other resource types in the bundle are ignored.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote

from fhir.resources.R4B.address import Address
from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.reference import Reference
from pydantic import BaseModel, ValidationError

# A validated fhir.resources model of one of the types in MODELS.
Resource = Any

MODELS: dict[str, type[BaseModel]] = {
    "Encounter": Encounter,
    "Patient": Patient,
    "Coverage": Coverage,
    "Condition": Condition,
    "Procedure": Procedure,
    "Claim": Claim,
    "Practitioner": Practitioner,
    "Organization": Organization,
    "PractitionerRole": PractitionerRole,
    "Location": Location,
}
# What a provider bundle (Synthea's hospitalInformation*, practitionerInformation*) holds.
PROVIDER_TYPES = ("Organization", "Practitioner", "PractitionerRole", "Location")

ICD10CM = {"http://hl7.org/fhir/sid/icd-10-cm", "urn:oid:2.16.840.1.113883.6.90"}
CPT = {"http://www.ama-assn.org/go/cpt", "urn:oid:2.16.840.1.113883.6.12"}
HCPCS = {
    "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
    "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
    "urn:oid:2.16.840.1.113883.6.285",
}
NPI = {"http://hl7.org/fhir/sid/us-npi", "urn:oid:2.16.840.1.113883.4.6"}
TIN = {"urn:oid:2.16.840.1.113883.4.4"}
NUCC = {"http://nucc.org/provider-taxonomy", "urn:oid:2.16.840.1.113883.6.101"}
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


def field_errors(exc: ValidationError, prefix: str) -> list[dict[str, str]]:
    """Field paths and messages only: never the input values (they may be PHI)."""
    out = []
    for err in exc.errors(include_input=False, include_url=False)[:20]:
        loc = ".".join(str(p) for p in err["loc"])
        out.append({"loc": f"{prefix}.{loc}" if loc else prefix, "msg": err["msg"]})
    return out


class Index:
    """The bundle's resources, validated once into their fhir.resources models, by fullUrl,
    Type/id and identifier."""

    def __init__(self, bundle: Any) -> None:
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise BundleError([{"loc": "body.resourceType", "msg": "must be 'Bundle'"}])
        entries = bundle.get("entry") or []
        if not isinstance(entries, list):
            raise BundleError([{"loc": "body.entry", "msg": "must be an array"}])
        self.by_ref: dict[str, Resource] = {}
        self.by_type: dict[str, list[Resource]] = {}
        errors: list[dict[str, str]] = []
        for n, entry in enumerate(entries):
            raw = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(raw, dict):
                errors.append(
                    {"loc": f"body.entry.{n}.resource", "msg": "missing or not an object"}
                )
                continue
            rtype = str(raw.get("resourceType"))
            model = MODELS.get(rtype)
            if model is None:
                continue  # Observation, Immunization, ...: not billing data
            try:
                res: Resource = model.model_validate(raw)
            except ValidationError as exc:
                errors.extend(field_errors(exc, f"body.entry.{n}.resource"))
                continue
            self.by_type.setdefault(rtype, []).append(res)
            if isinstance(entry.get("fullUrl"), str):
                self.by_ref[entry["fullUrl"]] = res
            if res.id:
                self.by_ref[f"{rtype}/{res.id}"] = res
            for key in identity_keys(res):
                self.by_ref.setdefault(key, res)
        if errors:
            raise BundleError(errors[:50])
        if not any(self.by_type.get(t) for t in ("Encounter", *PROVIDER_TYPES)):
            raise BundleError(
                [{"loc": "body.entry", "msg": "no Encounter and no provider resource"}]
            )

    def get(self, ref: Reference | None, rtype: str) -> Resource | None:
        """The resource a reference points at in this bundle: by fullUrl, Type/id, the tail
        of an absolute URL, or a conditional reference (Type?identifier=system|value)."""
        for key in ref_keys(ref, rtype):
            res = self.by_ref.get(key)
            if res is not None:
                return res if res.get_resource_type() == rtype else None
        return None

    def points_at(self, ref: Reference | None, res: Resource) -> bool:
        return self.get(ref, res.get_resource_type()) is res

    def of(self, rtype: str) -> list[Resource]:
        return self.by_type.get(rtype, [])


def codings(concept: CodeableConcept | None) -> list[Coding]:
    if concept is None:
        return []
    return [c for c in concept.coding or [] if c.code]


def pick(concept: CodeableConcept | None, systems: set[str]) -> str | None:
    for c in codings(concept):
        if c.system in systems:
            return str(c.code).strip().upper()
    return None


def described(concept: CodeableConcept | None) -> str:
    """How a code that cannot be billed is named in a hold: system and code, no text."""
    found = codings(concept)
    if not found:
        return "no code"
    c = found[0]
    system = str(c.system or "no system")
    name = "SNOMED CT" if system == SNOMED else system
    return f"{name} {c.code}"


def identifier(res: Resource, systems: set[str] | None = None, type_code: str = "") -> str:
    for ident in res.identifier or []:
        if not ident.value:
            continue
        if systems is not None and ident.system not in systems:
            continue
        if type_code and type_code not in {c.code for c in codings(ident.type)}:
            continue
        return str(ident.value)
    return ""


def date_of(value: Any) -> str | None:
    """The date part of a FHIR date or dateTime as recorded (no time-zone shift); None for
    a partial date (a year, a month)."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value[:10] if isinstance(value, str) and len(value) >= 10 else None


def address(a: Address | None) -> dict[str, Any] | None:
    if a is None:
        return None
    lines = [str(x) for x in a.line or []]
    state = str(a.state or "").strip()
    if len(state) != 2:
        state = US_STATES.get(state.lower(), state)
    postal = "".join(ch for ch in str(a.postalCode or "") if ch.isdigit())
    return {
        "line1": lines[0] if lines else "",
        "line2": lines[1] if len(lines) > 1 else None,
        "city": str(a.city or ""),
        "state": state.upper(),
        "postal_code": postal,
    }


def first_address(addrs: list[Address] | None) -> dict[str, Any] | None:
    return address(addrs[0]) if addrs else None


def name_of(res: Patient | Practitioner) -> tuple[str, str]:
    names = list(res.name or [])
    official = [n for n in names if n.use == "official"] or names
    if not official:
        return "", ""
    n = official[0]
    given = [str(g) for g in n.given or []]
    return (given[0] if given else ""), str(n.family or "")


def person_of(res: Patient) -> dict[str, Any]:
    first, last = name_of(res)
    return {
        "id": identifier(res, type_code="MR") or str(res.id or ""),
        "first_name": first,
        "last_name": last,
        "birth_date": date_of(res.birthDate),
        "sex": GENDER.get(str(res.gender), "U"),
        "address": first_address(res.address),
        "email": email_of(res),
    }


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")  # as schemas.common.Person.email


def email_of(res: Patient) -> str | None:
    """The patient's current email (telecom system email, not an old one); statements go
    to it only when the patient chose paperless ones, which FHIR does not say."""
    for t in res.telecom or []:
        if t.system == "email" and t.value and t.use != "old" and not (t.period and t.period.end):
            value = str(t.value).strip()
            return value if len(value) <= 254 and EMAIL.match(value) else None
    return None


def cents(money: Any) -> int | None:
    """A Money's decimal dollars as integer cents, half-up."""
    if money is None or money.value is None:
        return None
    try:
        value = Decimal(str(money.value))
    except InvalidOperation:
        return None
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _payer(idx: Index, cov: Coverage) -> tuple[str, str]:
    """(payer id, payer name) of the first payor: its Organization, else the reference."""
    ref = cov.payor[0] if cov.payor else None
    org = idx.get(ref, "Organization")
    name = str((org.name if org is not None else None) or (ref.display if ref else None) or "")
    payer_id = identifier(org) if org is not None else ""
    if not payer_id and ref is not None and ref.identifier is not None:
        payer_id = str(ref.identifier.value or "")
    return payer_id, name


def coverages_of(idx: Index, patient: Patient | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n, cov in enumerate(idx.of("Coverage")):
        if patient is not None and not idx.points_at(cov.beneficiary, patient):
            continue
        if cov.status not in (None, "active"):
            continue
        payer_id, payer_name = _payer(idx, cov)
        plan = ""
        for cls in cov.class_fhir or []:
            if "plan" in {c.code for c in codings(cls.type)}:
                plan = str(cls.name or cls.value or "")
        member = str(cov.subscriberId or identifier(cov))
        rel = next((str(c.code) for c in codings(cov.relationship)), "self")
        period = cov.period
        out.append(
            {
                "payer_id": payer_id,
                "payer_name": payer_name[:60],
                "member_id": member,
                "plan": (plan or payer_name or "unknown")[:60],
                "priority": min(int(cov.order or n + 1), 3),
                "effective_date": (date_of(period.start) if period else None) or "1900-01-01",
                "termination_date": date_of(period.end) if period else None,
                "relationship": RELATIONSHIP.get(rel, "G8"),
            }
        )
    out.sort(key=lambda c: int(c["priority"]))
    return out[:3]


def for_encounter(idx: Index, enc: Encounter, rtype: str) -> list[Resource]:
    return [r for r in idx.of(rtype) if idx.points_at(r.encounter, enc)]


def claim_of(idx: Index, enc: Encounter) -> Claim | None:
    for claim in idx.of("Claim"):
        if claim.use not in (None, "claim"):
            continue
        for item in claim.item or []:
            if any(idx.points_at(ref, enc) for ref in item.encounter or []):
                return claim  # type: ignore[no-any-return]
    return None


def identity_keys(res: Resource) -> list[str]:
    """The conditional references that find this resource: Type?identifier=system|value
    (and value alone) for each identifier."""
    rtype = res.get_resource_type()
    keys = []
    for ident in getattr(res, "identifier", None) or []:
        if ident.value:
            if ident.system:
                keys.append(f"{rtype}?identifier={ident.system}|{ident.value}")
            keys.append(f"{rtype}?identifier={ident.value}")
    return keys


def ref_keys(ref: Reference | None, rtype: str) -> list[str]:
    """The keys a Reference may be found under: its literal target (a fullUrl, Type/id, the
    tail of an absolute URL, a conditional reference) or its logical identifier."""
    if ref is None:
        return []
    keys: list[str] = []
    target = str(ref.reference or "")
    if "?" in target:
        kind, _, query = target.partition("?")
        params = dict(p.partition("=")[::2] for p in query.split("&"))
        if params.get("identifier"):
            keys.append(f"{kind.rsplit('/', 1)[-1]}?identifier={unquote(params['identifier'])}")
    elif target:
        keys.append(target)
        if target.startswith(("http://", "https://")):
            keys.append("/".join(target.rstrip("/").split("/")[-2:]))
    ident = ref.identifier
    if ident is not None and ident.value:
        system = f"{ident.system}|" if ident.system else ""
        keys.append(f"{rtype}?identifier={system}{ident.value}")
    return keys
