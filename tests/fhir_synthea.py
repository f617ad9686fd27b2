"""A Synthea-like ``fhir/`` output folder, written for these tests (synthetic data only).

Shaped as Synthea's R4 exporter writes a folder in transaction mode: the providers in
hospitalInformation*.json (Organization, then its Location) and
practitionerInformation*.json (Practitioner and its US Core PractitionerRole), each with
``request.ifNoneExist``; every patient in a bundle of their own whose Encounter and Claim
name their providers by conditional reference only. Unlike Synthea, the practice here
carries its NPI and the patients' codes are ICD-10-CM and CPT, as a billing EHR sends.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SYNTHEA = "https://github.com/synthetichealth/synthea"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
NUCC = "http://nucc.org/provider-taxonomy"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"

PRACTICE_ID = "3f5c2a9e-1d7b-4c1e-9a52-6b0d8e4f7a11"
PRACTICE_NPI = "1452369873"
PRACTICE_TIN = "036512874"
LOCATION_ID = "8a0e6c3d-52b9-4f0a-b7d4-2c91e5a8f360"
CLINIC_ID = "c47d9e12-3b6a-4f85-8e20-91a7d5c3b2f4"  # no NPI: kept by its FHIR id
DOCTOR_ID = "0b9f3e27-6c4d-4a18-95e3-d27c1a8b5e06"
DOCTOR_NPI = "1728394655"


def _entry(res: dict[str, Any], if_none_exist: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"method": "POST", "url": res["resourceType"]}
    if if_none_exist:
        request["ifNoneExist"] = if_none_exist
    return {"fullUrl": f"urn:uuid:{res['id']}", "resource": res, "request": request}


def _address(line: str, city: str, postal: str) -> dict[str, Any]:
    return {"line": [line], "city": city, "state": "VT", "postalCode": postal, "country": "US"}


def hospital_bundle() -> dict[str, Any]:
    practice = {
        "resourceType": "Organization",
        "id": PRACTICE_ID,
        "identifier": [
            {"system": SYNTHEA, "value": PRACTICE_ID},
            {"system": NPI_SYSTEM, "value": PRACTICE_NPI},
            {"system": "urn:oid:2.16.840.1.113883.4.4", "value": PRACTICE_TIN},
        ],
        "active": True,
        "type": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/organization-type",
                        "code": "prov",
                    }
                ]
            },
            {"coding": [{"system": NUCC, "code": "261QP2300X"}]},
        ],
        "name": "CEDAR BROOK FAMILY MEDICINE",
        "telecom": [{"system": "phone", "value": "802-555-0147"}],
        "address": [_address("41 Orchard Hill Rd", "Montpelier", "05602")],
        "extension": [
            {
                "url": "http://synthetichealth.github.io/synthea/utilization-encounters-extension",
                "valueInteger": 2,
            }
        ],
    }
    location = {
        "resourceType": "Location",
        "id": LOCATION_ID,
        "status": "active",
        "name": "CEDAR BROOK FAMILY MEDICINE",
        "address": _address("41 Orchard Hill Rd", "Montpelier", "05602"),
        "position": {"latitude": 44.26, "longitude": -72.58},
        "identifier": [{"system": SYNTHEA, "value": LOCATION_ID}],
        "managingOrganization": {
            "identifier": {"system": SYNTHEA, "value": PRACTICE_ID},
            "display": "CEDAR BROOK FAMILY MEDICINE",
        },
    }
    clinic = {
        "resourceType": "Organization",
        "id": CLINIC_ID,
        "identifier": [{"system": SYNTHEA, "value": CLINIC_ID}],
        "active": True,
        "name": "WINOOSKI VALLEY URGENT CARE",
        "address": [_address("9 Depot Sq", "Barre", "05641")],
    }
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            _entry(practice, f"identifier={SYNTHEA}|{PRACTICE_ID}"),
            _entry(location, f"identifier={SYNTHEA}|{LOCATION_ID}"),
            _entry(clinic, f"identifier={SYNTHEA}|{CLINIC_ID}"),
        ],
    }


def practitioner_bundle() -> dict[str, Any]:
    doctor = {
        "resourceType": "Practitioner",
        "id": DOCTOR_ID,
        "identifier": [{"system": NPI_SYSTEM, "value": DOCTOR_NPI}],
        "active": True,
        "name": [{"family": "Lindqvist", "given": ["Marisol"], "prefix": ["Dr."]}],
        "telecom": [{"system": "email", "use": "work", "value": "m.lindqvist@example.com"}],
        "address": [_address("41 Orchard Hill Rd", "Montpelier", "05602")],
        "gender": "female",
    }
    taxonomy = {"coding": [{"system": NUCC, "code": "207Q00000X", "display": "Family Medicine"}]}
    role = {
        "resourceType": "PractitionerRole",
        "id": "5e21c8a4-9f03-4d6b-a1e7-38c0b94d2f15",
        "practitioner": {
            "identifier": {"system": NPI_SYSTEM, "value": DOCTOR_NPI},
            "display": "Dr. Marisol Lindqvist",
        },
        "organization": {"identifier": {"system": SYNTHEA, "value": PRACTICE_ID}},
        "code": [taxonomy],
        "specialty": [taxonomy],
        "location": [{"identifier": {"system": SYNTHEA, "value": LOCATION_ID}}],
    }
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [_entry(doctor, f"identifier={NPI_SYSTEM}|{DOCTOR_NPI}"), _entry(role)],
    }


def patient_bundle(n: int, *, pointer: bool = True) -> dict[str, Any]:
    """One patient and one office visit; providers by conditional reference only."""
    pid, enc, cond, claim = (f"{k}0000000-0000-4000-8000-00000000000{n}" for k in "abcd")
    practice = {
        "reference": f"Organization?identifier={SYNTHEA}|{PRACTICE_ID}",
        "display": "CEDAR BROOK FAMILY MEDICINE",
    }
    patient = {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [
            {"system": SYNTHEA, "value": pid},
            {"type": {"coding": [{"code": "MR"}]}, "value": f"MRN-SYN-{n}"},
        ],
        "name": [{"use": "official", "family": f"Testperson{n}", "given": ["Avery"]}],
        "gender": "female",
        "birthDate": "1968-07-21",
        "address": [
            {"line": ["7 Birch Ln"], "city": "Barre", "state": "Vermont", "postalCode": "05641"}
        ],
    }
    encounter = {
        "resourceType": "Encounter",
        "id": enc,
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "390906007"}]}],
        "subject": {"reference": f"urn:uuid:{pid}"},
        "participant": [
            {
                "individual": {
                    "reference": f"Practitioner?identifier={NPI_SYSTEM}|{DOCTOR_NPI}",
                    "display": "Dr. Marisol Lindqvist",
                }
            }
        ],
        "period": {"start": f"2025-06-0{n}T10:15:00-04:00", "end": f"2025-06-0{n}T10:40:00-04:00"},
        "location": [{"location": {"reference": f"Location?identifier={SYNTHEA}|{LOCATION_ID}"}}],
        "serviceProvider": practice,
    }
    condition = {
        "resourceType": "Condition",
        "id": cond,
        "subject": {"reference": f"urn:uuid:{pid}"},
        "encounter": {"reference": f"urn:uuid:{enc}"},
        "code": {"coding": [{"system": ICD, "code": "I10"}]},
    }
    item: dict[str, Any] = {
        "sequence": 1,
        "productOrService": {"coding": [{"system": CPT, "code": "99213"}]},
        "encounter": [{"reference": f"urn:uuid:{enc}"}],
        "net": {"value": 128.5, "currency": "USD"},
    }
    if pointer:
        item["diagnosisSequence"] = [1]
    claim_res = {
        "resourceType": "Claim",
        "id": claim,
        "status": "active",
        "use": "claim",
        "type": {"coding": [{"code": "professional"}]},
        "patient": {"reference": f"urn:uuid:{pid}"},
        "created": f"2025-06-0{n}",
        "provider": practice,
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "Self pay"}}],
        "diagnosis": [{"sequence": 1, "diagnosisReference": {"reference": f"urn:uuid:{cond}"}}],
        "item": [item],
        "total": {"value": 128.5, "currency": "USD"},
    }
    entries = [patient, encounter, condition, claim_res]
    return {"resourceType": "Bundle", "type": "transaction", "entry": [_entry(r) for r in entries]}


def write_folder(folder: Path) -> Path:
    """1 hospital file, 1 practitioner file and 2 patient files, named as Synthea names them."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "hospitalInformation1749127800123.json": hospital_bundle(),
        "practitionerInformation1749127800123.json": practitioner_bundle(),
        "Avery_Testperson1_a0000000.json": patient_bundle(1),
        "Avery_Testperson2_a0000000.json": patient_bundle(2),
    }
    for name, body in files.items():
        (folder / name).write_text(json.dumps(body, indent=2))
    return folder
