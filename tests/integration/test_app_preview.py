"""The claim page's live re-scrub preview (issue 28): as a person edits a held claim's
codes, the gateway asks coding's own scrubber (``POST /v1/scrub/preview`` on coding's
web server, the ops token) what it would say, and shows it before anything is sent.

Coding runs for real here (its schema of its own, its code sets and edit tables): it
scrubbed the claim once from its eligibility.checked, and its preview endpoint is served
on a loopback port as its web server serves it. The preview sends nothing and changes
nothing: coding's results and the claim's topic stay as they were.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web
from playwright.async_api import Browser

from runtime.service import Record, Service
from runtime.settings import Settings
from schemas.codec import encode, new_meta
from schemas.events import EligibilityChecked
from services.coding import app as coding_app
from services.coding import preview
from services.coding.rulebook import LoadedRules
from services.coding.tables import LoadedTables
from tests.builders import encounter
from tests.integration.app_world import app_env, browser, csrf_of, held_claim, sign_in
from tests.integration.browser import free_port, serving
from tests.integration.gateway_env import Env
from tests.integration.test_app_browser import chromium, look, signed_in

pytestmark = pytest.mark.integration
__all__ = ["chromium"]  # the browser fixture, shared with test_app_browser.py


@contextlib.asynccontextmanager
async def coding(s: Settings) -> AsyncIterator[tuple[Service, str]]:
    """The coding service (its own schema) and the URL its preview is served at."""
    tables, rules = LoadedTables(), LoadedRules()
    svc = coding_app.build(
        s, schema=f"it_{uuid.uuid4().hex[:8]}", http_port=6198, tables=tables, rules=rules
    )
    await svc.start_resources()

    async def post(request: web.Request) -> web.Response:
        assert svc.pool is not None
        code, answer = await preview.handle(
            svc.pool, s, request.headers, await request.read(), tables, rules
        )
        return web.json_response(answer, status=code)

    server = web.Application()
    server.router.add_post(preview.PATH, post)
    runner = web.AppRunner(server)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield svc, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        assert svc.pool is not None
        await svc.pool.execute(f"DROP SCHEMA {svc.schema} CASCADE")
        await svc.stop_resources()


async def coded_once(svc: Service, claim_id: str, encounter_id: str) -> None:
    """Coding scrubs the claim from its eligibility.checked, as the pipeline would."""
    enc = encounter(encounter_id=encounter_id, diagnoses=["J02.9"])
    checked = EligibilityChecked(
        claim_id=claim_id,
        encounter_id=encounter_id,
        active=True,
        payer_id="PPO01",
        payer_name="BLUE MEADOW PPO",
        encounter=enc,
    )
    meta = new_meta(checked, source="test", tenant="tenant-a", correlation_id=claim_id)
    x = encode(checked, meta)
    await svc.process(checked.TOPIC, [Record(checked.TOPIC, 0, 1, x.key, x.value, x.headers)])


@pytest.fixture(scope="module")
async def world(live_stack: Settings) -> AsyncIterator[tuple[Env, Service]]:
    async with coding(live_stack) as (svc, url), app_env(live_stack, coding_url=url) as env:
        yield env, svc


def fix_form(csrf: str, dx: str, code: str, line_dx: str, charge: str = "150.00") -> dict[str, str]:
    return {
        "csrf": csrf,
        "diagnoses": dx,
        "code_1": code,
        "units_1": "1",
        "charge_1": charge,
        "dx_1": line_dx,
    }


async def test_the_preview_shows_what_the_scrubber_would_say_before_the_fix_is_sent(
    world: tuple[Env, Service],
) -> None:
    env, svc = world
    claim_id = await held_claim(env, "E-PREVIEW-1")
    await coded_once(svc, claim_id, "E-PREVIEW-1")
    assert svc.pool is not None
    passes = await svc.pool.fetchval("SELECT count(*) FROM coding_results")
    async with browser(env) as b:
        await sign_in(b, "biller@a.example")
        page = await b.get(f"/app/claims/{claim_id}")
        assert 'hx-post="/app/claims/' + claim_id + '/preview"' in page.text
        csrf = csrf_of(page.text)
        url = f"/app/claims/{claim_id}/preview"

        # A preventive visit pointed at a sick-visit diagnosis only: still held.
        r = await b.post(url, data=fix_form(csrf, "J03.90", "99396", "J03.90"))
        assert r.status_code == 200
        assert "would be held again" in r.text
        assert "preventive visit &#39;99396&#39; points at no routine-exam" in r.text
        assert "point line 1 at Z00.0- first" in r.text

        # A header code, not billable: the scrubber's words for it.
        r = await b.post(url, data=fix_form(csrf, "J02", "99213", "J02"))
        assert "&#39;J02&#39; is a header code, not billable" in r.text

        # The good fix: nothing holds it.
        r = await b.post(url, data=fix_form(csrf, "J03.90", "99213", "J03.90"))
        assert "No finding holds these codes" in r.text
        assert "would be held again" not in r.text

        # The form's own errors, in words, before asking coding.
        r = await b.post(url, data=fix_form(csrf, "J03.90", "99213", "J03.90", charge="abc"))
        assert "A charge is an amount such as 125.00." in r.text

        # No CSRF token: refused.
        bad = await b.post(url, data=fix_form("nope", "J03.90", "99213", "J03.90"))
        assert bad.status_code == 403

    # Nothing was sent or written: coding recorded no pass, the claim is as it was.
    assert await svc.pool.fetchval("SELECT count(*) FROM coding_results") == passes
    state = await env.claims.fetchval("SELECT state FROM claims WHERE claim_id = $1", claim_id)
    assert state == "HELD"
    actions = await env.gateway.fetch(
        "SELECT action FROM audit_log WHERE $1 = ANY(claim_ids) AND action = 'app.claim.preview'",
        claim_id,
    )
    assert len(actions) == 3  # the three previews coding answered


async def test_the_preview_is_the_fixers_and_the_tenants_own(world: tuple[Env, Service]) -> None:
    env, svc = world
    claim_id = await held_claim(env, "E-PREVIEW-2")
    await coded_once(svc, claim_id, "E-PREVIEW-2")
    async with browser(env) as b:
        await sign_in(b, "desk@a.example")
        csrf = csrf_of((await b.get("/app/")).text)
        r = await b.post(
            f"/app/claims/{claim_id}/preview", data=fix_form(csrf, "J03.90", "99213", "J03.90")
        )
        assert r.status_code == 403
        assert "needs fix" in r.text
    async with browser(env) as b:
        await sign_in(b, "biller@b.example")
        csrf = csrf_of((await b.get("/app/")).text)
        r = await b.post(
            f"/app/claims/{claim_id}/preview", data=fix_form(csrf, "J03.90", "99213", "J03.90")
        )
        assert r.status_code == 404


async def test_coding_answers_only_the_ops_token_and_the_claims_own_tenant(
    world: tuple[Env, Service], live_stack: Settings
) -> None:
    env, svc = world
    claim_id = await held_claim(env, "E-PREVIEW-3")
    await coded_once(svc, claim_id, "E-PREVIEW-3")
    assert svc.pool is not None
    body: dict[str, Any] = {
        "tenant": "tenant-b",
        "claim_id": claim_id,
        "encounter": encounter(encounter_id="E-PREVIEW-3").model_dump(mode="json"),
    }
    raw = orjson.dumps(body)
    tables, rules = LoadedTables(), LoadedRules()
    code, _ = await preview.handle(svc.pool, live_stack, {}, raw, tables, rules)
    assert code == 401
    auth = {"Authorization": f"Bearer {live_stack.ops_token.get_secret_value()}"}
    code, answer = await preview.handle(svc.pool, live_stack, auth, raw, tables, rules)
    assert code == 404, answer
    body["encounter"]["lines"] = "not lines"
    bad = orjson.dumps(body | {"tenant": "tenant-a"})
    code, answer = await preview.handle(svc.pool, live_stack, auth, bad, tables, rules)
    assert code == 422
    assert answer["fields"] == ["encounter.lines"]


async def test_in_chromium_the_preview_follows_the_keyboard(
    world: tuple[Env, Service], chromium: Browser
) -> None:
    """Typed codes, no click: the preview says the claim would be held, then that it passes."""
    env, svc = world
    claim_id = await held_claim(env, "E-PREVIEW-4")
    await coded_once(svc, claim_id, "E-PREVIEW-4")
    async with (
        serving(env) as base,  # type: ignore[arg-type]
        signed_in(chromium, f"{base}/app/claims/{claim_id}", "biller@a.example") as page,
    ):
        await page.focus("#diagnoses")
        await page.keyboard.press("Control+A")
        await page.keyboard.type("J03.90")
        await page.focus("#code_1")
        await page.keyboard.press("Control+A")
        await page.keyboard.type("99396")
        await page.focus("#dx_1")
        await page.keyboard.press("Control+A")
        await page.keyboard.type("J03.90")
        verdict = page.locator("#preview-verdict")
        await verdict.filter(has_text="would be held again").wait_for(timeout=15_000)
        assert "points at no routine-exam" in await page.inner_text("#preview")
        await look(page, "claim-preview-held")
        await page.focus("#code_1")
        await page.keyboard.press("Control+A")
        await page.keyboard.type("99213")
        await verdict.filter(has_text="No finding holds these codes").wait_for(timeout=15_000)
        await look(page, "claim-preview-clean")
