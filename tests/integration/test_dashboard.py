"""The ops dashboard in headless Chromium (Debian's chromium package): signed in through a
one-time link, the page it renders shows the numbers the API answers for the tenant's
seeded claims, and a screenshot is kept in test-artifacts/ops-dashboard.png."""

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from runtime.settings import Settings
from tests.conftest import ARTIFACTS
from tests.integration.browser import CHROMIUM, Cells, chromium, login_link, money, serving
from tests.integration.ops_data import OpsEnv, ops_env, seed

pytestmark = pytest.mark.integration

SCREENSHOT = ARTIFACTS / "ops-dashboard.png"


@pytest.fixture(scope="module")
async def env(live_stack: Settings) -> AsyncIterator[OpsEnv]:
    # Answers are reused for a minute, so the API and the page show the same moment.
    async with ops_env(live_stack, uuid.uuid4().hex[:10], ops_cache_s=60) as e:
        yield e


async def test_the_dashboard_shows_the_numbers_the_api_answers(env: OpsEnv) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is needed: apt-get install -y chromium (scripts/test.sh)")
    await seed(env)
    api: dict[str, Any] = {}
    for name in ("funnel", "denials", "aging", "lag"):
        r = await env.client.get(f"/v1/ops/{name}", headers=env.auth("a_ops"))
        assert r.status_code == 200
        api[name] = r.json()

    profile = Path(tempfile.mkdtemp(prefix="rcm-chromium-"))
    try:
        async with serving(env) as base:
            dom = (
                await chromium("--dump-dom", await login_link(env, base), profile=profile)
            ).decode()
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            SCREENSHOT.unlink(missing_ok=True)
            await chromium(
                f"--screenshot={SCREENSHOT}", await login_link(env, base), profile=profile
            )
    finally:
        shutil.rmtree(profile, ignore_errors=True)

    page = Cells()
    page.feed(dom)
    assert page.ids.get("tenant") == "tenant ops-tenant-a", dom[:2000]
    assert "live" in dom  # every poll answered: the status dot is green
    assert page.ids.get("banner", "") == ""

    funnel = api["funnel"]
    for s in funnel["states"]:
        row = page.rows[("data-state", s["state"])]
        assert row["count"] == f"{s['claims']:,}", s
        assert row["stuck"] == (str(s["stuck"]) if s["stuck"] or s["limit_s"] else "–"), s
    assert page.ids["t-claims"] == str(funnel["claims"]) == "9"
    assert page.ids["t-stuck"] == str(funnel["stuck_total"]) == "3"
    # An ops key sees how many claims are stuck, and for how long, but not which.
    assert len(funnel["stuck"]) == 3
    assert [c["claim_id"] for c in funnel["stuck"]] == [None] * 3
    assert page.ids["stuck-body"].count("(needs read scope)") == 3
    assert not [c for c in ("A-HELD-1", "A-SUB-2", "A-SUB-1") if c in page.ids["stuck-body"]]

    denials = api["denials"]
    assert [i["code"] for i in denials["items"]] == ["CO-97", "CO-16", "OA-18"]
    for i in denials["items"]:
        row = page.rows[("data-code", i["code"])]
        assert row["amount"] == money(i["amount_cents"])
        assert row["claims"] == str(i["claims"])
    assert page.ids["t-denied"] == money(denials["amount_cents"]) == "$77.00"

    aging = api["aging"]
    for b in aging["buckets"]:
        row = page.rows[("data-bucket", b["bucket"])]
        assert row["ins"] == money(b["insurance_cents"])
        assert row["pat"] == money(b["patient_cents"])
        assert row["ins-claims"] == str(b["insurance_claims"])
    total = page.rows[("data-bucket", "total")]
    assert total["ins"] == money(aging["insurance_cents"]) == "$1,087.66"
    assert total["pat"] == money(aging["patient_cents"]) == "$55.00"
    assert page.ids["t-pat-s"].endswith("credits $7.00")

    (lag,) = api["lag"]
    row = page.rows[("data-group", lag["group"])]
    assert row["lag"] == str(lag["lag"]) == "5"
    assert page.ids["t-lag"] == "5"

    # The screenshot: the full window, and a page with charts, not a blank or error page.
    with Image.open(SCREENSHOT) as img:
        assert img.size == (1400, 1000)
        colours = img.convert("RGB").getcolors(maxcolors=1_000_000) or []
    assert len(colours) > 200, len(colours)
