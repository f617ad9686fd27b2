"""A coder fixes a coding hold in Chromium and watches the claim get paid (issue 28).

The whole fleet runs (the e2e package's, every service a process, the simulator as the
payers): an EHR posts an encounter to the gateway whose diagnosis is a header code, so
coding holds it; a coder made by the real `rcm users create` signs in by keyboard, finds
it in the coding-holds queue with the scrubber's words, types the billable code (the
live preview says the scrubber would pass it), sends the fix, and the claim's page,
reloaded, shows PAID in its timeline once the simulated clearinghouse and payer answer.
axe-core in every page; screenshots in test-artifacts/app/."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import sys
import time
import uuid

import httpx
import pytest
from playwright.async_api import Page, async_playwright

from rcm.cli_contracts import load_demo_contracts
from rcm.cli_keys import create_key
from rcm.cli_partners import load_demo_partner
from rcm.cli_payers import load_demo_payers
from rcm.demo import run_tagged
from rcm.processes import SERVICES
from rcm.workload import generate_day
from runtime.settings import REPO_ROOT, Settings
from schemas.events import EncounterCreated
from schemas.ids import claim_id_for
from services.simulator.config import SimulatorSettings
from tests.a11y import AXE
from tests.integration.browser import CHROMIUM
from tests.integration.test_app_browser import look, sign_in_by_keyboard

pytestmark = pytest.mark.e2e

TENANT = "e2e-office"
PASSWORD = "correct horse battery"
PAID_WITHIN_S = 180.0


def one_line_visit(seed: int) -> EncounterCreated:
    """A generated problem visit with one E/M line and one diagnosis (the simulator's
    roster learns the patient from the gateway's encounter.created), whose claim number
    the simulator's seeded random-denial draw lets through (services/simulator/payer.py):
    the point is the fix, not a payer's random no."""
    sim = SimulatorSettings()
    dos = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    for tag in range(50):
        day = run_tagged(
            generate_day(40, seed, tenant=TENANT, date_of_service=dos),
            f"ui-{uuid.uuid4().hex[:8]}-{tag}",
        )
        for e in day:
            one = len(e.lines) == 1 and len(e.diagnoses) == 1 and "." in e.diagnoses[0]
            if not one or [c.payer_id for c in e.coverages] != ["PPO01"]:
                continue
            if e.lines[0].procedure_code not in ("99212", "99213", "99214"):
                continue
            draw = random.Random(f"{sim.seed}:{claim_id_for(TENANT, e.encounter_id)}").random()
            if draw >= sim.denial_rate:
                return e
    raise AssertionError("no one-line problem visit in the generated days")


def held(e: EncounterCreated) -> EncounterCreated:
    """The same visit with its diagnosis cut to its category: a header code coding holds."""
    header = e.diagnoses[0].split(".")[0]
    line = e.lines[0].model_copy(update={"diagnosis_codes": [header]})
    return e.model_copy(update={"diagnoses": [header], "lines": [line]})


async def coder(s: Settings) -> str:
    email = f"coder-{uuid.uuid4().hex[:8]}@office.example"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rcm.cli", "users", "create", "--tenant", TENANT,
        "--email", email, "--role", "coder",
        cwd=REPO_ROOT, env=dict(os.environ), stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate((PASSWORD + "\n").encode())
    assert proc.returncode == 0, err.decode()
    return email


async def fix_by_keyboard(page: Page, dx: str) -> None:
    for field in ("#diagnoses", "#dx_1"):
        await page.focus(field)
        await page.keyboard.press("Control+A")
        await page.keyboard.type(dx)
    verdict = page.locator("#preview-verdict")
    await verdict.filter(has_text="No finding holds these codes").wait_for(timeout=20_000)
    await look(page, "e2e-claim-preview")
    await page.get_by_role("button", name="Send the corrected claim").focus()
    await page.keyboard.press("Enter")


async def test_a_coder_fixes_a_hold_and_watches_the_claim_get_paid(
    fleet: object, live_stack: Settings
) -> None:
    assert AXE.exists(), "axe-core is not installed: cd tests/a11y && npm ci"
    s = live_stack
    await load_demo_payers(s, TENANT)
    await load_demo_contracts(s, TENANT)
    await load_demo_partner(s, TENANT)
    good = one_line_visit(seed=28)
    claim_id = claim_id_for(TENANT, good.encounter_id)
    base = f"http://127.0.0.1:{SERVICES['gateway'] + s.http_port_offset}"
    key = await create_key(TENANT, ["intake", "read"], "e2e-ehr", 1000)
    async with httpx.AsyncClient(base_url=base, timeout=30) as api:
        r = await api.post(
            "/v1/encounters",
            json=held(good).model_dump(mode="json"),
            headers={"Authorization": f"Bearer {key['token']}"},
        )
        assert r.status_code == 202, r.text
        assert r.json()["claim_id"] == claim_id
    email = await coder(s)

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        context = await browser.new_context(
            bypass_csp=True, viewport={"width": 1280, "height": 900}
        )
        page = await context.new_page()
        await page.goto(base + "/app/queues/holds")
        await sign_in_by_keyboard(page, email)
        row = page.locator("tr.item", has_text=claim_id)
        deadline = time.monotonic() + 120
        while not await row.count():  # eligibility, then coding, hold it
            assert time.monotonic() < deadline, "the claim never reached the coding holds"
            await asyncio.sleep(1)
            await page.reload()
        assert "is a header code, not billable" in await row.inner_text()
        assert good.rendering_provider.npi in await row.inner_text()  # claim_v1.rendering_npi
        await look(page, "e2e-queue-holds")
        await row.get_by_role("link", name=claim_id).focus()
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{base}/app/claims/{claim_id}")
        await fix_by_keyboard(page, good.diagnoses[0])
        await page.wait_for_url(f"{base}/app/claims/{claim_id}?sent=fix")

        deadline = time.monotonic() + PAID_WITHIN_S
        timeline = page.locator("#timeline")
        while "→ PAID" not in await timeline.inner_text():
            assert time.monotonic() < deadline, await timeline.inner_text()
            await asyncio.sleep(2)
            await page.reload()
        await look(page, "e2e-claim-paid")
        steps = await timeline.inner_text()
        for state in ("HELD", "CODED", "SUBMITTED", "PAID"):
            assert f"→ {state}" in steps, steps
        assert steps.index("→ HELD") < steps.index("→ CODED") < steps.index("→ PAID")
        await browser.close()
