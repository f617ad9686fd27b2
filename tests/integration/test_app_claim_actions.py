"""The claim page's money actions (issue 28), by role, through the commands the JSON API
sends: a corrected claim (the fix form on a claim the payer paid: claim.fixed, right
``void``), an appeal of the payer's denied lines (rcm.claim.appeal_requested.v1, drafted
from remittance's real line denials, then sent), and a transfer of the balance between
payer and patient (ledger.command). Each refuses a claim that changed since its page was
built, answers 403 with an audit row for a role without the right, and 404 for another
tenant's claim."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser

from runtime.service import Service
from runtime.settings import Settings
from schemas.events_ledger import LedgerCommand
from schemas.events_workqueue import AppealRequested, ClaimFixed
from tests.integration.app_world import (
    app_env,
    audit_rows,
    browser,
    csrf_of,
    held_claim,
    rcm_users_create,
    sign_in,
)
from tests.integration.browser import serving
from tests.integration.gateway_env import Env, add_claim, read_topic
from tests.integration.remittance_world import TENANT, line_denied, remittance_service
from tests.integration.test_app_browser import chromium, look, signed_in

pytestmark = pytest.mark.integration
__all__ = ["chromium"]  # the browser fixture, shared with test_app_browser.py


@pytest.fixture(scope="module")
async def world(live_stack: Settings) -> AsyncIterator[tuple[Env, Service]]:
    async with (
        remittance_service(live_stack) as svc,
        app_env(live_stack, remittance_schema=svc.schema) as env,
    ):
        for tenant, email, role in [
            ("tenant-a", "coder@a.example", "coder"),
            (TENANT, "biller@r.example", "biller"),
            (TENANT, "desk@r.example", "front_desk"),
        ]:
            made = await rcm_users_create(env, "--tenant", tenant, "--email", email, "--role", role)
            env.tokens[email] = made["user_id"]
        yield env, svc


def version_of(html: str) -> str:
    found = re.search(r'name="version" value="([^"]+)"', html)
    assert found, html[:300]
    return found.group(1)


async def paid_claim(env: Env, encounter_id: str) -> str:
    """A claim of tenant-a the payer paid (its number PAYER-<id>), its encounter the gateway's."""
    claim_id = await held_claim(env, encounter_id)
    await env.claims.execute(
        "UPDATE claims SET state = 'PAID', payer_claim_number = $2 WHERE claim_id = $1",
        claim_id,
        "PAYER-" + encounter_id,
    )
    return claim_id


async def denied_claim(env: Env, svc: Service, n: str) -> dict[str, Any]:
    """CLAIM-<n> of the remittance tenant, partly paid: remittance's real line denial of
    its line 2 (CO-197), and the claim as claims shows it."""
    denial = await line_denied(svc, n)
    await add_claim(env, TENANT, f"CLAIM-{n}", "PARTIALLY_PAID", payer_id="MCR01")
    await env.claims.execute(
        "UPDATE claims SET payer_claim_number = $2 WHERE claim_id = $1", f"CLAIM-{n}", f"PAYER-{n}"
    )
    return denial


async def test_a_biller_sends_a_corrected_claim_and_a_coder_may_not(
    world: tuple[Env, Service],
) -> None:
    env, _ = world
    claim_id = await paid_claim(env, "E-CORR-1")
    async with browser(env) as b:
        await sign_in(b, "biller@a.example")
        page = await b.get(f"/app/claims/{claim_id}")
        assert "Send the corrected claim (frequency 7)" in page.text
        assert "the payer's claim number PAYER-E-CORR-1" in page.text
        form = {
            "csrf": csrf_of(page.text),
            "version": version_of(page.text),
            "diagnoses": "J03.90",
            "code_1": "99213",
            "units_1": "1",
            "charge_1": "150.00",
            "dx_1": "J03.90",
            "note": "wrong diagnosis",
        }
        r = await b.post(f"/app/claims/{claim_id}/fix", data=form)
        assert r.status_code == 303, r.text
        assert r.headers["location"] == f"/app/claims/{claim_id}?sent=fix"
    [msg] = [m for m in await read_topic(env, "claim.fixed", 1) if m.event.key() == claim_id]
    fixed: Any = msg.event
    assert isinstance(fixed, ClaimFixed)
    assert fixed.encounter.diagnoses == ["J03.90"]
    assert fixed.fixed_by == "user:" + env.tokens["biller@a.example"]

    async with browser(env) as b:
        await sign_in(b, "coder@a.example")
        page = await b.get(f"/app/claims/{claim_id}")
        assert 'id="fix"' not in page.text  # a coder corrects held claims, not paid ones
        form["csrf"] = csrf_of(page.text)
        r = await b.post(f"/app/claims/{claim_id}/fix", data=form)
        assert r.status_code == 403
        assert "it needs void" in r.text
    refused = await audit_rows(env, "user:" + env.tokens["coder@a.example"])
    assert ("app.void", claim_id, "denied:403") in [
        (x["action"], x["resource"], x["outcome"]) for x in refused
    ]


