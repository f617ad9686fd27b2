"""A patient account in the billing office (issue 28): its ledger and balance from
statements' views, a payment taken at the desk sent as the same event POST /v1/payments
sends, another tenant's account not found. Statements itself does not run here: the test
posts what it would (the ledger line of the payment) and the page's balance falls."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from runtime.db import create_pool
from runtime.settings import Settings
from schemas.events_payments import PatientPaymentReceived, PaymentMethod
from tests.integration.app_world import (
    app_env,
    audit_rows,
    browser,
    csrf_of,
    post_ledger,
    sign_in,
    statements_ledger,
)
from tests.integration.gateway_env import Env, read_topic

pytestmark = pytest.mark.integration

GUARANTOR = "G-ACCT-1"


@pytest.fixture(scope="module")
async def env(live_stack: Settings) -> AsyncIterator[Env]:
    async with app_env(live_stack) as e, statements_ledger(live_stack, e) as pool:
        await post_ledger(pool, GUARANTOR, "C-ACCT-1", "charge", 15000)
        await post_ledger(pool, GUARANTOR, "C-ACCT-1", "insurance_payment", -10000)
        yield e


def balance(html: str) -> str:
    found = re.search(r'id="balance">([^<]+)<', html)
    assert found, html[:800]
    return found.group(1)


async def test_the_desk_takes_a_check_and_the_balance_falls(env: Env) -> None:
    async with browser(env) as b:
        await sign_in(b, "desk@a.example")
        page = await b.get(f"/app/accounts/{GUARANTOR}")
        assert page.status_code == 200
        assert balance(page.text) == "$50.00"
        assert "insurance payment" in page.text
        form = {
            "csrf": csrf_of(page.text),
            "payment_id": re.search(r'name="payment_id" value="([^"]+)"', page.text).group(1),  # type: ignore[union-attr]
            "amount": "20.00",
            "method": "check",
        }
        missing = await b.post(f"/app/accounts/{GUARANTOR}/payments", data=form)
        assert missing.status_code == 422
        assert "A check payment needs the check number." in missing.text
        r = await b.post(f"/app/accounts/{GUARANTOR}/payments", data={**form, "reference": "1042"})
        assert r.status_code == 303, r.text
        assert r.headers["location"] == f"/app/accounts/{GUARANTOR}?sent=payment"
        sent = [
            m.event
            for m in await read_topic(env, "patient.payment.received", 1)
            if m.event.key() == GUARANTOR
        ]
        assert len(sent) == 1
        pay = sent[0]
        assert isinstance(pay, PatientPaymentReceived)
        assert (pay.amount_cents, pay.method, pay.reference) == (2000, PaymentMethod.check, "1042")
        # What statements does with it: the payment's ledger line.
        pool = await create_pool(env.s, env.g.statements_schema, max_size=1)
        try:
            await post_ledger(pool, GUARANTOR, "C-ACCT-1", "patient_payment", -pay.amount_cents)
        finally:
            await pool.close()
        after = await b.get(f"/app/accounts/{GUARANTOR}")
        assert balance(after.text) == "$30.00"
    rows = await audit_rows(env, "user:" + env.tokens["desk@a.example"])
    actions = [(r["action"], r["resource"]) for r in rows]
    assert ("app.account", GUARANTOR) in actions
    assert ("payment.create", pay.payment_id) in actions


async def test_another_tenants_account_is_not_found(env: Env) -> None:
    async with browser(env) as b:
        await sign_in(b, "biller@b.example")
        r = await b.get(f"/app/accounts/{GUARANTOR}")
        assert r.status_code == 404
        assert "There is no such patient account." in r.text
        home = await b.get("/app/")
        pay = await b.post(
            f"/app/accounts/{GUARANTOR}/payments",
            data={
                "csrf": csrf_of(home.text),
                "amount": "5",
                "method": "cash",
                "payment_id": "desk-x",
            },
        )
        assert pay.status_code == 404
