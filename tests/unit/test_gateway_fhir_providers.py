"""FHIR provider bundles -> provider-directory entries; encounters completed from the
directory; a Claim item without a diagnosis pointer; `rcm fhir import DIR --dry-run`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from rcm import cli_fhir
from services.coding.edits.pointers import line_pointers
from services.gateway import fhir
from services.gateway.fhir_providers import Directory, directory_entries
from tests import fhir_synthea as syn
from tests.coding_claims import facts_for
from tests.fhir_data import fhir_bundle

pytestmark = pytest.mark.unit

rcm = typer.Typer()
rcm.add_typer(cli_fhir.app, name="fhir")  # as rcm/cli.py registers it


def _directory() -> Directory:
    entries = directory_entries(fhir.Index(syn.hospital_bundle()))
    entries += directory_entries(fhir.Index(syn.practitioner_bundle()))
    return Directory(entries)


def test_a_hospital_bundle_is_zero_encounters_and_its_providers_are_directory_entries() -> None:
    idx = fhir.Index(syn.hospital_bundle())
    assert fhir.map_bundle(idx) == []
    by_key = {e.key: e for e in directory_entries(idx)}
    assert sorted(by_key) == [
        f"Location/{syn.LOCATION_ID}",
        f"Organization/{syn.CLINIC_ID}",  # no NPI: kept by its FHIR id
        f"npi:{syn.PRACTICE_NPI}",
    ]
    practice = by_key[f"npi:{syn.PRACTICE_NPI}"]
    assert (practice.kind, practice.name, practice.taxonomy, practice.tax_id) == (
        "organization",
        "CEDAR BROOK FAMILY MEDICINE",
        "261QP2300X",
        syn.PRACTICE_TIN,
    )
    assert practice.address == {
        "line1": "41 Orchard Hill Rd",
        "line2": None,
        "city": "Montpelier",
        "state": "VT",
        "postal_code": "05602",
    }
    location = by_key[f"Location/{syn.LOCATION_ID}"]
    assert (location.kind, location.npi, location.address and location.address["city"]) == (
        "location",
        "",
        "Montpelier",
    )


def test_a_practitioner_takes_its_taxonomy_from_its_practitioner_role() -> None:
    [doc] = directory_entries(fhir.Index(syn.practitioner_bundle()))
    assert (doc.key, doc.name, doc.first_name, doc.taxonomy) == (
        f"npi:{syn.DOCTOR_NPI}",
        "Lindqvist",
        "Marisol",
        "207Q00000X",
    )


def test_an_encounter_naming_its_providers_by_reference_only_is_completed_from_the_directory() -> (
    None
):
    [m] = fhir.map_bundle(syn.patient_bundle(1), _directory())
    assert m.encounter is not None, m.holds
    billing, rendering = m.encounter.billing_provider, m.encounter.rendering_provider
    assert (billing.npi, billing.name, billing.tax_id) == (
        syn.PRACTICE_NPI,
        "CEDAR BROOK FAMILY MEDICINE",
        syn.PRACTICE_TIN,
    )
    assert billing.address is not None
    assert billing.address.postal_code == "05602"
    assert (rendering.npi, rendering.name, rendering.taxonomy) == (
        syn.DOCTOR_NPI,
        "Lindqvist",
        "207Q00000X",
    )


def test_without_the_directory_such_an_encounter_is_held_naming_the_missing_providers() -> None:
    [m] = fhir.map_bundle(syn.patient_bundle(1))
    assert m.held
    [hold] = m.holds
    assert hold.code == "FHIR-INCOMPLETE"
    assert "billing_provider" in hold.message
    assert "rendering_provider" in hold.message


def test_a_claim_item_without_a_diagnosis_sequence_is_sent_with_no_pointer() -> None:
    # Coding holds a line with no pointer (POINTERS); intake must not point it at dx 1.
    [m] = fhir.map_bundle(syn.patient_bundle(1, pointer=False), _directory())
    assert m.encounter is not None
    assert m.encounter.diagnoses == ["I10"]
    assert [ln.diagnosis_codes for ln in m.encounter.lines] == [[]]
    [flag] = line_pointers(facts_for(m.encounter))  # what coding then does with it
    assert (flag.edit, flag.severity, flag.line) == ("POINTERS", "hold", 1)
    [m] = fhir.map_bundle(syn.patient_bundle(1, pointer=True), _directory())
    assert m.encounter is not None
    assert [ln.diagnosis_codes for ln in m.encounter.lines] == [["I10"]]


def test_a_bundle_with_neither_encounter_nor_provider_is_still_refused() -> None:
    b = fhir_bundle("enc-x", dx_system=syn.ICD, dx_code="E11.9", proc_system=syn.CPT, proc="1")
    b["entry"] = [e for e in b["entry"] if e["resource"]["resourceType"] == "Patient"]
    with pytest.raises(fhir.BundleError) as exc:
        fhir.map_bundle(b)
    assert exc.value.errors == [
        {"loc": "body.entry", "msg": "no Encounter and no provider resource"}
    ]


def test_a_folder_dry_run_reads_providers_first_and_reports_every_file(tmp_path: Path) -> None:
    folder = syn.write_folder(tmp_path / "fhir")
    (folder / "Zed_Broken_ffff.json").write_text('{"resourceType": "Bundle", "entry": [')
    r = CliRunner().invoke(rcm, ["fhir", "import", str(folder), "--dry-run"])
    assert r.exit_code == 1  # one file failed
    out = json.loads(r.stdout)
    files = {row["file"]: row for row in out["files"]}
    assert [row["file"] for row in out["files"]][:2] == [
        "hospitalInformation1749127800123.json",
        "practitionerInformation1749127800123.json",
    ]
    assert files["Zed_Broken_ffff.json"] == {
        "file": "Zed_Broken_ffff.json",
        "error": "Zed_Broken_ffff.json: not JSON (line 1)",
    }
    for name in ("Avery_Testperson1_a0000000.json", "Avery_Testperson2_a0000000.json"):
        assert files[name] == {
            "file": name,
            "encounters": 1,
            "accepted": 1,
            "held": 0,
            "providers": 0,
        }
    assert out["total"] == {
        "files": 5,
        "failed": 1,
        "encounters": 2,
        "accepted": 2,
        "held": 0,
        "providers": 4,
    }


@pytest.mark.parametrize(
    "reference",
    [
        f"Practitioner?identifier={syn.NPI_SYSTEM}%7C{syn.DOCTOR_NPI}",  # URL-encoded
        f"Practitioner?identifier={syn.DOCTOR_NPI}",  # value alone
        f"https://ehr.example.org/fhir/Practitioner/{syn.DOCTOR_ID}",  # absolute URL
    ],
)
def test_other_ways_of_naming_a_practitioner_find_it_in_the_directory(reference: str) -> None:
    b = syn.patient_bundle(1)
    enc = next(e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Encounter")
    enc["participant"][0]["individual"]["reference"] = reference
    [m] = fhir.map_bundle(b, _directory())
    assert m.encounter is not None, m.holds
    assert m.encounter.rendering_provider.npi == syn.DOCTOR_NPI
