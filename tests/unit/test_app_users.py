"""The billing office's pure pieces: passwords, roles and rights, where a sign-in may send
a person back to, and the claim page's code-fix form read into the fix the API takes."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.routing import APIRoute
from pydantic import SecretStr

from runtime.settings import Settings
from services.gateway.app import create_app
from services.gateway.config import GatewaySettings
from services.gateway.routes import app_accounts, app_actions, app_kpis, app_pages
from services.gateway.routes.app_actions import read_codes
from services.gateway.users import RIGHTS, Right, Role, check_email, hash_password, password_ok
from services.gateway.web import money, safe_next, session_csrf, when

pytestmark = pytest.mark.unit


def test_a_password_is_stored_as_argon2id_and_only_it_matches() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert password_ok(stored, "correct horse battery")
    assert not password_ok(stored, "correct horse batterY")
    assert not password_ok(None, "correct horse battery")  # no such account, or invited only


def test_short_passwords_and_non_emails_are_refused_in_words() -> None:
    with pytest.raises(ValueError, match="at least 12 characters"):
        hash_password("short")
    with pytest.raises(ValueError, match="not an email address"):
        check_email("biller at example")
    assert check_email(" Biller@Example.COM ") == "biller@example.com"


def test_roles_hold_the_rights_their_work_needs_and_no_more() -> None:
    assert RIGHTS[Role.front_desk] == {Right.read, Right.payment, Right.eligibility}
    assert Right.fix in RIGHTS[Role.coder]
    assert Right.void not in RIGHTS[Role.coder]
    assert Right.payment not in RIGHTS[Role.coder]
    assert Right.fix not in RIGHTS[Role.front_desk]
    assert RIGHTS[Role.manager] == RIGHTS[Role.admin] == set(Right)


def test_sign_in_sends_back_only_to_the_gateways_own_pages() -> None:
    assert safe_next("/app/queues/holds?payer=P1") == "/app/queues/holds?payer=P1"
    elsewhere = ("https://evil.example/app/", "//evil.example/app/", "/v1/claims", "/app\\x")
    for hostile in (*elsewhere, "/app/\r\nSet-Cookie: x=1", "/app/\\evil", "/app/" + "x" * 600):
        assert safe_next(hostile) == "/app/"


def test_a_sessions_csrf_token_is_its_own() -> None:
    assert session_csrf("token-one") == session_csrf("token-one")
    assert session_csrf("token-one") != session_csrf("token-two")


def test_money_and_times_read_as_a_person_reads_them() -> None:
    assert money(1234567) == "$12,345.67"
    assert money(-5) == "-$0.05"
    assert when("2026-12-07T20:24:40.349717+00:00") == "2026-12-07 20:24 UTC"


def test_the_fix_form_becomes_the_codes_fix_of_the_api() -> None:
    form = {
        "diagnoses": ["j03.90, e11.9"],
        "code_1": ["99213"],
        "mods_1": ["25"],
        "units_1": ["1"],
        "charge_1": ["$1,150.00"],
        "dx_1": ["J03.90 E11.9"],
        "code_2": ["87880"],
        "charge_2": ["25"],
        "dx_2": ["J03.90"],
    }
    changes, errors = read_codes(form)
    assert errors == {}
    assert changes == {
        "diagnoses": ["J03.90", "E11.9"],
        "lines": [
            {
                "procedure_code": "99213",
                "modifiers": ["25"],
                "diagnosis_codes": ["J03.90", "E11.9"],
                "units": 1,
                "charge_cents": 115000,
            },
            {
                "procedure_code": "87880",
                "modifiers": [],
                "diagnosis_codes": ["J03.90"],
                "units": 1,
                "charge_cents": 2500,
            },
        ],
    }


def test_a_bad_fix_form_says_which_field_is_wrong() -> None:
    _, errors = read_codes({"code_1": ["99213"], "charge_1": ["12.345"], "units_1": ["one"]})
    assert errors == {
        "diagnoses": "Give at least one diagnosis code.",
        "charge_1": "A charge is a positive amount with at most cents.",
        "units_1": "Units is a whole number.",
    }
    _, errors = read_codes({"diagnoses": ["J03.90"]})
    assert errors == {"code_1": "Give at least one service line."}


async def test_every_page_and_action_under_app_sends_a_stranger_to_sign_in_first() -> None:
    app = create_app(Settings(ops_token=SecretStr("the-ops-token")), GatewaySettings())
    routes = [
        (method, r.path)
        for module in (app_pages, app_actions, app_accounts, app_kpis)
        for r in module.router.routes
        if isinstance(r, APIRoute)
        for method in r.methods
    ]
    assert len(routes) >= 9
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        for method, path in routes:
            url = re.sub(r"\{[a-z_]+\}", "X1", path)
            r = await client.request(method, url)
            assert r.status_code == 303, (method, path, r.status_code)
            assert r.headers["location"].startswith("/login?next=%2Fapp%2F"), (method, path)
            assert r.headers["cache-control"] == "no-store"
