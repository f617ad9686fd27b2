"""Appeals through the gateway on the live stack: drafting names the open line denials
it disputes (read from remittance's line_denial_v1) and sends the claims service the
command with those lines; another tenant's claim is not found; a denial that is not the
claim's is refused naming it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from rcm.cli_keys import create_key
from runtime.service import Service
from runtime.settings import Settings
from schemas.events_workqueue import AppealRequested
from tests.integration.gateway_env import add_claim, gateway_env, read_topic
from tests.integration.remittance_world import TENANT, line_denied, remittance_service

pytestmark = pytest.mark.integration


@pytest.fixture
async def svc(live_stack: Settings) -> AsyncIterator[Service]:
    async with remittance_service(live_stack) as service:
        yield service


async def test_an_appeal_is_drafted_from_the_claims_open_line_denials(
    svc: Service, live_stack: Settings
) -> None:
    work = await line_denied(svc, "29")

    async with gateway_env(live_stack, uuid.uuid4().hex[:10], remittance_schema=svc.schema) as env:
        await add_claim(env, TENANT, "CLAIM-29", "CLOSED", payer_id="MCR01")
        await env.claims.execute(
            "UPDATE claims SET payer_claim_number = 'PAYER-29' WHERE claim_id = 'CLAIM-29'"
        )
        key = await create_key(TENANT, ["read", "work"], "biller", 1000, schema=env.g.schema_name)
        auth = {"Authorization": f"Bearer {key['token']}"}
        draft = {"denial_ids": [work["denial_id"]], "attachments": ["office note"]}

        r = await env.client.post("/v1/claims/CLAIM-29/appeals", json=draft, headers=auth)
        assert r.status_code == 202, r.text
        [msg] = await read_topic(env, "claim.appeal_requested", 1)
        ev = msg.event
        assert isinstance(ev, AppealRequested)
        assert (ev.claim_id, ev.action.value, ev.attachments) == (
            "CLAIM-29",
            "draft",
            ["office note"],
        )
        assert [(x.line_number, x.procedure_code, x.reason, x.amount_cents) for x in ev.lines] == [
            (2, "20610", "197", 16000)
        ]

        wrong = {"denial_ids": [work["denial_id"] + 1000]}
        r = await env.client.post("/v1/claims/CLAIM-29/appeals", json=wrong, headers=auth)
        assert r.status_code == 409
        assert f"denial(s) {work['denial_id'] + 1000} are not open line denials" in r.text
        r = await env.client.post(
            "/v1/claims/CLAIM-29/appeals", json=draft, headers=env.auth("b_all")
        )
        assert r.status_code == 404
        r = await env.client.get("/v1/claims/CLAIM-29/appeals/CLAIM-29-A1/letter", headers=auth)
        assert r.status_code == 404  # the claims service has not drafted it here

        # as the claims service drafts it (test_claims_appeals.py)
        await env.claims.execute(
            "INSERT INTO appeals(appeal_id, tenant, claim_id, payer_id, payer_claim_number,"
            " category, lines, state, determination_date, deadline, paid_before_cents, letter,"
            " drafted_by) VALUES ('CLAIM-29-A1', $1, 'CLAIM-29', 'MCR01', 'PAYER-29',"
            " 'appealable', '[]', 'drafted', '2026-04-01', '2026-07-30', 9200, $2, 'biller')",
            TENANT,
            b"%PDF-1.3 letter",
        )
        r = await env.client.get("/v1/claims/CLAIM-29/appeals", headers=auth)
        [case] = r.json()["items"]
        assert (case["appeal_id"], case["state"], case["deadline"]) == (
            "CLAIM-29-A1",
            "drafted",
            "2026-07-30",
        )
        r = await env.client.get("/v1/claims/CLAIM-29/appeals/CLAIM-29-A1/letter", headers=auth)
        assert (r.status_code, r.headers["content-type"], r.content) == (
            200,
            "application/pdf",
            b"%PDF-1.3 letter",
        )
        other = await env.client.get(
            "/v1/claims/CLAIM-29/appeals/CLAIM-29-A1/letter", headers=env.auth("b_all")
        )
        assert other.status_code == 404  # another tenant's
