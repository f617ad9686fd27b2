"""The figures page's days-in-A/R trend (issue 28), from statements' patient ledger: a
line drawn server-side in SVG, the definition in words, the figures in a table; axe-core
finds no serious or critical violation in it."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser

from runtime.settings import Settings
from tests.integration.app_world import app_env, browser, post_ledger, sign_in, statements_ledger
from tests.integration.browser import serving
from tests.integration.gateway_env import Env
from tests.integration.test_app_browser import chromium, look, signed_in

pytestmark = pytest.mark.integration
__all__ = ["chromium"]  # the browser fixture, shared with test_app_browser.py

TODAY = dt.datetime.now(dt.UTC).date()


def noon(days_ago: int) -> dt.datetime:
    return dt.datetime.combine(TODAY - dt.timedelta(days=days_ago), dt.time(12), dt.UTC)


@pytest.fixture(scope="module")
async def env(live_stack: Settings) -> AsyncIterator[Env]:
    async with app_env(live_stack) as e, statements_ledger(live_stack, e) as pool:
        for claim_id, kind, cents, days_ago in [
            ("C-AR-1", "charge", 30000, 2),  # $300 charged two days ago
            ("C-AR-1", "insurance_payment", -12000, 1),  # the payer paid $120
            ("C-AR-1", "contractual", -3000, 1),
            ("C-AR-2", "charge", 60000, 0),  # $600 today
        ]:
            await post_ledger(pool, "G-AR", claim_id, kind, cents, at=noon(days_ago))
        await post_ledger(pool, "G-AR", "C-AR-B", "charge", 99900, tenant="tenant-b", at=noon(0))
        yield e


async def test_the_figures_page_draws_days_in_ar_day_by_day(env: Env) -> None:
    async with browser(env) as b:
        await sign_in(b, "biller@a.example")
        r = await b.get("/app/kpis", params={"days": 30, "trend_days": 3})
        assert r.status_code == 200
        assert "divided by the average daily gross charges" in r.text
        assert "<polyline" in r.text
        rows = r.text.split('<table id="ar-trend">')[1].split("</table>")[0]
        # total A/R / (charges of the last 30 days / 30), at the end of each day:
        # $300 / (300/30) = 30.0; $150 / (300/30) = 15.0; $750 / (900/30) = 25.0
        for day, ar, figure in [
            (TODAY - dt.timedelta(days=2), "$300.00", "30.0"),
            (TODAY - dt.timedelta(days=1), "$150.00", "15.0"),
            (TODAY, "$750.00", "25.0"),
        ]:
            assert f'<tr><td>{day}</td><td class="num">{ar}</td>' in rows
            assert f'<td class="num">{figure}</td></tr>' in rows.split(str(day))[1][:200]
        assert "$999.00" not in r.text  # another tenant's ledger is not counted
        # the header's days in A/R are the line's last point, over the same 30 days
        assert '<strong id="days-in-ar">25.0</strong>' in r.text
        assert '<strong id="total-ar">$750.00</strong>' in r.text
        assert r.text.count("divided by the average daily") == 1  # defined once
        longer = await b.get("/app/kpis", params={"days": 60, "trend_days": 2})
        # $750 / ($900 / 60) = 50.0: the header follows the page's period
        assert '<strong id="days-in-ar">50.0</strong>' in longer.text
        bad = await b.get("/app/kpis", params={"trend_days": 1000})
        assert bad.status_code == 422


async def test_the_kpi_api_answers_the_same_days_in_ar_over_90_days(env: Env) -> None:
    r = await env.client.get("/v1/kpis", headers=env.auth("a_read"))
    assert r.status_code == 200
    k = r.json()
    # total A/R at the end of today: 300 - 120 - 30 + 600 = $750 (insurance and patient);
    # charged in the 90 days up to today: $300 + $600 = $900; 750 / (900 / 90) = 75.0
    assert (k["ar_open_cents"], k["charges_last_90_days_cents"]) == (75000, 90000)
    assert k["days_in_ar"] == "75.0"
    # as of two days ago only the $300 charge was posted: 300 / (300 / 90) = 90.0
    earlier = (TODAY - dt.timedelta(days=2)).isoformat()
    r = await env.client.get("/v1/kpis", params={"as_of": earlier}, headers=env.auth("a_read"))
    assert (r.json()["ar_open_cents"], r.json()["days_in_ar"]) == (30000, "90.0")
    b = (await env.client.get("/v1/kpis", headers=env.auth("b_all"))).json()
    assert (b["ar_open_cents"], b["days_in_ar"]) == (99900, "90.0")  # tenant B's own charge


async def test_in_chromium_the_trend_passes_axe(env: Env, chromium: Browser) -> None:
    async with (
        serving(env) as base,  # type: ignore[arg-type]
        signed_in(chromium, base + "/app/kpis?trend_days=14", "biller@a.example") as page,
    ):
        assert await page.locator("svg polyline").count() == 1
        await look(page, "kpis-ar-trend")
