"""Who touched which patients and claims, in the gateway's audit log: every access,
allowed or refused (401, 403, 404), with all the ids it touched (real PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import orjson
import pytest

from rcm.cli_keys import verify_chain
from runtime.settings import Settings
from schemas.ids import claim_id_for
from tests.integration.gateway_env import Env, add_claim, gateway_env

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def env(live_stack: Settings) -> AsyncIterator[Env]:
    async with gateway_env(live_stack, uuid.uuid4().hex[:10]) as e:
        yield e


async def last_row(env: Env, action: str) -> dict[str, object]:
    row = await env.gateway.fetchrow(
        "SELECT tenant, actor, action, resource, outcome, detail, patient_ids, claim_ids"
        " FROM audit_log WHERE action = $1 ORDER BY seq DESC LIMIT 1",
        action,
    )
    assert row is not None, f"no audit row for {action}"
    return dict(row)


async def key_id(env: Env, name: str) -> str:
    return str(await env.gateway.fetchval("SELECT key_id FROM api_keys WHERE name = $1", name))


async def test_a_request_without_a_key_or_with_a_bad_one_leaves_a_row(env: Env) -> None:
    claim_id = claim_id_for("tenant-a", "E-AUD-401")
    r = await env.client.get(f"/v1/claims/{claim_id}")
    assert r.status_code == 401
    row = await last_row(env, "GET /v1/claims/{claim_id}")
    assert (row["actor"], row["outcome"], row["resource"]) == (
        "anonymous",
        "denied:401",
        f"/v1/claims/{claim_id}",
    )
    r = await env.client.get("/v1/claims", headers={"Authorization": "Bearer rcmk_x_nope"})
    assert r.status_code == 401
    row = await last_row(env, "GET /v1/claims")
    assert row["outcome"] == "denied:401"
    assert str(row["detail"]).startswith("unknown or revoked API key")


async def test_a_key_without_the_scope_is_refused_and_recorded_by_name(env: Env) -> None:
    r = await env.client.post("/v1/encounters", json={}, headers=env.auth("a_read"))
    assert r.status_code == 403
    row = await last_row(env, "POST /v1/encounters")
    assert (row["tenant"], row["actor"], row["outcome"]) == (
        "tenant-a",
        await key_id(env, "a_read"),
        "denied:403",
    )


async def test_reading_another_tenants_claim_is_a_404_with_a_row_naming_the_claim(
    env: Env,
) -> None:
    claim_id = claim_id_for("tenant-a", "E-AUD-404")
    await add_claim(env, "tenant-a", claim_id, "SUBMITTED", encounter_id="E-AUD-404")
    r = await env.client.get(f"/v1/claims/{claim_id}", headers=env.auth("b_all"))
    assert r.status_code == 404
    row = await last_row(env, "GET /v1/claims/{claim_id}")
    assert (row["tenant"], row["actor"], row["outcome"], row["claim_ids"]) == (
        "tenant-b",
        await key_id(env, "b_all"),
        "denied:404",
        [claim_id],
    )
    r = await env.client.post(
        f"/v1/claims/{claim_id}/void", json={"reason": "wrong patient"}, headers=env.auth("b_all")
    )
    assert r.status_code == 404
    row = await last_row(env, "POST /v1/claims/{claim_id}/void")
    assert (row["outcome"], row["claim_ids"]) == ("denied:404", [claim_id])


async def test_a_search_records_every_claim_and_patient_it_returned(env: Env) -> None:
    ids = [claim_id_for("tenant-a", f"E-AUD-S{n}") for n in range(25)]
    for n, claim_id in enumerate(ids):
        await add_claim(env, "tenant-a", claim_id, "SUBMITTED", payer_id="AUDPAYER")
        await env.claims.execute(
            "UPDATE claims SET coded = $2::jsonb WHERE claim_id = $1",
            claim_id,
            orjson.dumps({"patient": {"id": f"PAT-S{n}"}}).decode(),
        )
    r = await env.client.get("/v1/claims?payer_id=AUDPAYER", headers=env.auth("a_read"))
    assert r.status_code == 200
    assert len(r.json()["items"]) == 25
    assert "PAT-S" not in r.text
    row = await last_row(env, "claims.search")
    assert sorted(row["claim_ids"]) == sorted(ids)  # type: ignore[type-var]
    assert sorted(row["patient_ids"]) == sorted(f"PAT-S{n}" for n in range(25))  # type: ignore[type-var]
    held = claim_id_for("tenant-a", "E-AUD-HELD")
    await add_claim(env, "tenant-a", held, "HELD")
    await env.claims.execute(
        'UPDATE claims SET coded = \'{"patient": {"id": "PAT-HELD"}}\' WHERE claim_id = $1',
        held,
    )
    r = await env.client.get("/v1/workqueues/holds", headers=env.auth("a_read"))
    assert held in [i["claim_id"] for i in r.json()["items"]]
    row = await last_row(env, "workqueue.read.holds")
    assert held in row["claim_ids"]  # type: ignore[operator]
    assert "PAT-HELD" in row["patient_ids"]  # type: ignore[operator]


async def test_the_chain_with_refusals_in_it_still_verifies(env: Env) -> None:
    await env.client.get("/v1/claims")
    await env.app.state.gateway.anchor()
    verdict = await verify_chain(env.g.schema_name)
    assert verdict["ok"], verdict
    assert verdict["unkeyed_v1_rows"] == 0
