"""The front desk and the patient account in Debian's Chromium (Playwright, no browser
download), on the real stack (issue 28): a front-desk person asks the payer before a
visit from the keyboard and sees the copay arrive in the page (the eligibility service
asks the payer simulator over CAQH CORE); takes a payment at the desk and sees the
balance fall once the statements service posted it. axe-core in every page (no serious
or critical violation); screenshots in test-artifacts/app/."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial

import pytest
from playwright.async_api import Browser, Page

from runtime.service import Record, Service
from runtime.settings import Settings
from schemas.codec import encode
from schemas.events import Event
from schemas.events_frontdesk import BenefitCheckRequested
from schemas.events_payments import PatientPaymentReceived
from services.eligibility import frontdesk
from services.statements import app as statements_app
from services.statements.config import StatementSettings
from tests.integration.app_world import rcm_users_create
from tests.integration.browser import serving
from tests.integration.eligibility_world import World, enc_for, open_world, ppo
from tests.integration.gateway_env import Env, gateway_env, read_topic
from tests.integration.statements_world import TENANT, Feed, decision, visit
from tests.integration.test_app_browser import chromium, look, signed_in
from tests.throwaway import throwaway_service

pytestmark = pytest.mark.integration
__all__ = ["chromium"]  # the module's one browser (a fixture)
G = "G-DESK-1"


@dataclass
class Desk:
    env: Env
    world: World
    statements: Service
    checks: frontdesk.DeskChecks
    patient_enc: object

    async def pass_on(self, event: type[Event], svc: Service) -> None:
        """The service takes what the gateway sent to Kafka."""
        sent = await read_topic(self.env, event.TOPIC, 1)
        for n, msg in enumerate(sent):
            x = encode(msg.event, msg.meta)
            await svc.process(
                event.TOPIC, [Record(event.TOPIC, 0, 500 + n, x.key, x.value, x.headers)]
            )


@pytest.fixture(scope="module")
async def desk(live_stack: Settings) -> AsyncIterator[Desk]:
    cfg = StatementSettings(hold_for_secondary=False)
    wire = partial(statements_app.register, cfg=cfg)
    async with (
        open_world(live_stack) as w,
        throwaway_service("statements", statements_app.MIGRATIONS, wire, live_stack) as st,
    ):
        w.elig.on(BenefitCheckRequested, partial(frontdesk.on_benefit_check, cfg=w.verifier.cfg))
        patient = enc_for(1, [ppo("BMP000000001")])
        await w.roster(patient)
        enc, cid = visit(1, guarantor=G)
        await Feed(st).send(enc, decision(cid, 12000, 5000, 3000))  # the patient owes 30.00
        overrides = {"eligibility_schema": w.elig.schema, "statements_schema": st.schema}
        async with gateway_env(live_stack, uuid.uuid4().hex[:10], **overrides) as env:
            await rcm_users_create(env, "--tenant", TENANT, "--email", "desk@c.example",
                                   "--role", "front_desk")  # fmt: skip
            checks = frontdesk.DeskChecks(w.verifier.cfg, live_stack, w.verifier.transport)
            yield Desk(env, w, st, checks, patient)


async def type_into(page: Page, selector: str, text: str) -> None:
    await page.focus(selector)
    await page.keyboard.press("Control+A")
    await page.keyboard.type(text)


async def test_the_front_desk_asks_the_payer_and_sees_the_copay(
    desk: Desk, chromium: Browser
) -> None:
    p = desk.patient_enc.patient  # type: ignore[attr-defined]
    async with (
        serving(desk.env) as base,  # type: ignore[arg-type]
        signed_in(chromium, base + "/app/frontdesk", "desk@c.example") as page,
    ):
        assert page.url == base + "/app/frontdesk"
        await look(page, "frontdesk")
        for sel, value in (
            ("#patient_id", p.id), ("#first_name", p.first_name), ("#last_name", p.last_name),
            ("#payer_id", "PPO01"), ("#member_id", "BMP000000001"),
            ("#provider_npi", "1234567893"), ("#provider_name", "Sunrise Family Medicine"),
        ):  # fmt: skip
            await type_into(page, sel, value)
        await page.fill("#birth_date", p.birth_date.isoformat())
        await page.fill("#date_of_service", "2025-03-14")
        await page.get_by_role("button", name="Ask the payer").focus()
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{base}/app/frontdesk/checks/desk-*")
        assert "Asking the payer" in await page.inner_text("#benefits")
        await look(page, "frontdesk-asking")

        await desk.pass_on(BenefitCheckRequested, desk.world.elig)
        assert await desk.checks.ask_due(desk.world.elig) == 1
        await page.wait_for_selector("#copay", timeout=10_000)  # htmx polls every second
        assert await page.inner_text("#copay") == "$25.00"
        await look(page, "frontdesk-answer")


async def test_a_payment_at_the_desk_and_the_balance_falls(desk: Desk, chromium: Browser) -> None:
    async with (
        serving(desk.env) as base,  # type: ignore[arg-type]
        signed_in(chromium, f"{base}/app/accounts/{G}", "desk@c.example") as page,
    ):
        assert await page.inner_text("#balance") == "$30.00"
        await look(page, "account")
        await type_into(page, "#amount", "20.00")
        await page.get_by_role("button", name="Record the payment").focus()
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{base}/app/accounts/{G}?sent=payment")
        await desk.pass_on(PatientPaymentReceived, desk.statements)
        for _ in range(20):
            await page.reload()
            if await page.inner_text("#balance") == "$10.00":
                break
            await asyncio.sleep(0.25)
        assert await page.inner_text("#balance") == "$10.00"
        await look(page, "account-paid")
