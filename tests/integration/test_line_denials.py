"""Issue 29 part 2 on the real database: every denied or reduced line of an 835 becomes a
work item with its codes in words, its category and what to do, read through
remittance's line_denial_v1 view; applied once however often the file comes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from rcm.cli_keys import create_key
from runtime.service import Service
from runtime.settings import Settings
from runtime.x12 import segment
from tests.builders import encounter
from tests.integration.gateway_env import (
    add_claim,
    add_event,
    body,
    gateway_env,
    read_topic,
)
from tests.integration.remittance_world import (
    TENANT,
    adjudications,
    clp,
    line,
    partly_paid_197,
    remit,
    remittance_service,
    rows,
    submit,
    x835,
)

pytestmark = pytest.mark.integration

WORK = (
    "SELECT claim_id, payer_claim_number, adjudication_status, line_number, procedure,"
    " cas_group, reason, reason_text, remark_texts, amount_cents, category, action, open"
    " FROM line_denial_v1 ORDER BY denial_id"
)


@pytest.fixture
async def svc(live_stack: Settings) -> AsyncIterator[Service]:
    async with remittance_service(live_stack) as service:
        yield service


def _partly_paid_197() -> list[str]:
    """99213 paid 92.00; 20610 ($160) denied CO-197 (no prior authorization, M62)."""
    return partly_paid_197("29", segment("LQ", "HE", "M62"))


async def test_a_co197_line_on_a_partly_paid_claim_is_a_work_item_in_words(svc: Service) -> None:
    await submit(svc, "CLAIM-29", "C29", 31000)
    text = x835("92", "TR-29", _partly_paid_197())
    await remit(svc, text, "TR-29")
    await remit(svc, text, "TR-29")  # delivered again: nothing more

    assert await rows(svc, WORK) == [
        {
            "claim_id": "CLAIM-29",
            "payer_claim_number": "PAYER-29",
            "adjudication_status": "partially_paid",
            "line_number": 2,
            "procedure": "20610",
            "cas_group": "CO",
            "reason": "197",
            "reason_text": "the service needed prior authorization and none was on file",
            "remark_texts": ["M62: the treatment authorization code is missing or not valid"],
            "amount_cents": 16000,
            "category": "appealable",
            "action": "if an authorization was obtained, add it (REF*G1) and send a replacement;"
            " otherwise appeal with the records showing the service was urgent",
            "open": True,
        }
    ]
    [ev] = await adjudications(svc)
    assert (ev.status.value, ev.paid_cents) == ("partially_paid", 9200)


async def test_a_non_covered_amount_moved_to_the_patient_is_patient_responsibility(
    svc: Service,
) -> None:
    await submit(svc, "CLAIM-30", "C30", 25000)
    paid = clp(
        "C30", "1", "250", "92", "100", "PAYER-30",
        *line("99213", "150", "92", segment("CAS", "CO", "45", "58"), allowed="92"),
        *line("97110", "100", "0", segment("CAS", "PR", "204", "100")),
    )  # fmt: skip
    await remit(svc, x835("92", "TR-30", paid), "TR-30")

    work = await rows(svc, WORK)
    assert [(w["line_number"], w["reason"], w["category"], w["reason_text"]) for w in work] == [
        (2, "204", "patient_responsibility", "the patient's plan does not cover this service")
    ]
    assert work[0]["action"].startswith("bill the patient")
    # what the payer denied stays what denial_v1 says: nothing here
    assert await rows(svc, "SELECT * FROM denial_v1") == []


async def test_a_reversed_posting_closes_its_work_items(svc: Service) -> None:
    await submit(svc, "CLAIM-29", "C29", 31000)
    await remit(svc, x835("92", "TR-A", _partly_paid_197()), "TR-A")
    reversal = clp(
        "C29", "22", "-310", "-92", "0", "PAYER-29",
        *line("99213", "-150", "-92", segment("CAS", "CO", "45", "-58")),
        *line("20610", "-160", "0", segment("CAS", "CO", "197", "-160")),
    )  # fmt: skip
    overturned = clp(
        "C29", "1", "310", "202", "0", "PAYER-29",
        *line("99213", "150", "92", segment("CAS", "CO", "45", "58"), allowed="92"),
        *line("20610", "160", "110", segment("CAS", "CO", "45", "50"), allowed="110"),
    )  # fmt: skip
    await remit(svc, x835("110", "TR-B", reversal, overturned), "TR-B")

    work = await rows(svc, WORK)
    assert [(w["reason"], w["open"]) for w in work] == [("197", False)]
    postings = await rows(svc, "SELECT paid_cents FROM claim_postings ORDER BY id")
    assert [p["paid_cents"] for p in postings] == [9200, -9200, 20200]


async def test_the_gateway_work_queue_shows_the_line_to_its_tenant_only(
    svc: Service, live_stack: Settings
) -> None:
    await submit(svc, "CLAIM-29", "C29", 31000)
    await remit(svc, x835("92", "TR-29", _partly_paid_197()), "TR-29")

    uid = uuid.uuid4().hex[:10]
    async with gateway_env(live_stack, uid, remittance_schema=svc.schema) as env:
        await add_claim(env, TENANT, "CLAIM-29", "PARTIALLY_PAID")
        key = await create_key(TENANT, ["read"], "remit_read", 1000, schema=env.g.schema_name)
        r = await env.client.get(
            "/v1/workqueues/line_denials", headers={"Authorization": f"Bearer {key['token']}"}
        )
        assert r.status_code == 200
        [item] = r.json()["items"]
        assert {k: item[k] for k in ("kind", "claim_id", "claim_state", "payer_claim_number")} == {
            "kind": "line_denial",
            "claim_id": "CLAIM-29",
            "claim_state": "PARTIALLY_PAID",
            "payer_claim_number": "PAYER-29",
        }
        assert (item["procedure"], item["reason"], item["category"], item["amount_cents"]) == (
            "20610",
            "197",
            "appealable",
            16000,
        )
        assert item["reason_text"] == "the service needed prior authorization and none was on file"
        other = await env.client.get("/v1/workqueues/line_denials", headers=env.auth("a_read"))
        assert (other.status_code, other.json()["items"]) == (200, [])


async def test_a_partly_paid_claim_is_corrected_through_the_gateway(live_stack: Settings) -> None:
    async with gateway_env(live_stack, uuid.uuid4().hex[:10]) as env:
        enc = encounter(encounter_id="E-PP-1")
        r = await env.client.post("/v1/encounters", json=body(enc), headers=env.auth("a_all"))
        claim_id = r.json()["claim_id"]
        await add_claim(env, "tenant-a", claim_id, "PARTIALLY_PAID", encounter_id="E-PP-1")
        await add_event(env, claim_id, "rcm.eligibility.checked.v1", "ELIGIBLE")
        fix = {"codes": {"diagnoses": ["M17.11"],
                         "lines": [{"procedure_code": "20610", "charge_cents": 16000,
                                    "diagnosis_codes": ["M17.11"]}]},
               "note": "authorization found: REF*G1 added"}  # fmt: skip
        r = await env.client.post(f"/v1/claims/{claim_id}/fix", json=fix, headers=env.auth("a_all"))
        assert r.status_code == 409  # no payer claim number: nothing to replace
        assert "claims a payer paid" in r.text
        await env.claims.execute(
            "UPDATE claims SET payer_claim_number = 'PAYER-29' WHERE claim_id = $1", claim_id
        )
        r = await env.client.post(f"/v1/claims/{claim_id}/fix", json=fix, headers=env.auth("a_all"))
        assert (r.status_code, r.json()["reenter"]) == (202, "coding"), r.text
        msgs = [m for m in await read_topic(env, "claim.fixed", 1) if m.event.key() == claim_id]
        assert [m.event.changed for m in msgs] == [["diagnoses", "lines"]]
