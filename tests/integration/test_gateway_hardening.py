"""HTTP hardening of the gateway on the real PostgreSQL and Kafka: headers on every answer,
failed authentication limited per client and per key, forwarded headers believed from
configured proxies only, CSRF on the sign-in and sign-out forms, Idempotency-Keys per
API key and bounded identifiers (issue 31, part 6)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from rcm.cli_keys import create_key
from runtime.settings import Settings
from services.gateway.keys import Principal
from services.gateway.ops_sessions import COOKIE, CSRF_COOKIE
from tests.builders import encounter
from tests.integration.gateway_env import Env, add_claim, body, gateway_env, read_topic
from tests.integration.ops_data import csrf_of

pytestmark = pytest.mark.integration

PROXY = ("10.0.0.5", 40000)  # inside RCM_GATEWAY_TRUSTED_PROXIES below
STRANGER = ("192.0.2.50", 40000)  # anyone else on the network
BROWSER = ("192.0.2.60", 40000)  # a person's browser, not a proxy
BURST = 5


@pytest.fixture(scope="module")
async def env(live_stack: Settings) -> AsyncIterator[Env]:
    async with gateway_env(
        live_stack,
        uuid.uuid4().hex[:10],
        trusted_proxies="10.0.0.0/8",
        auth_fail_burst=BURST,
        auth_fail_per_minute=1,
    ) as e:
        schema = e.g.schema_name
        for name, scopes in [("a_ops", ["ops"]), ("a_intake2", ["intake", "read"])]:
            key = await create_key("tenant-a", scopes, name, 100_000, schema=schema)
            e.tokens[name] = key["token"]
            e.tokens[name + "_id"] = key["key_id"]
        yield e


def client(env: Env, peer: tuple[str, int]) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=env.app, client=peer)
    return httpx.AsyncClient(transport=transport, base_url="http://gateway")


def bad_token(key_id: str | None = None) -> str:
    """Well-formed, so only the database could say it is unknown."""
    return f"rcmk_{key_id or 'k_' + secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


def count_lookups(env: Env) -> list[str]:
    """Records each key lookup the gateway makes (and still makes it)."""
    gw = env.app.state.gateway
    real: Callable[[str], Awaitable[Principal | None]] = gw.principal
    seen: list[str] = []

    async def counted(token: str) -> Principal | None:
        seen.append(token)
        return await real(token)

    gw.principal = counted
    return seen


def assert_hardened(r: httpx.Response) -> None:
    assert r.headers["cache-control"] == "no-store", (r.request.url, r.status_code)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "server" not in r.headers


# --- headers --------------------------------------------------------------------------


async def test_every_answer_phi_or_not_is_no_store_with_the_security_headers(env: Env) -> None:
    await add_claim(env, "tenant-a", "C-HARD-1", "SUBMITTED")
    claim = await env.client.get("/v1/claims/C-HARD-1", headers=env.auth("a_read"))
    assert claim.status_code == 200
    assert claim.json()["claim_id"] == "C-HARD-1"
    answers = [
        claim,
        await env.client.get("/v1/claims?limit=5", headers=env.auth("a_read")),
        await env.client.get("/v1/workqueues/held", headers=env.auth("a_read")),
        await env.client.get("/v1/claims/C-HARD-1"),  # 401
        await env.client.get("/v1/claims/C-NOPE", headers=env.auth("a_read")),  # 404
        await env.client.post("/v1/encounters", content=b"x" * 300_000),  # 413
        await env.client.get("/healthz"),
        await env.client.get("/v1/ops/login"),  # HTML: its own CSP, with a nonce
    ]
    for r in answers:
        assert_hardened(r)
    assert [r.status_code for r in answers[3:6]] == [401, 404, 413]
    assert "nonce-" in answers[-1].headers["content-security-policy"]


# --- failed authentication --------------------------------------------------------------


async def test_bad_tokens_from_one_client_cost_burst_lookups_then_429_others_unaffected(
    env: Env,
) -> None:
    lookups = count_lookups(env)
    attacker = {"X-Forwarded-For": "203.0.113.7"}
    async with client(env, PROXY) as proxy:
        # The tenant's integration behind the same address had signed in before.
        ok = await proxy.get("/v1/claims", headers={**attacker, **env.auth("a_read")})
        assert ok.status_code == 200
        codes = []
        for _ in range(BURST + 20):
            r = await proxy.get(
                "/v1/claims", headers={**attacker, "Authorization": f"Bearer {bad_token()}"}
            )
            codes.append(r.status_code)
        assert codes == [401] * BURST + [429] * 20
        assert int(r.headers["retry-after"]) >= 1
        assert r.json()["error"] == "too many failed authentications; see Retry-After"
        assert len(lookups) == 1 + BURST  # the 20 refused cost no database lookup
        # A key known good still gets in from that client; another client is not limited.
        again = await proxy.get("/v1/claims", headers={**attacker, **env.auth("a_read")})
        assert again.status_code == 200
        other = await proxy.get(
            "/v1/claims",
            headers={"X-Forwarded-For": "198.51.100.9", "Authorization": f"Bearer {bad_token()}"},
        )
        assert other.status_code == 401


async def test_guessing_one_keys_secret_from_many_clients_is_limited_per_key(env: Env) -> None:
    victim = env.tokens["a_intake2_id"]
    owner = env.auth("a_intake2")
    codes = []
    async with client(env, PROXY) as proxy:
        assert (await proxy.get("/v1/claims", headers=owner)).status_code == 200
        for n in range(BURST + 3):
            r = await proxy.get(
                "/v1/claims",
                headers={
                    "X-Forwarded-For": f"198.18.0.{n + 1}",
                    "Authorization": f"Bearer {bad_token(victim)}",
                },
            )
            codes.append(r.status_code)
        assert codes == [401] * BURST + [429] * 3
        # The key's owner, known good, is not locked out by the guesser.
        assert (await proxy.get("/v1/claims", headers=owner)).status_code == 200


async def test_a_stranger_cannot_dodge_the_limit_by_claiming_other_addresses(env: Env) -> None:
    async with client(env, STRANGER) as stranger:
        codes = []
        for n in range(BURST + 2):
            r = await stranger.get(
                "/v1/claims",
                headers={
                    "X-Forwarded-For": f"198.19.0.{n + 1}",  # not believed from a stranger
                    "Authorization": f"Bearer {bad_token()}",
                },
            )
            codes.append(r.status_code)
    assert codes == [401] * BURST + [429] * 2


# --- forwarded headers and the cookie's Secure flag ----------------------------------------


async def sign_in(browser: httpx.AsyncClient, token: str, **headers: str) -> httpx.Response:
    form = await browser.get("/v1/ops/login", headers=headers)
    if "; secure" in form.headers["set-cookie"].lower():
        # Behind the proxy the browser spoke https: it would send the Secure cookie back.
        headers["Cookie"] = f"{CSRF_COOKIE}={form.cookies[CSRF_COOKIE]}"
    return await browser.post(
        "/v1/ops/login", data={"api_key": token, "csrf": csrf_of(form.text)}, headers=headers
    )


async def test_x_forwarded_proto_decides_secure_only_from_a_trusted_proxy(env: Env) -> None:
    https = {"X-Forwarded-Proto": "https"}
    async with client(env, BROWSER) as stranger:
        r = await sign_in(stranger, env.tokens["a_ops"], **https)
        assert r.status_code == 303
        assert "secure" not in r.headers["set-cookie"].lower()
    async with client(env, PROXY) as proxy:
        r = await sign_in(proxy, env.tokens["a_ops"], **https)
        assert r.status_code == 303
        cookie = r.headers["set-cookie"].lower()
        assert cookie.startswith(COOKIE)
        assert "; secure" in cookie


# --- CSRF ---------------------------------------------------------------------------------


async def test_the_sign_in_form_refuses_a_post_without_its_token(env: Env) -> None:
    async with client(env, BROWSER) as browser:
        bare = await browser.post("/v1/ops/login", data={"api_key": env.tokens["a_ops"]})
        assert bare.status_code == 403
        assert "expired or came from another site" in bare.text
        assert COOKIE not in browser.cookies
        forged = await browser.post(
            "/v1/ops/login", data={"api_key": env.tokens["a_ops"], "csrf": "guessed-token"}
        )
        assert forged.status_code == 403
        form = await browser.get("/v1/ops/login")
        cross = await browser.post(
            "/v1/ops/login",
            data={"api_key": env.tokens["a_ops"], "csrf": csrf_of(form.text)},
            headers={"Sec-Fetch-Site": "cross-site"},
        )
        assert cross.status_code == 403
        assert COOKIE not in browser.cookies
        assert "samesite=strict" in form.headers["set-cookie"].lower()
        assert CSRF_COOKIE in form.headers["set-cookie"]
        # A script posting JSON needs no form token: no other site can send that.
        scripted = await browser.post("/v1/ops/login", json={"api_key": env.tokens["a_ops"]})
        assert scripted.status_code == 303
        assert browser.cookies.get(COOKIE)


async def test_signing_out_needs_the_dashboards_token(env: Env) -> None:
    async with client(env, BROWSER) as browser:
        assert (await sign_in(browser, env.tokens["a_ops"])).status_code == 303
        forged = await browser.post("/v1/ops/logout")
        assert forged.status_code == 403
        assert (await browser.get("/v1/ops/lag")).status_code == 200  # still signed in
        page = await browser.get("/v1/ops/dashboard")
        out = await browser.post("/v1/ops/logout", data={"csrf": csrf_of(page.text)})
        assert out.status_code == 200
        browser.cookies.delete(COOKIE)
    assert (await env.client.get("/v1/ops/lag")).status_code == 401


# --- idempotency keys are per API key ----------------------------------------------------


async def test_two_keys_of_a_tenant_may_use_the_same_idempotency_key(env: Env) -> None:
    mine, theirs = encounter(encounter_id="E-HARD-IDEM-1"), encounter(encounter_id="E-HARD-IDEM-2")
    key = {"Idempotency-Key": "batch-0001"}
    first = await env.client.post(
        "/v1/encounters", json=body(mine), headers={**env.auth("a_all"), **key}
    )
    other = await env.client.post(
        "/v1/encounters", json=body(theirs), headers={**env.auth("a_intake2"), **key}
    )
    assert first.status_code == other.status_code == 202, other.text
    assert "idempotent-replay" not in other.headers
    assert other.json()["encounter_id"] == "E-HARD-IDEM-2"
    retry = await env.client.post(
        "/v1/encounters", json=body(theirs), headers={**env.auth("a_intake2"), **key}
    )
    assert retry.headers.get("idempotent-replay") == "true"
    sent = [m.event.key() for m in await read_topic(env, "encounter.created", 2)]
    assert sorted(k for k in sent if k.startswith("E-HARD-IDEM")) == [
        "E-HARD-IDEM-1",
        "E-HARD-IDEM-2",
    ]


# --- identifiers are bounded ----------------------------------------------------------------


async def test_an_overlong_identifier_is_refused_by_name(env: Env) -> None:
    pay: dict[str, Any] = {
        "payment_id": "PAY-HARD-1",
        "guarantor_id": "G" * 65,
        "amount_cents": 2500,
        "method": "card",
        "received_at": "2025-04-01T10:00:00Z",
        "claim_id": "C" * 100_000,
    }
    r = await env.client.post("/v1/payments", json=pay, headers=env.auth("a_all"))
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["errors"]] == ["body.guarantor_id", "body.claim_id"]
    assert "GGGG" not in r.text
    path = await env.client.get("/v1/claims/" + "C" * 65, headers=env.auth("a_read"))
    assert path.status_code == 422
