"""The gateway on the real PostgreSQL and Kafka: its own schemas and topics per module."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import orjson
import pytest

from rcm.cli_keys import verify_chain
from runtime.db import create_pool, migrate
from runtime.settings import REPO_ROOT, Settings
from schemas.events import ClaimHeld, EncounterCreated
from schemas.events_coverage import CoverageReported
from schemas.events_payments import PatientPaymentReceived
from schemas.events_workqueue import ClaimFixed, ClaimVoidRequested
from schemas.ids import claim_id_for
from services.gateway.app import create_app
from tests.builders import encounter
from tests.fhir_data import fhir_bundle
from tests.integration.gateway_env import (
    Env,
    add_claim,
    add_event,
    body,
    gateway_env,
    read_topic,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def env(live_stack: Settings) -> AsyncIterator[Env]:
    async with gateway_env(live_stack, uuid.uuid4().hex[:10]) as e:
        yield e


# --- intake -------------------------------------------------------------------------


async def test_an_encounter_is_on_kafka_with_its_tenant_and_claim_before_the_202(env: Env) -> None:
    enc = encounter(encounter_id="E-INTAKE-1")
    r = await env.client.post("/v1/encounters", json=body(enc), headers=env.auth("a_all"))
    assert r.status_code == 202, r.text
    claim_id = claim_id_for("tenant-a", "E-INTAKE-1")
    assert r.json() == {"encounter_id": "E-INTAKE-1", "claim_id": claim_id, "status": "accepted"}
    msgs = [
        m for m in await read_topic(env, "encounter.created", 1) if m.event.key() == "E-INTAKE-1"
    ]
    assert len(msgs) == 1
    assert msgs[0].meta.tenant == "tenant-a"
    assert msgs[0].meta.correlation_id == claim_id
    assert msgs[0].event == enc
    audit = await env.gateway.fetchrow(
        "SELECT actor, action, patient_id FROM audit_log WHERE resource = 'E-INTAKE-1'"
    )
    assert audit["action"] == "encounter.create"
    assert audit["patient_id"] == enc.patient.id


async def test_an_idempotent_retry_gets_the_first_answer_and_sends_nothing_new(env: Env) -> None:
    enc = encounter(encounter_id="E-IDEM-1")
    headers = {**env.auth("a_all"), "Idempotency-Key": "ehr-retry-1"}
    first = await env.client.post("/v1/encounters", json=body(enc), headers=headers)
    again = await env.client.post("/v1/encounters", json=body(enc), headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replay") == "true"
    other = encounter(encounter_id="E-IDEM-2")
    reused = await env.client.post("/v1/encounters", json=body(other), headers=headers)
    assert reused.status_code == 422
    assert "Idempotency-Key" in reused.json()["error"]
    msgs = await read_topic(env, "encounter.created", 2)
    assert [m.event.key() for m in msgs].count("E-IDEM-1") == 1
    assert "E-IDEM-2" not in [m.event.key() for m in msgs]


async def test_the_same_encounter_id_with_other_content_is_a_409(env: Env) -> None:
    enc = encounter(encounter_id="E-DUP-1")
    r1 = await env.client.post("/v1/encounters", json=body(enc), headers=env.auth("a_all"))
    r2 = await env.client.post("/v1/encounters", json=body(enc), headers=env.auth("a_all"))
    changed = body(enc) | {"place_of_service": "22"}
    r3 = await env.client.post("/v1/encounters", json=changed, headers=env.auth("a_all"))
    assert (r1.status_code, r2.status_code, r3.status_code) == (202, 202, 409)
    assert r2.json()["status"] == "duplicate"


async def test_invalid_fields_are_named_and_their_values_never_echoed(env: Env) -> None:
    bad = body(encounter(encounter_id="E-BAD-1"))
    bad["patient"]["birth_date"] = "1980-13-45"
    bad["patient"]["last_name"] = "Zywiecka" * 10  # too long: 80 characters
    bad["billing_provider"]["npi"] = "12345"
    r = await env.client.post("/v1/encounters", json=bad, headers=env.auth("a_all"))
    assert r.status_code == 422
    locs = {e["loc"] for e in r.json()["errors"]}
    assert {
        "body.patient.birth_date",
        "body.patient.last_name",
        "body.billing_provider.npi",
    } <= locs
    assert "Zywiecka" not in r.text
    assert "1980-13-45" not in r.text
    assert "12345" not in r.text


async def test_a_body_over_the_limit_is_413_and_a_fast_key_is_429(env: Env) -> None:
    big = {"encounter_id": "E-BIG", "padding": "x" * 300_000}
    r = await env.client.post("/v1/encounters", json=big, headers=env.auth("a_all"))
    assert r.status_code == 413
    codes = [
        (await env.client.get("/v1/claims", headers=env.auth("a_slow"))).status_code
        for _ in range(5)
    ]
    assert codes[:2] == [200, 200]
    assert 429 in codes[2:]


# --- auth and tenants ------------------------------------------------------------------


async def test_every_route_but_healthz_needs_a_key_with_the_scope(env: Env) -> None:
    assert (await env.client.get("/healthz")).status_code == 200
    assert (await env.client.get("/openapi.json")).status_code == 401
    bad = {"Authorization": "Bearer rcmk_k_000000000000_not-a-real-key"}
    assert (await env.client.get("/v1/claims", headers=bad)).status_code == 401
    r = await env.client.get("/openapi.json", headers=env.auth("a_read"))
    assert r.status_code == 200
    assert "/v1/encounters" in r.json()["paths"]
    enc = body(encounter(encounter_id="E-SCOPE-1"))
    r = await env.client.post("/v1/encounters", json=enc, headers=env.auth("a_read"))
    assert r.status_code == 403


async def test_another_tenants_claim_is_not_found_anywhere(env: Env) -> None:
    claim_id = claim_id_for("tenant-a", "E-TEN-1")
    await add_claim(env, "tenant-a", claim_id, "HELD", encounter_id="E-TEN-1", payer_id="TENPAYER")
    await add_event(env, claim_id, "rcm.claim.held.v1", "HELD", {"reasons": [{"code": "X"}]})
    mine = await env.client.get(f"/v1/claims/{claim_id}", headers=env.auth("a_read"))
    assert mine.status_code == 200
    assert mine.json()["state"] == "HELD"
    assert mine.json()["timeline"][0]["to_state"] == "HELD"
    theirs = await env.client.get(f"/v1/claims/{claim_id}", headers=env.auth("b_all"))
    assert theirs.status_code == 404
    search = await env.client.get("/v1/claims?payer_id=TENPAYER", headers=env.auth("b_all"))
    assert search.json()["items"] == []
    search = await env.client.get("/v1/claims?payer_id=TENPAYER", headers=env.auth("a_read"))
    assert [c["claim_id"] for c in search.json()["items"]] == [claim_id]
    queue = await env.client.get("/v1/workqueues/holds", headers=env.auth("b_all"))
    assert claim_id not in {c["claim_id"] for c in queue.json()["items"]}
    fix = {"coverage": {"coverages": []}}
    r = await env.client.post(f"/v1/claims/{claim_id}/fix", json=fix, headers=env.auth("b_all"))
    assert r.status_code == 404


# --- work queues and fixes ---------------------------------------------------------------


async def test_a_held_claim_is_in_the_queue_and_a_code_fix_sends_it_back_to_coding(
    env: Env,
) -> None:
    enc = encounter(encounter_id="E-FIX-1", diagnoses=["J02.9"])
    r = await env.client.post("/v1/encounters", json=body(enc), headers=env.auth("a_all"))
    claim_id = r.json()["claim_id"]
    await add_claim(env, "tenant-a", claim_id, "HELD", encounter_id="E-FIX-1")
    await add_event(env, claim_id, "rcm.eligibility.checked.v1", "ELIGIBLE")
    reasons = [{"code": "DX-INVALID", "message": "J02.9 bad", "fix": "correct the diagnosis"}]
    await add_event(env, claim_id, "rcm.claim.held.v1", "HELD", {"reasons": reasons})
    queue = await env.client.get("/v1/workqueues/holds", headers=env.auth("a_read"))
    item = next(i for i in queue.json()["items"] if i["claim_id"] == claim_id)
    assert item["reasons"] == reasons
    fix = {
        "codes": {
            "diagnoses": ["J03.90"],
            "lines": [
                {"procedure_code": "99213", "charge_cents": 15000, "diagnosis_codes": ["J03.90"]}
            ],
        },
        "note": "strep ruled out",
    }
    r = await env.client.post(f"/v1/claims/{claim_id}/fix", json=fix, headers=env.auth("a_all"))
    assert r.status_code == 202, r.text
    assert r.json()["reenter"] == "coding"
    msgs = [m for m in await read_topic(env, "claim.fixed", 1) if m.event.key() == claim_id]
    assert len(msgs) == 1
    fixed = msgs[0].event
    assert isinstance(fixed, ClaimFixed)
    assert fixed.encounter.diagnoses == ["J03.90"]
    assert fixed.encounter.patient == enc.patient  # the rest of the encounter as it came
    assert fixed.changed == ["diagnoses", "lines"]
    assert msgs[0].meta.tenant == "tenant-a"
    # The read-only key cannot fix; a claim whose encounter came another way is a 409.
    r = await env.client.post(f"/v1/claims/{claim_id}/fix", json=fix, headers=env.auth("a_read"))
    assert r.status_code == 403
    other = claim_id_for("tenant-a", "E-FROM-KAFKA")
    await add_claim(env, "tenant-a", other, "REJECTED", encounter_id="E-FROM-KAFKA")
    r = await env.client.post(f"/v1/claims/{other}/fix", json=fix, headers=env.auth("a_all"))
    assert r.status_code == 409


async def test_a_coverage_upload_sends_each_row_and_refuses_a_bad_one(env: Env) -> None:
    row = {
        "patient_id": "P-COV-1",
        "coverage": {
            "payer_id": "PPO01",
            "payer_name": "BLUE MEADOW PPO",
            "member_id": "BMP555",
            "plan": "PPO",
            "effective_date": "2026-01-01",
        },
    }
    bad = {"patient_id": "P-COV-2", "coverage": {**row["coverage"], "priority": 9}}
    r = await env.client.post(
        "/v1/coverages", json={"coverages": [row, bad]}, headers=env.auth("a_all")
    )
    assert r.status_code == 422
    assert "coverages.1.coverage.priority" in r.text
    assert "BMP555" not in r.text
    r = await env.client.post(
        "/v1/coverages", json={"coverages": [row]}, headers=env.auth("a_read")
    )
    assert r.status_code == 403
    r = await env.client.post("/v1/coverages", json={"coverages": [row]}, headers=env.auth("a_all"))
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 1
    [msg] = await read_topic(env, "coverage.reported", 1)
    assert isinstance(msg.event, CoverageReported)
    assert (msg.event.patient_id, msg.event.coverage.member_id) == ("P-COV-1", "BMP555")
    assert msg.meta.tenant == "tenant-a"


async def test_a_void_is_sent_only_for_a_claim_the_payer_adjudicated(env: Env) -> None:
    paid = claim_id_for("tenant-a", "E-VOID-1")
    await add_claim(env, "tenant-a", paid, "CLOSED", encounter_id="E-VOID-1")
    await env.claims.execute(
        "UPDATE claims SET payer_claim_number = 'PAY1' WHERE claim_id = $1", paid
    )
    pending = claim_id_for("tenant-a", "E-VOID-2")
    await add_claim(env, "tenant-a", pending, "SUBMITTED", encounter_id="E-VOID-2")
    why = {"reason": "billed in error"}
    r = await env.client.post(f"/v1/claims/{pending}/void", json=why, headers=env.auth("a_all"))
    assert r.status_code == 409
    r = await env.client.post(f"/v1/claims/{paid}/void", json=why, headers=env.auth("b_all"))
    assert r.status_code == 404  # another tenant's claim
    r = await env.client.post(f"/v1/claims/{paid}/void", json=why, headers=env.auth("a_read"))
    assert r.status_code == 403
    r = await env.client.post(f"/v1/claims/{paid}/void", json=why, headers=env.auth("a_all"))
    assert r.status_code == 202, r.text
    assert r.json()["frequency_code"] == "8"
    [msg] = [m for m in await read_topic(env, "claim.void_requested", 1) if m.event.key() == paid]
    assert isinstance(msg.event, ClaimVoidRequested)
    assert msg.event.reason == "billed in error"
    assert msg.meta.tenant == "tenant-a"


async def test_a_patient_payment_is_sent_once_however_often_it_is_posted(env: Env) -> None:
    pay = {
        "payment_id": "PAY-1",
        "guarantor_id": "MRN0001",
        "amount_cents": 2500,
        "method": "card",
        "received_at": "2025-04-01T10:00:00Z",
    }
    r1 = await env.client.post("/v1/payments", json=pay, headers=env.auth("a_all"))
    r2 = await env.client.post("/v1/payments", json=pay, headers=env.auth("a_all"))
    assert r1.status_code == r2.status_code == 202
    msgs = await read_topic(env, "patient.payment.received", 1)
    payments = [m.event for m in msgs if isinstance(m.event, PatientPaymentReceived)]
    assert [p.amount_cents for p in payments if p.payment_id == "PAY-1"] == [2500]


# --- FHIR ---------------------------------------------------------------------------------


async def test_a_fhir_bundle_round_trips_to_the_encounter_it_describes(env: Env) -> None:
    enc_id = str(uuid.uuid4())
    bundle = fhir_bundle(
        enc_id,
        dx_system="http://hl7.org/fhir/sid/icd-10-cm",
        dx_code="J02.9",
        proc_system="http://www.ama-assn.org/go/cpt",
        proc="99213",
    )
    r = await env.client.post("/v1/fhir", json=bundle, headers=env.auth("a_all"))
    assert r.status_code == 202, r.text
    assert (r.json()["encounters"], r.json()["accepted"], r.json()["held"]) == (1, 1, 0)
    msgs = [m for m in await read_topic(env, "encounter.created", 1) if m.event.key() == enc_id]
    assert len(msgs) == 1
    got = msgs[0].event
    assert isinstance(got, EncounterCreated)
    assert got.patient.id == "MRN-FHIR-1"
    assert (got.patient.last_name, got.patient.sex, got.patient.address.state) == (
        "Okafor",
        "M",
        "MA",
    )
    assert got.date_of_service == dt.date(2025, 3, 14)
    assert got.place_of_service == "11"
    assert got.diagnoses == ["J02.9"]
    assert [(x.procedure_code, x.charge_cents, x.diagnosis_codes) for x in got.lines] == [
        ("99213", 15000, ["J02.9"])
    ]
    assert got.billing_provider.npi == "1234567893"
    assert got.rendering_provider.npi == "1987654328"
    cov = got.coverages[0]
    assert (cov.payer_id, cov.member_id, cov.plan, cov.relationship.value) == (
        "PPO01",
        "XJH123456789",
        "GOLD PPO",
        "18",
    )
    assert msgs[0].meta.correlation_id == claim_id_for("tenant-a", enc_id)


async def test_a_snomed_only_encounter_is_accepted_and_held_for_coding_with_the_reason(
    env: Env,
) -> None:
    enc_id = str(uuid.uuid4())
    bundle = fhir_bundle(
        enc_id,
        dx_system="http://snomed.info/sct",
        dx_code="444814009",
        proc_system="http://snomed.info/sct",
        proc="185349003",
    )
    dry = await env.client.post("/v1/fhir?dry_run=true", json=bundle, headers=env.auth("a_all"))
    assert dry.json()["held"] == 1
    assert dry.json()["dry_run"] is True
    r = await env.client.post("/v1/fhir", json=bundle, headers=env.auth("a_all"))
    assert r.status_code == 202
    out = r.json()
    assert (out["encounters"], out["accepted"], out["held"]) == (1, 0, 1)
    assert out["holds"][0]["encounter"] == enc_id
    assert "SNOMED CT 444814009 is not ICD-10-CM" in out["holds"][0]["reason"]
    held = [
        m
        for m in await read_topic(env, "claim.held", 1)
        if m.event.key() == claim_id_for("tenant-a", enc_id)
    ]
    assert len(held) == 1
    ev = held[0].event
    assert isinstance(ev, ClaimHeld)
    assert ev.stage.value == "coding"
    assert {x.code for x in ev.reasons} == {"DX-CODESET", "PROC-CODESET"}
    encs = await read_topic(env, "encounter.created", 0, timeout=2)
    assert enc_id not in {m.event.key() for m in encs}


async def test_a_bundle_that_is_not_fhir_is_422_with_the_paths(env: Env) -> None:
    bad = {
        "resourceType": "Bundle",
        "entry": [{"resource": {"resourceType": "Patient", "birthDate": "1975-99-01"}}],
    }
    r = await env.client.post("/v1/fhir", json=bad, headers=env.auth("a_all"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == "body.entry.0.resource.birthDate"
    assert "1975-99-01" not in r.text


# --- audit ----------------------------------------------------------------------------------


async def test_the_audit_chain_verifies_and_refuses_changes(env: Env) -> None:
    claim_id = claim_id_for("tenant-a", "E-AUD-1")
    await add_claim(env, "tenant-a", claim_id, "SUBMITTED", encounter_id="E-AUD-1")
    await env.client.get(f"/v1/claims/{claim_id}", headers=env.auth("a_read"))
    row = await env.gateway.fetchrow(
        "SELECT tenant, action FROM audit_log WHERE resource = $1", claim_id
    )
    assert (row["tenant"], row["action"]) == ("tenant-a", "claim.read")
    verdict = await verify_chain(env.g.schema_name)
    assert verdict["ok"]
    assert verdict["rows"] >= 5
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await env.gateway.execute("UPDATE audit_log SET actor = 'someone' WHERE seq = 1")
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await env.gateway.execute("DELETE FROM audit_log WHERE seq = 2")


# --- Kafka down --------------------------------------------------------------------------------


async def test_kafka_unreachable_is_503_with_retry_after_and_nothing_is_recorded(
    env: Env,
) -> None:
    down = env.s.model_copy(update={"kafka_bootstrap": "127.0.0.1:1"})
    g = env.g.model_copy(update={"kafka_timeout_s": 2.0})
    app = create_app(down, g)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            headers = {**env.auth("a_all"), "Idempotency-Key": "down-1"}
            enc = body(encounter(encounter_id="E-DOWN-1"))
            r = await client.post("/v1/encounters", json=enc, headers=headers)
            assert r.status_code == 503
            assert r.headers["Retry-After"] == str(g.retry_after_s)
    assert (
        await env.gateway.fetchval(
            "SELECT count(*) FROM encounters WHERE encounter_id = 'E-DOWN-1'"
        )
        == 0
    )
    # The retry, once Kafka is back, is not refused as a duplicate: it is accepted.
    headers = {**env.auth("a_all"), "Idempotency-Key": "down-1"}
    r = await env.client.post("/v1/encounters", json=enc, headers=headers)
    assert r.status_code == 202
    assert r.json()["status"] == "accepted"


async def test_the_unmatched_queue_shows_this_tenants_unposted_remittance(env: Env) -> None:
    schema = env.g.remittance_schema
    pool = await create_pool(env.s, schema, max_size=1)
    try:
        await migrate(pool, schema, REPO_ROOT / "services" / "remittance" / "migrations")
        for tenant, status in (("tenant-a", "unbalanced"), ("tenant-b", "unbalanced")):
            remit = await pool.fetchval(
                "INSERT INTO remits(tenant, payer_id, trace_number, source, status, problems, x12)"
                " VALUES ($1, 'PPO01', $2, 'test', $3, '[]', 'ISA*...') RETURNING id",
                tenant,
                f"TRN-{tenant}",
                status,
            )
            await pool.execute(
                "INSERT INTO unmatched(tenant, payer_id, trace_number, patient_control_number,"
                " status_code, amount_cents, charge_cents, reason, remit_id, claim_index)"
                " VALUES ($1, 'PPO01', $2, 'PCN-UNKNOWN', '1', 8000, 10000, 'no such claim', $3, 0)",
                tenant,
                f"TRN-{tenant}",
                remit,
            )
        await pool.execute(  # a payment trace posted before, sent again with other claims
            "INSERT INTO remits(tenant, payer_id, trace_number, source, status, problems, x12)"
            " VALUES ('tenant-a', 'PPO01', 'TRN-Q-tenant-a', 'test', 'quarantined', '[]', 'ISA')"
        )
        warning = {"segment": 47, "segment_id": "SE", "position": 1, "message": "SE01", "count": 1}
        for tenant in ("tenant-a", "tenant-b"):  # posted, with a fault read through
            await pool.execute(
                "INSERT INTO remits(tenant, payer_id, trace_number, source, status, problems, x12,"
                " warnings) VALUES ($1, 'PPO01', $2, 'test', 'posted', '[]', 'ISA*...', $3::jsonb)",
                tenant,
                f"TRN-W-{tenant}",
                orjson.dumps([warning]).decode(),
            )
        r = await env.client.get("/v1/workqueues/unmatched", headers=env.auth("a_read"))
        assert r.status_code == 200
        items = r.json()["items"]
        assert sorted((i["kind"], i["trace_number"]) for i in items) == [
            ("quarantined_remit", "TRN-Q-tenant-a"),
            ("unbalanced_remit", "TRN-tenant-a"),
            ("unmatched_payment", "TRN-tenant-a"),
            ("warned_remit", "TRN-W-tenant-a"),
        ]
        warned = next(i for i in items if i["kind"] == "warned_remit")
        assert (warned["status"], warned["warnings"]) == ("posted", [warning])
        payment = next(i for i in items if i["kind"] == "unmatched_payment")
        assert (payment["amount_cents"], payment["reason"]) == (8000, "no such claim")
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await pool.close()