async def test_a_transfer_goes_to_the_account_and_a_changed_claim_is_refused(
    world: tuple[Env, Service],
) -> None:
    env, _ = world
    claim_id = await paid_claim(env, "E-XFER-1")
    async with browser(env) as b:
        await sign_in(b, "biller@a.example")
        page = await b.get(f"/app/claims/{claim_id}")
        assert 'id="transfer"' in page.text
        command_id = re.search(r'name="command_id" value="(app-[0-9a-f]{16})"', page.text)
        assert command_id
        form = {
            "csrf": csrf_of(page.text),
            "version": version_of(page.text),
            "command_id": command_id.group(1),
            "direction": "to_patient",
            "amount": "20.00",
            "reason": "pr-1",
        }
        bad = await b.post(f"/app/claims/{claim_id}/transfer", data=form | {"amount": "twenty"})
        assert bad.status_code == 422
        assert "Give an amount such as 25.00." in bad.text
        r = await b.post(f"/app/claims/{claim_id}/transfer", data=form)
        assert r.status_code == 303, r.text
        assert "The transfer was sent" in (await b.get(r.headers["location"])).text

        # The claim moves on while another page is open: refused, saying what changed.
        await env.claims.execute(
            "UPDATE claims SET state = 'CLOSED', state_since = now() WHERE claim_id = $1",
            claim_id,
        )
        stale = await b.post(f"/app/claims/{claim_id}/transfer", data=form)
        assert stale.status_code == 409
        assert "This claim changed since you opened it: it was PAID" in stale.text
        assert "it is now CLOSED" in stale.text
    msgs = [m.event for m in await read_topic(env, "ledger.command", 1)]
    sent = [e for e in msgs if isinstance(e, LedgerCommand) and e.claim_id == claim_id]
    assert len(sent) == 1
    assert (sent[0].action.value, sent[0].direction, sent[0].amount_cents, sent[0].reason) == (
        "transfer",
        "to_patient",
        2000,
        "PR-1",
    )
    assert sent[0].guarantor_id == "MRN0001"
    assert sent[0].requested_by == "user:" + env.tokens["biller@a.example"]

    async with browser(env) as b:
        await sign_in(b, "desk@a.example")
        page = await b.get(f"/app/claims/{claim_id}")
        assert 'id="transfer"' not in page.text
        r = await b.post(
            f"/app/claims/{claim_id}/transfer", data=form | {"csrf": csrf_of(page.text)}
        )
        assert r.status_code == 403
    async with browser(env) as b:
        await sign_in(b, "biller@b.example")
        csrf = csrf_of((await b.get("/app/")).text)
        r = await b.post(f"/app/claims/{claim_id}/transfer", data=form | {"csrf": csrf})
        assert r.status_code == 404


