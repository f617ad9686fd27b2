"""The providers a FHIR bundle describes (Organization, Practitioner, PractitionerRole,
Location) as provider-directory entries, and the directory an encounter is completed from.

Pure: no I/O. Synthea writes the providers being billed to their own bundles
(hospitalInformation*.json: Organizations and Locations; practitionerInformation*.json:
Practitioners and PractitionerRoles) and has each patient's Encounter point at them by
conditional reference only (``Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|…``,
``Organization?identifier=https://github.com/synthetichealth/synthea|…``). The gateway keeps
those entries per tenant (services/gateway/directory.py) and resolves such references here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.reference import Reference

from services.gateway.fhir_resources import (
    NPI,
    NUCC,
    TIN,
    Index,
    Resource,
    address,
    first_address,
    identifier,
    identity_keys,
    name_of,
    pick,
    ref_keys,
)

TAXONOMY = re.compile(r"^[0-9A-Z]{9}X$")
KIND = {"Organization": "organization", "Practitioner": "practitioner", "Location": "location"}


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    """One provider of the directory; no patient data."""

    kind: str  # organization | practitioner | location
    fhir_type: str
    fhir_id: str
    npi: str
    name: str
    first_name: str | None = None
    taxonomy: str | None = None
    tax_id: str | None = None
    address: dict[str, Any] | None = None
    keys: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Upserted by NPI; by FHIR id when there is none."""
        return f"npi:{self.npi}" if self.npi else f"{self.fhir_type}/{self.fhir_id}"

    def as_provider(self) -> dict[str, Any]:
        """The EncounterCreated ``Provider`` shape (rendering: a person; billing: an org)."""
        out: dict[str, Any] = {"npi": self.npi, "name": self.name, "taxonomy": self.taxonomy}
        if self.kind == "practitioner":
            out["first_name"] = self.first_name
        else:
            out["tax_id"] = self.tax_id
            out["address"] = self.address
        return out


def _taxonomy(concepts: Iterable[CodeableConcept | None]) -> str | None:
    for concept in concepts:
        code = pick(concept, NUCC)
        if code and TAXONOMY.match(code):
            return code
    return None


def entry_of(res: Resource) -> ProviderEntry | None:
    """An Organization, Practitioner or Location (its fhir.resources model) as a directory
    entry. Taxonomy: a NUCC code of Practitioner.qualification.code, Organization.type or
    Location.type."""
    rtype = res.get_resource_type()
    if rtype not in KIND:
        return None
    first: str | None = None
    if rtype == "Practitioner":
        given, name = name_of(res)
        first = given or None
        taxonomy = _taxonomy(q.code for q in res.qualification or [])
        addr = first_address(res.address)
    elif rtype == "Organization":
        name = str(res.name or "")
        taxonomy = _taxonomy(res.type or [])
        addr = first_address(res.address)
    else:  # a Location has one address
        name = str(res.name or "")
        taxonomy = _taxonomy(res.type or [])
        addr = address(res.address)
    fhir_id = str(res.id or "")
    keys = [f"{rtype}/{fhir_id}"] if fhir_id else []
    tin = "".join(ch for ch in identifier(res, TIN) if ch.isdigit())
    return ProviderEntry(
        kind=KIND[rtype],
        fhir_type=rtype,
        fhir_id=fhir_id,
        npi=identifier(res, NPI),
        name=name[:60],
        first_name=first[:35] if first else None,
        taxonomy=taxonomy,
        tax_id=tin if len(tin) == 9 else None,
        address=addr,
        keys=tuple(keys + identity_keys(res)),
    )


def directory_entries(idx: Index) -> list[ProviderEntry]:
    """Every provider of the bundle; a PractitionerRole lends its NUCC taxonomy
    (``specialty``, else ``code``) to its Practitioner, found in the bundle or by its NPI."""
    entries: dict[str, ProviderEntry] = {}
    for rtype in KIND:
        for res in idx.of(rtype):
            e = entry_of(res)
            if e is not None and (e.npi or e.fhir_id):
                entries[e.key] = e
    for role in idx.of("PractitionerRole"):
        taxonomy = _taxonomy([*(role.specialty or []), *(role.code or [])])
        ref = role.practitioner
        doc = idx.get(ref, "Practitioner")
        npi = identifier(doc, NPI) if doc is not None else _ref_npi(ref)
        if not npi or not taxonomy:
            continue
        known = entries.get(f"npi:{npi}")
        if known is not None:
            entries[known.key] = replace(known, taxonomy=known.taxonomy or taxonomy)
    return list(entries.values())


def _ref_npi(ref: Reference | None) -> str:
    ident = ref.identifier if ref is not None else None
    if ident is not None and ident.system in NPI and ident.value:
        return str(ident.value)
    return ""


class Directory:
    """Provider entries found by the keys a Reference resolves to (see ``ref_keys``)."""

    def __init__(self, entries: Iterable[ProviderEntry] = ()) -> None:
        self.by_key: dict[str, ProviderEntry] = {}
        for e in entries:
            for k in e.keys:
                self.by_key.setdefault(k, e)

    def find(self, ref: Reference | None, rtype: str) -> ProviderEntry | None:
        for k in ref_keys(ref, rtype):
            e = self.by_key.get(k)
            if e is not None and e.fhir_type == rtype:
                return e
        return None


def wanted_keys(idx: Index) -> list[str]:
    """The keys of the provider references (Encounter.participant.individual,
    Encounter.serviceProvider, Claim.provider) the bundle itself cannot resolve."""
    refs: list[tuple[Reference | None, str]] = []
    for enc in idx.of("Encounter"):
        refs += [(p.individual, "Practitioner") for p in enc.participant or []]
        refs.append((enc.serviceProvider, "Organization"))
    for claim in idx.of("Claim"):
        refs += [(claim.provider, "Organization"), (claim.provider, "Practitioner")]
    keys: set[str] = set()
    for ref, rtype in refs:
        if ref is not None and idx.get(ref, rtype) is None:
            keys.update(ref_keys(ref, rtype))
    return sorted(keys)
