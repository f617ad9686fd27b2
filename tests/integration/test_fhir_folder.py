"""`rcm fhir import DIR` on a Synthea-like folder, and the provider directory it fills,
through the gateway's own intake on the real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from rcm import cli_fhir
from runtime.settings import Settings
from schemas.events import EncounterCreated
from tests import fhir_synthea as syn
from tests.integration.gateway_env import Env, gateway_env, read_topic

pytestmark = pytest.mark.integration

rcm = typer.Typer()
rcm.add_typer(cli_fhir.app, name="fhir")  # as rcm/cli.py registers it


@pytest.fixture(scope="module")
async def env(live_stack: Settings) -> AsyncIterator[Env]:
    async with gateway_env(live_stack, uuid.uuid4().hex[:10]) as e:
        yield e


async def _import(env: Env, folder: Path, tenant: str, mp: pytest.MonkeyPatch) -> Result:
    """`rcm fhir import DIR --tenant T` against this test's gateway schema and topics."""
    mp.setenv("RCM_GATEWAY_SCHEMA_NAME", env.g.schema_name)
    mp.setenv("RCM_GATEWAY_TOPIC_PREFIX", env.g.topic_prefix)
    args = ["fhir", "import", str(folder), "--tenant", tenant]
    return await asyncio.to_thread(CliRunner().invoke, rcm, args)


async def _providers(env: Env, key: str, **params: Any) -> list[dict[str, Any]]:
    r = await env.client.get("/v1/providers", params=params, headers=env.auth(key))
    assert r.status_code == 200, r.text
    return list(r.json()["providers"])


async def test_a_synthea_folder_imports_with_every_file_accounted_for(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = syn.write_folder(tmp_path / "fhir")
    (folder / "Broken_Export_0000.json").write_text('{"resourceType": "Bundle", "entry": [')
    bad = syn.patient_bundle(4)
    bad["entry"][1]["resource"]["period"]["start"] = "last tuesday"
    (folder / "Bad_Dates_0000.json").write_text(json.dumps(bad))

    r = await _import(env, folder, "tenant-a", monkeypatch)
    assert r.exit_code == 1, r.output  # two files failed; the others were imported
    out = json.loads(r.stdout)
    rows = {row["file"]: row for row in out["files"]}
    assert len(rows) == 6
    assert rows["hospitalInformation1749127800123.json"]["providers"] == 3
    assert rows["practitionerInformation1749127800123.json"]["providers"] == 1
    assert rows["Broken_Export_0000.json"]["error"] == "Broken_Export_0000.json: not JSON (line 1)"
    assert rows["Bad_Dates_0000.json"]["error"].startswith(
        "Bad_Dates_0000.json: not a usable FHIR Bundle: body.entry.1.resource.period.start:"
    )
    assert "last tuesday" not in r.stdout
    for n in (1, 2):
        assert rows[f"Avery_Testperson{n}_a0000000.json"] == {
            "file": f"Avery_Testperson{n}_a0000000.json",
            "encounters": 1,
            "accepted": 1,
            "held": 0,
            "providers": 0,
        }
    assert out["total"] == {
        "files": 6,
        "failed": 2,
        "encounters": 2,
        "accepted": 2,
        "held": 0,
        "providers": 4,
    }

    sent = [m.event for m in await read_topic(env, "encounter.created", 2)]
    mine = [
        e for e in sent if isinstance(e, EncounterCreated) and e.patient.id.startswith("MRN-SYN")
    ]
    assert sorted(e.patient.id for e in mine) == ["MRN-SYN-1", "MRN-SYN-2"]
    for enc in mine:
        assert enc.billing_provider.npi == syn.PRACTICE_NPI  # from the directory
        assert enc.billing_provider.name == "CEDAR BROOK FAMILY MEDICINE"
        assert (enc.rendering_provider.npi, enc.rendering_provider.taxonomy) == (
            syn.DOCTOR_NPI,
            "207Q00000X",
        )
        assert [(ln.procedure_code, ln.charge_cents) for ln in enc.lines] == [("99213", 12850)]

    listed = await _providers(env, "a_read")
    assert sorted((p["kind"], p["npi"] or p["fhir_id"]) for p in listed) == [
        ("location", syn.LOCATION_ID),
        ("organization", syn.PRACTICE_NPI),
        ("organization", syn.CLINIC_ID),
        ("practitioner", syn.DOCTOR_NPI),
    ]
    [doc] = await _providers(env, "a_read", npi=syn.DOCTOR_NPI)
    assert (doc["name"], doc["first_name"], doc["taxonomy"]) == (
        "Lindqvist",
        "Marisol",
        "207Q00000X",
    )

    again = await _import(env, folder, "tenant-a", monkeypatch)  # upserted, not duplicated
    assert json.loads(again.stdout)["total"]["failed"] == 2
    assert len(await _providers(env, "a_read")) == 4
    sent = [m.event for m in await read_topic(env, "encounter.created", 99, timeout=3)]
    assert sorted(e.patient.id for e in sent if e.patient.id.startswith("MRN-SYN")) == [
        "MRN-SYN-1",
        "MRN-SYN-2",
    ]  # the second import sent nothing new


async def test_one_tenant_never_sees_or_uses_another_tenants_providers(env: Env) -> None:
    hospital, practitioners = syn.hospital_bundle(), syn.practitioner_bundle()
    b = "b_all"
    r = await env.client.post("/v1/fhir", json=hospital, headers=env.auth("a_all"))
    assert r.status_code == 202, r.text
    assert (r.json()["encounters"], r.json()["providers"]) == (0, 3)
    assert await _providers(env, b) == []

    # Tenant B's encounter cannot be completed from tenant A's directory: held, naming why.
    r = await env.client.post("/v1/fhir", json=syn.patient_bundle(5), headers=env.auth(b))
    assert r.status_code == 202, r.text
    assert (r.json()["accepted"], r.json()["held"]) == (0, 1)
    assert "billing_provider" in r.json()["holds"][0]["reason"]

    for bundle in (hospital, practitioners):
        r = await env.client.post("/v1/fhir", json=bundle, headers=env.auth(b))
        assert r.status_code == 202, r.text
        assert r.json()["encounters"] == 0
    assert len(await _providers(env, b)) == 4
    r = await env.client.post("/v1/fhir", json=syn.patient_bundle(6), headers=env.auth(b))
    assert (r.json()["accepted"], r.json()["held"]) == (1, 0), r.text


async def test_the_directory_needs_a_read_key(env: Env) -> None:
    r = await env.client.get("/v1/providers")
    assert r.status_code == 401
    r = await env.client.get("/v1/providers", headers=env.auth("a_read"), params={"npi": "12"})
    assert r.status_code == 422
