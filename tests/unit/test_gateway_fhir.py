"""FHIR R4 Bundle -> EncounterCreated or a coding hold, without I/O."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from services.gateway import fhir
from tests.fhir_data import fhir_bundle

pytestmark = pytest.mark.unit

ICD = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"
SCT = "http://snomed.info/sct"


def billable(enc_id: str = "enc-1") -> dict[str, Any]:
    return fhir_bundle(enc_id, dx_system=ICD, dx_code="E11.9", proc_system=CPT, proc="99214")


def resource(bundle: dict[str, Any], rtype: str) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype)


def test_a_billable_encounter_maps_to_the_native_schema() -> None:
    [m] = fhir.map_bundle(billable())
    assert m.encounter is not None
    assert not m.holds
    enc = m.encounter
    assert enc.encounter_id == "enc-1"
    assert enc.diagnoses == ["E11.9"]
    assert [(x.procedure_code, x.units, x.charge_cents) for x in enc.lines] == [("99214", 1, 15000)]
    assert enc.patient.address.state == "MA"  # "Massachusetts" as Synthea writes it
    assert enc.patient.birth_date.isoformat() == "1975-02-03"


def test_money_in_dollars_becomes_exact_cents() -> None:
    b = billable()
    item = resource(b, "Claim")["item"][0]
    del item["net"]
    item["unitPrice"] = {"value": 33.335, "currency": "USD"}
    item["quantity"] = {"value": 3}
    [m] = fhir.map_bundle(b)
    assert m.encounter is not None
    assert (m.encounter.lines[0].units, m.encounter.lines[0].charge_cents) == (3, 3334 * 3)


def test_snomed_only_codes_are_held_for_coding_naming_each_code() -> None:
    b = fhir_bundle("enc-2", dx_system=SCT, dx_code="44054006", proc_system=SCT, proc="185349003")
    [m] = fhir.map_bundle(b)
    assert m.held
    assert [(h.code, h.message) for h in m.holds] == [
        ("DX-CODESET", "diagnosis SNOMED CT 44054006 is not ICD-10-CM"),
        ("PROC-CODESET", "line 1: SNOMED CT 185349003 is not CPT or HCPCS"),
    ]
    summary = fhir.summary([m])
    assert (summary["encounters"], summary["accepted"], summary["held"]) == (1, 0, 1)
    assert summary["holds"][0]["encounter"] == "enc-2"


def test_an_encounter_without_a_claim_has_its_procedures_held_for_charges() -> None:
    b = billable("enc-3")
    b["entry"] = [e for e in b["entry"] if e["resource"]["resourceType"] != "Claim"]
    pid = resource(b, "Patient")["id"]
    b["entry"].append(
        {
            "fullUrl": "urn:uuid:proc-1",
            "resource": {
                "resourceType": "Procedure",
                "id": "proc-1",
                "status": "completed",
                "subject": {"reference": f"urn:uuid:{pid}"},
                "encounter": {"reference": "urn:uuid:enc-3"},
                "code": {"coding": [{"system": CPT, "code": "93000"}]},
            },
        }
    )
    [m] = fhir.map_bundle(b)
    assert m.held
    assert [h.code for h in m.holds] == ["CHARGE-MISSING"]
    assert m.draft["lines"][0]["procedure_code"] == "93000"
    assert m.draft["diagnoses"] == ["E11.9"]  # from the encounter's Condition


def test_missing_billing_npi_is_held_naming_the_field_not_its_value() -> None:
    b = billable("enc-4")
    org = next(
        e["resource"]
        for e in b["entry"]
        if e["resource"]["resourceType"] == "Organization"
        and e["resource"]["name"].startswith("Example")
    )
    org["identifier"] = []
    [m] = fhir.map_bundle(b)
    assert m.held
    assert m.holds[0].code == "FHIR-INCOMPLETE"
    assert "billing_provider.npi" in m.holds[0].message


def test_unrelated_resources_are_ignored_and_a_bad_one_is_named_by_path() -> None:
    b = billable()
    b["entry"].append({"resource": {"resourceType": "Observation", "whatever": True}})
    assert len(fhir.map_bundle(b)) == 1
    bad = copy.deepcopy(billable())
    resource(bad, "Encounter")["period"]["start"] = "yesterday"
    with pytest.raises(fhir.BundleError) as exc:
        fhir.map_bundle(bad)
    assert exc.value.errors[0]["loc"].endswith("resource.period.start")
    assert "yesterday" not in str(exc.value.errors)


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"resourceType": "Patient"},
        {"resourceType": "Bundle", "entry": []},
        {"resourceType": "Bundle", "entry": "x"},
    ],
)
def test_what_is_not_a_bundle_with_an_encounter_is_refused(body: Any) -> None:
    with pytest.raises(fhir.BundleError):
        fhir.map_bundle(body)


def test_an_overlong_patient_id_on_a_held_draft_is_refused_by_path() -> None:
    # A SNOMED procedure holds the encounter as a draft: the contract never checks it.
    b = fhir_bundle("enc-long", dx_system=ICD, dx_code="E11.9", proc_system=SCT, proc="1")
    patient = resource(b, "Patient")
    patient["identifier"][0]["value"] = "M" * 65
    with pytest.raises(fhir.BundleError) as exc:
        fhir.map_bundle(b)
    assert exc.value.errors == [{"loc": "Encounter[0].subject", "msg": "Patient id longer than 64"}]
    patient["identifier"][0]["value"] = "M" * 64
    [m] = fhir.map_bundle(b)
    assert m.holds
    assert m.patient_id == "M" * 64