async def test_an_appeal_is_drafted_from_the_denied_lines_then_sent(
    world: tuple[Env, Service],
) -> None:
    env, svc = world
    denial = await denied_claim(env, svc, "APP-1")
    url = "/app/claims/CLAIM-APP-1"
    async with browser(env) as b:
        await sign_in(b, "biller@r.example")
        page = await b.get(url)
        assert "Line 2 (20610): CO-197" in page.text
        form = {"csrf": csrf_of(page.text), "version": version_of(page.text), "action": "draft"}
        none = await b.post(url + "/appeal", data=form)
        assert none.status_code == 422
        assert "Choose at least one denied line to appeal." in none.text
        data = form | {"denial": str(denial["denial_id"]), "attachments": "office note\nop report"}
        r = await b.post(url + "/appeal", data=data)
        assert r.status_code == 303, r.text

        # As the claims service drafts it (test_claims_appeals.py): the page offers to send.
        await env.claims.execute(
            "INSERT INTO appeals(appeal_id, tenant, claim_id, payer_id, payer_claim_number,"
            " category, lines, state, determination_date, deadline, paid_before_cents, letter,"
            " drafted_by) VALUES ('CLAIM-APP-1-A1', $1, 'CLAIM-APP-1', 'MCR01', 'PAYER-APP-1',"
            " 'appealable', '[{\"line_number\": 2}]', 'drafted', '2026-04-01', '2026-07-30',"
            " 9200, $2, 'biller')",
            TENANT,
            b"%PDF-1.3 letter",
        )
        page = await b.get(url)
        assert "Record that the letter went to the payer" in page.text
        assert "2026-07-30" in page.text
        send = {"csrf": csrf_of(page.text), "version": version_of(page.text), "action": "send"}
        r = await b.post(url + "/appeal", data=send)
        assert r.status_code == 303
    msgs = [m.event for m in await read_topic(env, "claim.appeal_requested", 2)]
    mine = [e for e in msgs if isinstance(e, AppealRequested) and e.claim_id == "CLAIM-APP-1"]
    assert [e.action.value for e in mine] == ["draft", "send"]
    assert [(x.line_number, x.procedure_code, x.reason) for x in mine[0].lines] == [
        (2, "20610", "197")
    ]
    assert mine[0].attachments == ["office note", "op report"]
    assert mine[0].requested_by == "user:" + env.tokens["biller@r.example"]

    async with browser(env) as b:
        await sign_in(b, "desk@r.example")
        page = await b.get(url)
        assert 'id="appeal"' not in page.text
        r = await b.post(url + "/appeal", data=data | {"csrf": csrf_of(page.text)})
        assert r.status_code == 403
        assert "it needs appeal" in r.text


async def test_in_chromium_the_money_actions_work_from_the_keyboard(
    world: tuple[Env, Service], chromium: Browser
) -> None:
    env, svc = world
    claim_id = await paid_claim(env, "E-XFER-KB")
    await denied_claim(env, svc, "APP-KB")
    async with serving(env) as base:  # type: ignore[arg-type]
        async with signed_in(chromium, f"{base}/app/claims/{claim_id}", "biller@a.example") as page:
            await look(page, "claim-paid-actions")
            await page.focus("#to_patient")
            await page.keyboard.press("Space")
            await page.keyboard.press("Tab")  # past the other choice of the radio group
            await page.keyboard.type("12.50")
            await page.keyboard.press("Tab")
            await page.keyboard.type("PR-1")
            await page.get_by_role("button", name="Transfer").focus()
            await page.keyboard.press("Enter")
            await page.wait_for_url(f"{base}/app/claims/{claim_id}?sent=transfer")
            assert "The transfer was sent" in await page.inner_text("[role=status]")
            await look(page, "claim-transfer-sent")

        async with signed_in(
            chromium, f"{base}/app/claims/CLAIM-APP-KB", "biller@r.example"
        ) as page:
            await page.get_by_role("button", name="Draft the appeal").focus()
            await page.keyboard.press("Enter")
            await page.wait_for_load_state()
            assert "Choose at least one denied line" in await page.inner_text("#denial-error")
            await look(page, "claim-appeal-error")
            await page.get_by_label("Line 2 (20610)").focus()
            await page.keyboard.press("Space")
            await page.get_by_role("button", name="Draft the appeal").focus()
            await page.keyboard.press("Enter")
            await page.wait_for_url(f"{base}/app/claims/CLAIM-APP-KB?sent=appeal-draft")
            await look(page, "claim-appeal-sent")
    msgs = [m.event for m in await read_topic(env, "ledger.command", 1)]
    assert [e.amount_cents for e in msgs if getattr(e, "claim_id", None) == claim_id] == [1250]
