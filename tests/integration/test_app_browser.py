"""The billing office in Debian's Chromium, driven by Playwright for Python (no browser
download: /usr/bin/chromium), against the gateway served on a loopback port in this
process and the real PostgreSQL and Kafka (issue 28).

A person signs in with the keyboard, sees the held claims, opens one, fixes its codes from
the keyboard (the claim goes back into the flow: claim.fixed, under their user id), is
signed out when idle and brought back to the page after signing in again; a person of
another tenant gets 404 for that claim. axe-core (npm, tests/a11y/) runs in every page:
no serious or critical violation. Screenshots of each page: test-artifacts/app/.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright

from runtime.settings import Settings
from schemas.events_workqueue import ClaimFixed
from tests.a11y import AXE
from tests.conftest import ARTIFACTS
from tests.integration.app_world import IDLE_S, PASSWORD, app_env, held_claim
from tests.integration.browser import CHROMIUM, serving
from tests.integration.gateway_env import Env, read_topic

pytestmark = pytest.mark.integration

SHOTS = ARTIFACTS / "app"
AXE_RUN = """async () => {
  const r = await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']});
  return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ': ' + v.nodes.length);
}"""


@pytest.fixture(scope="module")
async def env(live_stack: Settings) -> AsyncIterator[Env]:
    async with app_env(live_stack) as e:
        yield e


@pytest.fixture(scope="module")
async def chromium() -> AsyncIterator[Browser]:
    assert AXE.exists(), "axe-core is not installed: cd tests/a11y && npm ci"
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        yield browser
        await browser.close()


async def look(page: Page, name: str) -> None:
    """axe-core in the page (zero serious or critical), and the page's screenshot."""
    await page.add_script_tag(path=str(AXE))
    found: list[str] = await page.evaluate(AXE_RUN)
    assert found == [], f"{name}: {found}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def sign_in_by_keyboard(page: Page, email: str) -> None:
    """Email, Tab, password, Enter: no mouse."""
    await page.focus("#email")
    await page.keyboard.type(email)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")


@asynccontextmanager
async def signed_in(chromium: Browser, url: str, email: str) -> AsyncIterator[Page]:
    """A fresh desktop-sized browser context at ``url``, signed in there by keyboard as
    ``email``; closed after."""
    context = await chromium.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    try:
        page = await context.new_page()
        await page.goto(url)
        await sign_in_by_keyboard(page, email)
        yield page
    finally:
        await context.close()


async def test_a_biller_signs_in_works_a_coding_hold_and_is_signed_out_when_idle(
    env: Env, chromium: Browser
) -> None:
    claim_id = await held_claim(env, "E-BROWSER-1")
    async with serving(env) as base:  # type: ignore[arg-type]
        # The page's own CSP refuses injected scripts: only axe's tag is let in.
        context = await chromium.new_context(
            bypass_csp=True, viewport={"width": 1280, "height": 900}
        )
        page = await context.new_page()
        await page.goto(base + "/app/queues/holds")
        assert page.url.startswith(base + "/login?next=")
        await look(page, "login")
        await sign_in_by_keyboard(page, "biller@a.example")
        assert page.url == base + "/app/queues/holds"
        row = page.locator("tr.item", has_text=claim_id)
        assert "J02.9 is not a billable code" in await row.inner_text()
        await look(page, "queue-holds")

        await page.goto(base + "/app/")
        assert await page.inner_text("#n-holds") == "1"
        await look(page, "home")
        await page.goto(base + "/app/kpis")
        await look(page, "kpis")

        # To the claim and its fix, from the keyboard.
        await page.goto(base + "/app/queues/holds")
        await row.get_by_role("link", name=claim_id).focus()
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{base}/app/claims/{claim_id}")
        assert await page.inner_text("#state") == "HELD"
        await look(page, "claim")
        await page.focus("#diagnoses")
        await page.keyboard.press("Control+A")
        await page.keyboard.type("J03.90")
        await page.focus("#dx_1")
        await page.keyboard.press("Control+A")
        await page.keyboard.type("J03.90")
        await page.get_by_role("button", name="Send the corrected claim").focus()
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{base}/app/claims/{claim_id}?sent=fix")
        assert "Your fix was sent" in await page.inner_text("[role=status]")
        await look(page, "claim-sent")

        # Idle: the next page asks to sign in again, then returns to it.
        await env.gateway.execute(
            "UPDATE user_sessions SET last_seen = now() - $1 * interval '1 second'", IDLE_S + 1
        )
        await page.goto(base + f"/app/claims/{claim_id}")
        assert page.url.startswith(base + "/login?")
        assert "without activity" in await page.inner_text("#message")
        await sign_in_by_keyboard(page, "biller@a.example")
        assert page.url == f"{base}/app/claims/{claim_id}"
        await context.close()

        # Another tenant's person: the claim does not exist for them.
        other = await chromium.new_context(bypass_csp=True)
        page = await other.new_page()
        await page.goto(base + "/login")
        await sign_in_by_keyboard(page, "biller@b.example")
        answer = await page.goto(base + f"/app/claims/{claim_id}")
        assert answer is not None
        assert answer.status == 404
        assert "There is no such claim." in await page.inner_text("main")
        await look(page, "not-found")
        await other.close()

    msgs = [m for m in await read_topic(env, "claim.fixed", 1) if m.event.key() == claim_id]
    assert len(msgs) == 1
    fixed: Any = msgs[0].event
    assert isinstance(fixed, ClaimFixed)
    assert fixed.encounter.diagnoses == ["J03.90"]
    assert fixed.encounter.lines[0].diagnosis_codes == ["J03.90"]
    assert fixed.fixed_by == "user:" + env.tokens["biller@a.example"]
    assert json.loads(json.dumps(fixed.changed)) == ["diagnoses", "lines"]
