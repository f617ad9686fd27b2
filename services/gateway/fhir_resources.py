"""Reading a FHIR R4 Bundle: its resources validated and indexed, and the fields the
billing mapping takes from them (names, addresses, identifiers, coverages, money).

Pure: no I/O. Each resource the mapping reads is first validated with fhir.resources
(its R4B models: the resources used here are the same in R4 and R4B); other resource
types in the bundle are ignored.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote

from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.coverage import Coverage
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from fhir.resources.R4B.procedure import Procedure
from pydantic import BaseModel, ValidationError

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
                errors.extend(field_errors(exc, f"body.entry.{n}.resource"))
                continue
            self.by_type.setdefault(str(rtype), []).append(res)
            if isinstance(entry.get("fullUrl"), str):
                self.by_ref[entry["fullUrl"]] = res
            if res.get("id"):
                self.by_ref[f"{rtype}/{res['id']}"] = res
            for key in identity_keys(res):
                self.by_ref.setdefault(key, res)
        if errors:
            raise BundleError(errors[:50])
        if not any(self.by_type.get(t) for t in ("Encounter", *PROVIDER_TYPES)):
            raise BundleError(
                [{"loc": "body.entry", "msg": "no Encounter and no provider resource"}]
            )

    def get(self, ref: Any, rtype: str) -> dict[str, Any] | None:
        """The resource a reference points at in this bundle: by fullUrl, Type/id, the tail
        of an absolute URL, or a conditional reference (Type?identifier=system|value)."""
        res = None
        for key in ref_keys(ref, rtype):
            res = self.by_ref.get(key)
            if res is not None:
                break
        return res if res is not None and res.get("resourceType") == rtype else None

    def points_at(self, ref: Any, res: dict[str, Any]) -> bool:
        return self.get(ref, str(res.get("resourceType"))) is res

    def of(self, rtype: str) -> list[dict[str, Any]]:
        return self.by_type.get(rtype, [])


def codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, dict):
        return []
    return [c for c in concept.get("coding") or [] if isinstance(c, dict) and c.get("code")]


def pick(concept: Any, systems: set[str]) -> str | None:
    for c in codings(concept):
        if c.get("system") in systems:
            return str(c["code"]).strip().upper()
    return None


def described(concept: Any) -> str:
    """How a code that cannot be billed is named in a hold: system and code, no text."""
    found = codings(concept)
    if not found:
        return "no code"
    c = found[0]
    system = str(c.get("system") or "no system")
    name = "SNOMED CT" if system == SNOMED else system
    return f"{name} {c['code']}"


def identifier(res: dict[str, Any], systems: set[str] | None = None, type_code: str = "") -> str:
    for ident in res.get("identifier") or []:
        if not isinstance(ident, dict) or not ident.get("value"):
            continue
        if systems is not None and ident.get("system") not in systems:
            continue
        if type_code and type_code not in {c.get("code") for c in codings(ident.get("type"))}:
            continue
        return str(ident["value"])
    return ""


def date_of(value: Any) -> str | None:
    return value[:10] if isinstance(value, str) and len(value) >= 10 else None


def address(addrs: Any) -> dict[str, Any] | None:
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


def name_of(res: dict[str, Any]) -> tuple[str, str]:
    names = [n for n in res.get("name") or [] if isinstance(n, dict)]
    official = [n for n in names if n.get("use") == "official"] or names
    if not official:
        return "", ""
    n = official[0]
    given = [str(g) for g in n.get("given") or []]
    return (given[0] if given else ""), str(n.get("family") or "")


def person_of(res: dict[str, Any]) -> dict[str, Any]:
    first, last = name_of(res)
    return {
        "id": identifier(res, type_code="MR") or str(res.get("id") or ""),
        "first_name": first,
        "last_name": last,
        "birth_date": res.get("birthDate"),
        "sex": GENDER.get(str(res.get("gender")), "U"),
        "address": address(res.get("address")),
    }


def cents(money: Any) -> int | None:
    if not isinstance(money, dict) or money.get("value") is None:
        return None
    try:
        value = Decimal(str(money["value"]))
    except InvalidOperation:
        return None
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def coverages_of(idx: Index, patient: dict[str, Any] | None) -> list[dict[str, Any]]:
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
        payer_id = identifier(org) if org else ""
        if not payer_id and isinstance(payor_ref.get("identifier"), dict):
            payer_id = str(payor_ref["identifier"].get("value") or "")
        plan = ""
        for cls in cov.get("class") or []:
            if "plan" in {c.get("code") for c in codings(cls.get("type"))}:
                plan = str(cls.get("name") or cls.get("value") or "")
        member = str(cov.get("subscriberId") or identifier(cov))
        rel = next((str(c["code"]) for c in codings(cov.get("relationship"))), "self")
        period = cov.get("period") or {}
        out.append(
            {
                "payer_id": payer_id,
                "payer_name": payer_name[:60],
                "member_id": member,
                "plan": (plan or payer_name or "unknown")[:60],
                "priority": min(int(cov.get("order") or n + 1), 3),
                "effective_date": date_of(period.get("start")) or "1900-01-01",
                "termination_date": date_of(period.get("end")),
                "relationship": RELATIONSHIP.get(rel, "G8"),
            }
        )
    out.sort(key=lambda c: int(c["priority"]))
    return out[:3]


def for_encounter(idx: Index, enc: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [r for r in idx.of(rtype) if idx.points_at(r.get("encounter"), enc)]


def claim_of(idx: Index, enc: dict[str, Any]) -> dict[str, Any] | None:
    for claim in idx.of("Claim"):
        if claim.get("use") not in (None, "claim"):
            continue
        for item in claim.get("item") or []:
            if any(idx.points_at(ref, enc) for ref in item.get("encounter") or []):
                return claim
    return None


def identity_keys(res: dict[str, Any]) -> list[str]:
    """The conditional references that find this resource: Type?identifier=system|value
    (and value alone) for each identifier."""
    rtype = str(res.get("resourceType"))
    keys = []
    for ident in res.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("value"):
            value = str(ident["value"])
            if ident.get("system"):
                keys.append(f"{rtype}?identifier={ident['system']}|{value}")
            keys.append(f"{rtype}?identifier={value}")
    return keys


def ref_keys(ref: Any, rtype: str) -> list[str]:
    """The keys a Reference may be found under: its literal target (a fullUrl, Type/id, the
    tail of an absolute URL, a conditional reference) or its logical identifier."""
    if not isinstance(ref, dict):
        return []
    keys: list[str] = []
    target = ref.get("reference")
    if isinstance(target, str) and target:
        if "?" in target:
            kind, _, query = target.partition("?")
            params = dict(p.partition("=")[::2] for p in query.split("&"))
            if params.get("identifier"):
                keys.append(f"{kind.rsplit('/', 1)[-1]}?identifier={unquote(params['identifier'])}")
        else:
            keys.append(target)
            if target.startswith(("http://", "https://")):
                keys.append("/".join(target.rstrip("/").split("/")[-2:]))
    ident = ref.get("identifier")
    if isinstance(ident, dict) and ident.get("value"):
        system = f"{ident['system']}|" if ident.get("system") else ""
        keys.append(f"{rtype}?identifier={system}{ident['value']}")
    return keys
