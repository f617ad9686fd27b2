"""The gateway's ops routes on the real PostgreSQL and Kafka, in schemas and topics of
their own: who may look, each tenant sees its own claims, and the figures are the ones
seeded (claims per state and stuck, throughput, denials by CARC, A/R aging, lag)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from runtime.settings import Settings
from services.gateway.ops_sessions import COOKIE
from tests.integration.ops_data import OpsEnv, csrf_of, ops_env, seed

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def env(live_stack: Settings) -> AsyncIterator[OpsEnv]:
    async with ops_env(live_stack, uuid.uuid4().hex[:10]) as e:
        yield e


@pytest.fixture(scope="module")
async def seeded(env: OpsEnv) -> dict[str, Any]:
    return await seed(env)


# --- who may look ---------------------------------------------------------------------

OPS_ROUTES = [
    "/v1/ops/lag",
    "/v1/ops/funnel",
    "/v1/ops/denials",
    "/v1/ops/aging",
    "/v1/ops/dashboard",
]


async def test_every_ops_route_needs_an_ops_or_admin_key(env: OpsEnv) -> None:
    for path in OPS_ROUTES:
        none = await env.client.get(path, headers={"Accept": "application/json"})
        assert none.status_code == 401, path
        bad = await env.client.get(path, headers={"Authorization": "Bearer rcmk_nope"})
        assert bad.status_code == 401, path
        reader = await env.client.get(path, headers=env.auth("a_read"))
        assert reader.status_code == 403, path
        assert reader.json()["error"] == "the key needs scope ops"
        for key in ("a_ops", "a_admin"):
            ok = await env.client.get(path, headers=env.auth(key))
            assert ok.status_code == 200, (path, key, ok.text)
    ticket = await env.client.post("/v1/ops/tickets")
    assert ticket.status_code == 401


async def test_a_browser_without_a_session_gets_the_sign_in_form_not_data(env: OpsEnv) -> None:
    r = await env.client.get("/v1/ops/dashboard", headers={"Accept": "text/html"})
    assert r.status_code == 401
    assert "name='api_key'" in r.text
    assert "rcm_ops_session" not in r.headers.get("set-cookie", "")
    assert "nonce-" in r.headers["content-security-policy"]


async def test_metrics_take_the_ops_token_and_carry_lag_and_request_counts(env: OpsEnv) -> None:
    assert (await env.client.get("/metrics")).status_code == 401
    wrong = await env.client.get("/metrics", headers=env.auth("a_ops"))
    assert wrong.status_code == 401  # an API key is not the ops token
    await env.client.get("/v1/ops/aging", headers=env.auth("a_ops"))
    token = env.s.ops_token.get_secret_value()
    r = await env.client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    text = r.text
    labels = f'group="{env.lag_group}",topic="{env.lag_topic}",partition="0"'
    assert f"kafka_consumergroup_group_lag{{{labels}}} 5" in text
    assert f"kafka_consumergroup_group_offset{{{labels}}} 2" in text
    assert f'kafka_consumergroup_group_max_lag{{group="{env.lag_group}"}} 5' in text
    assert 'rcm_http_requests_total{method="GET",route="/v1/ops/aging",status="200"}' in text, text
    assert 'rcm_http_request_seconds_count{method="GET",route="/v1/ops/aging"}' in text


# --- figures ------------------------------------------------------------------------------


async def test_lag_lists_the_groups_partitions_with_produced_minus_committed(env: OpsEnv) -> None:
    r = await env.client.get("/v1/ops/lag", headers=env.auth("a_ops"))
    assert r.status_code == 200
    rows = r.json()
    assert [x["group"] for x in rows] == [env.lag_group]  # only the configured prefix
    (row,) = rows
    assert set(row) == {"group", "topic", "partition", "lag", "lag_seconds"}
    assert (row["topic"], row["partition"], row["lag"]) == (env.lag_topic, 0, 5)
    assert row["lag_seconds"] >= 0


async def test_the_funnel_counts_this_tenants_claims_per_state_and_the_stuck_ones(
    env: OpsEnv, seeded: dict[str, Any]
) -> None:
    r = await env.client.get("/v1/ops/funnel", headers=env.auth("a_ops"))
    assert r.status_code == 200
    f = r.json()
    states = {s["state"]: s for s in f["states"]}
    assert list(states)[:5] == ["RECEIVED", "ELIGIBLE", "HELD", "CODED", "SUBMITTED"]
    assert {k: v["claims"] for k, v in states.items() if v["claims"]} == seeded["states"]
    assert {k: v["stuck"] for k, v in states.items() if v["stuck"]} == seeded["stuck"]
    assert f["claims"] == 9
    assert f["stuck_total"] == 3
    # The ops scope alone sees how long claims are stuck, not which (no claim ids).
    assert [(s["state"], s["claim_id"]) for s in f["stuck"]] == [
        ("HELD", None),
        ("SUBMITTED", None),
        ("SUBMITTED", None),
    ]
    admin = (await env.client.get("/v1/ops/funnel", headers=env.auth("a_admin"))).json()
    assert [s["claim_id"] for s in admin["stuck"]] == seeded["stuck_ids"]
    assert states["SUBMITTED"]["limit_s"] == 300
    assert states["CLOSED"]["limit_s"] is None
    flow = {s["to_state"]: s for s in f["throughput"]["stages"]}
    assert {k: v["transitions"] for k, v in flow.items() if v["transitions"]} == seeded[
        "throughput"
    ]
    minutes = f["throughput"]["window_minutes"]
    assert len(flow["PAID"]["per_minute"]) == minutes == len(f["throughput"]["minutes"])
    assert flow["SUBMITTED"]["per_minute"][-1] + flow["SUBMITTED"]["per_minute"][-2] == 4
    assert sum(flow["PAID"]["per_minute"][-5:-2]) == 2  # three minutes ago

    other = (await env.client.get("/v1/ops/funnel", headers=env.auth("b_ops"))).json()
    assert {s["state"]: s["claims"] for s in other["states"] if s["claims"]} == {"SUBMITTED": 5}
    assert [s["claim_id"] for s in other["stuck"]] == [None] * 5


async def test_denials_are_summed_per_group_and_carc_for_this_tenant_and_window(
    env: OpsEnv, seeded: dict[str, Any]
) -> None:
    r = await env.client.get("/v1/ops/denials?days=30", headers=env.auth("a_ops"))
    assert r.status_code == 200
    d = r.json()
    got = {i["code"]: {k: i[k] for k in ("claims", "lines", "amount_cents")} for i in d["items"]}
    assert got == seeded["denials"]
    assert [i["code"] for i in d["items"]] == ["CO-97", "CO-16", "OA-18"]  # largest first
    assert (d["claims"], d["amount_cents"]) == (seeded["denied_claims"], seeded["denied_cents"])
    assert d["source"] == "remittance"
    year = (await env.client.get("/v1/ops/denials?days=90", headers=env.auth("a_ops"))).json()
    assert {i["code"]: i["amount_cents"] for i in year["items"]}["CO-29"] == 4_400
    b = (await env.client.get("/v1/ops/denials", headers=env.auth("b_ops"))).json()
    assert [(i["code"], i["amount_cents"]) for i in b["items"]] == [("CO-97", 99_999)]


async def test_aging_buckets_insurance_and_patient_balances_to_the_cent(
    env: OpsEnv, seeded: dict[str, Any]
) -> None:
    r = await env.client.get("/v1/ops/aging", headers=env.auth("a_ops"))
    assert r.status_code == 200
    a = r.json()
    rows = {b["bucket"]: b for b in a["buckets"]}
    assert list(rows) == ["0-30", "31-60", "61-90", "91-120", "120+"]
    ins = {k: (v["insurance_claims"], v["insurance_cents"]) for k, v in rows.items()}
    assert ins == seeded["insurance"]
    pat = {
        k: (v["patient_claims"], v["patient_cents"]) for k, v in rows.items() if v["patient_claims"]
    }
    assert pat == seeded["patient"]
    assert a["insurance_cents"] == 10_000 + 30_000 + 20_000 + 48_766
    assert a["patient_cents"] == 5_500
    assert a["patient_credit_cents"] == seeded["credit"]
    b = (await env.client.get("/v1/ops/aging", headers=env.auth("b_ops"))).json()
    assert b["insurance_claims"] == 5
    assert b["insurance_cents"] == 5 * 99_999
    assert {x["bucket"]: x["patient_cents"] for x in b["buckets"]}["120+"] == 77_700


# --- sessions -------------------------------------------------------------------------------


async def test_signing_in_opens_an_httponly_session_that_ends_when_the_key_is_revoked(
    env: OpsEnv,
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=env.app), base_url="http://gateway"
    ) as browser:
        form = await browser.get("/v1/ops/login")
        refused = await browser.post(
            "/v1/ops/login", data={"api_key": env.tokens["a_read"], "csrf": csrf_of(form.text)}
        )
        assert refused.status_code == 401
        assert COOKIE not in browser.cookies
        r = await browser.post(
            "/v1/ops/login", data={"api_key": env.tokens["a_ops"], "csrf": csrf_of(refused.text)}
        )
        assert r.status_code == 303
        assert r.headers["location"] == "/v1/ops/dashboard"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "path=/v1/ops" in cookie
        session = browser.cookies.get(COOKIE)
        assert session
        page = await browser.get("/v1/ops/dashboard")
        assert page.status_code == 200
        assert "Claim funnel" in page.text
        assert (await browser.get("/v1/ops/funnel")).json()["claims"] == 9
        assert (await browser.get("/v1/claims")).status_code == 401  # the cookie opens ops only
        out = await browser.post("/v1/ops/logout", data={"csrf": csrf_of(page.text)})
        assert out.status_code == 200
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=env.app),
        base_url="http://gateway",
        cookies={COOKIE: session},
    ) as replay:
        assert (await replay.get("/v1/ops/funnel")).status_code == 401  # the session ended


async def test_a_login_link_works_once_and_a_revoked_keys_session_ends(env: OpsEnv) -> None:
    r = await env.client.post("/v1/ops/tickets", headers=env.auth("b_ops"))
    assert r.status_code == 200
    url = r.json()["url"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=env.app), base_url="http://gateway"
    ) as browser:
        first = await browser.get(url)
        assert first.status_code == 303
        assert (await browser.get("/v1/ops/funnel")).json()["claims"] == 5  # tenant B's
        again = await browser.get(url)
        assert again.status_code == 401
        await env.db.execute(
            f"UPDATE {env.g.schema_name}.api_keys SET revoked_at = now() WHERE key_id = $1",
            env.tokens["b_ops_id"],
        )
        assert (await browser.get("/v1/ops/funnel")).status_code == 401
