"""FHIR R4 bundles as an EHR would send them, for tests. Synthetic data only."""

from __future__ import annotations

import uuid
from typing import Any


def fhir_bundle(
    enc_id: str, *, dx_system: str, dx_code: str, proc_system: str, proc: str
) -> dict[str, Any]:
    """A small R4 bundle as an EHR would send it (synthetic data)."""
    pid, org, doc, payer, cond = (str(uuid.uuid4()) for _ in range(5))
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            _patient(pid),
            _provider_org(org),
            _payer_org(payer),
            _practitioner(doc),
            _coverage(pid, payer),
            _encounter(enc_id, pid, doc, org),
            _condition(cond, pid, enc_id, dx_system, dx_code),
            _claim(pid, org, cond, enc_id, proc_system, proc),
        ],
    }


def entry(rtype: str, rid: str, **fields: Any) -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:{rid}",
        "resource": {"resourceType": rtype, "id": rid, **fields},
    }


def _patient(pid: str) -> dict[str, Any]:
    return entry(
        "Patient",
        pid,
        identifier=[{"type": {"coding": [{"code": "MR"}]}, "value": "MRN-FHIR-1"}],
        name=[{"use": "official", "family": "Okafor", "given": ["Jordan"]}],
        gender="male",
        birthDate="1975-02-03",
        address=[
            {
                "line": ["12 ELM ST"],
                "city": "Boston",
                "state": "Massachusetts",
                "postalCode": "02118",
            }
        ],
    )


def _provider_org(org: str) -> dict[str, Any]:
    return entry(
        "Organization",
        org,
        identifier=[{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}],
        name="Example Family Practice",
    )


def _payer_org(payer: str) -> dict[str, Any]:
    return entry(
        "Organization",
        payer,
        identifier=[{"system": "urn:payer", "value": "PPO01"}],
        name="BLUE MEADOW PPO",
    )


def _practitioner(doc: str) -> dict[str, Any]:
    return entry(
        "Practitioner",
        doc,
        identifier=[{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1987654328"}],
        name=[{"family": "Chen", "given": ["Dana"]}],
    )


def _coverage(pid: str, payer: str) -> dict[str, Any]:
    return entry(
        "Coverage",
        str(uuid.uuid4()),
        status="active",
        beneficiary={"reference": f"urn:uuid:{pid}"},
        payor=[{"reference": f"urn:uuid:{payer}"}],
        subscriberId="XJH123456789",
        period={"start": "2024-01-01"},
        relationship={"coding": [{"code": "self"}]},
        **{"class": [{"type": {"coding": [{"code": "plan"}]}, "value": "GOLD PPO"}]},
    )


def _encounter(enc_id: str, pid: str, doc: str, org: str) -> dict[str, Any]:
    return entry(
        "Encounter",
        enc_id,
        status="finished",
        subject={"reference": f"urn:uuid:{pid}"},
        participant=[{"individual": {"reference": f"urn:uuid:{doc}"}}],
        serviceProvider={"reference": f"urn:uuid:{org}"},
        period={"start": "2025-03-14T09:00:00-05:00", "end": "2025-03-14T09:20:00-05:00"},
        **{
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "AMB",
            }
        },
    )


def _condition(cond: str, pid: str, enc_id: str, dx_system: str, dx_code: str) -> dict[str, Any]:
    return entry(
        "Condition",
        cond,
        subject={"reference": f"urn:uuid:{pid}"},
        encounter={"reference": f"urn:uuid:{enc_id}"},
        code={"coding": [{"system": dx_system, "code": dx_code}]},
    )


def _claim(
    pid: str, org: str, cond: str, enc_id: str, proc_system: str, proc: str
) -> dict[str, Any]:
    return entry(
        "Claim",
        str(uuid.uuid4()),
        status="active",
        use="claim",
        type={"coding": [{"code": "professional"}]},
        patient={"reference": f"urn:uuid:{pid}"},
        created="2025-03-14",
        provider={"reference": f"urn:uuid:{org}"},
        priority={"coding": [{"code": "normal"}]},
        insurance=[{"sequence": 1, "focal": True, "coverage": {"display": "BLUE MEADOW PPO"}}],
        diagnosis=[{"sequence": 1, "diagnosisReference": {"reference": f"urn:uuid:{cond}"}}],
        item=[
            {
                "sequence": 1,
                "productOrService": {"coding": [{"system": proc_system, "code": proc}]},
                "encounter": [{"reference": f"urn:uuid:{enc_id}"}],
                "diagnosisSequence": [1],
                "net": {"value": 150.0, "currency": "USD"},
            }
        ],
        total={"value": 150.0, "currency": "USD"},
    )
