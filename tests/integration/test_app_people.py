"""The billing office in a browser, over HTTP, on the real PostgreSQL and Kafka (issue 28):
people made by `rcm users create` sign in at /login and work the queues under /app/."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator

import httpx
import pyotp
import pytest

from runtime.settings import Settings
from schemas.events_workqueue import ClaimFixed, ClaimVoidRequested
from schemas.ids import claim_id_for
from tests.integration.app_world import (
    IDLE_S,
    LOCK_AFTER,
    PASSWORD,
    app_env,
    audit_rows,
    browser,
    csrf_of,
    held_claim,
    rcm_users_create,
    sign_in,
)
from tests.integration.gateway_env import Env, add_claim, add_event, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def env(live_stack: Settings) -> AsyncIterator[Env]:
    async with app_env(live_stack) as e:
        yield e


async def test_a_person_made_by_rcm_users_create_signs_in_and_reads_home_and_queues(
    env: Env,
) -> None:
    claim_id = await held_claim(env, "E-APP-1")
    async with browser(env) as b:
        first = await b.get("/app/queues/holds")
        assert first.status_code == 303
        assert first.headers["location"] == "/login?next=%2Fapp%2Fqueues%2Fholds"
        r = await sign_in(b, "biller@a.example", next="/app/queues/holds")
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/app/queues/holds"
        cookie = r.headers["set-cookie"].lower()
        assert cookie.startswith("rcm_session=")
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert "secure" not in cookie  # plain http on loopback, outside production
        home = await b.get("/app/")
        assert home.status_code == 200
        assert re.search(r'id="n-holds">(\d+)<', home.text).group(1) == "1"  # type: ignore[union-attr]
        queue = await b.get("/app/queues/holds")
        assert queue.status_code == 200
        assert claim_id in queue.text
        assert "J02.9 is not a billable code" in queue.text
        assert "code J03.90" in queue.text
        assert (await b.get("/app/queues/")).status_code == 200
    actor = "user:" + env.tokens["biller@a.example"]
    rows = await audit_rows(env, actor)
    assert ("user.login", "app", "ok") in [(r[0], r[1], r[2]) for r in rows]
    read = [r for r in rows if r["action"] == "app.workqueue.holds"]
    assert read
    assert claim_id in read[0]["claim_ids"]


async def test_off_the_loopback_the_session_cookie_is_secure(env: Env) -> None:
    transport = httpx.ASGITransport(app=env.app, client=("192.0.2.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as b:
        form = await b.get("/login")
        assert "; secure" in form.headers["set-cookie"].lower()
        # Over https the browser would send the Secure sign-in form's cookie back.
        data = {"email": "biller@a.example", "password": PASSWORD, "csrf": csrf_of(form.text)}
        cookie = {"Cookie": f"rcm_login_csrf={form.cookies['rcm_login_csrf']}"}
        r = await b.post("/login", data=data, headers=cookie)
        assert r.status_code == 303
        assert "; secure" in r.headers["set-cookie"].lower()


async def test_an_invite_link_sets_a_password_once_and_signs_in(env: Env) -> None:
    made = await rcm_users_create(
        env,
        "--tenant",
        "tenant-a",
        "--email",
        "coder@a.example",
        "--role",
        "coder",
        "--invite",
        password=None,
    )
    assert made["invite"].startswith("/login/invite?token=")
    async with browser(env) as b:
        page = await b.get(made["invite"])
        assert "coder@a.example" in page.text
        token = made["invite"].split("token=")[1]
        short = await b.post(
            "/login/invite", data={"token": token, "password": "short", "csrf": csrf_of(page.text)}
        )
        assert short.status_code == 422
        assert "at least 12 characters" in short.text
        r = await b.post(
            "/login/invite",
            data={"token": token, "password": PASSWORD, "csrf": csrf_of(short.text)},
        )
        assert r.status_code == 303
        assert r.headers["location"] == "/app/"
        assert (await b.get("/app/")).status_code == 200
        again = await b.get(made["invite"])
        assert "That link is spent or has expired." in again.text
    async with browser(env) as b:
        assert (await sign_in(b, "coder@a.example")).status_code == 303


async def test_another_tenants_claim_is_404_and_audited(env: Env) -> None:
    claim_id = await held_claim(env, "E-APP-TEN")
    async with browser(env) as b:
        await sign_in(b, "biller@b.example")
        r = await b.get(f"/app/claims/{claim_id}")
        assert r.status_code == 404
        assert "There is no such claim." in r.text
        queue = await b.get("/app/queues/holds")
        assert claim_id not in queue.text
        page = await b.get("/app/")
        fix = await b.post(
            f"/app/claims/{claim_id}/fix",
            data={"csrf": csrf_of(page.text), "version": "x", "diagnoses": "J03.90"},
        )
        assert fix.status_code == 404
    rows = await audit_rows(env, "user:" + env.tokens["biller@b.example"])
    assert [r["outcome"] for r in rows if r["resource"] == claim_id] == ["denied:404", "denied:404"]


async def test_a_role_without_the_right_gets_403_and_an_audit_row(env: Env) -> None:
    claim_id = await held_claim(env, "E-APP-ROLE")
    async with browser(env) as b:
        await sign_in(b, "desk@a.example")
        page = await b.get(f"/app/claims/{claim_id}")
        assert page.status_code == 200
        assert 'id="fix"' not in page.text  # no fix form for the front desk
        r = await b.post(
            f"/app/claims/{claim_id}/fix",
            data={"csrf": csrf_of(page.text), "version": "x", "diagnoses": "J03.90"},
        )
        assert r.status_code == 403
        assert "front_desk" in r.text
        assert "needs fix" in r.text
    rows = await audit_rows(env, "user:" + env.tokens["desk@a.example"])
    assert ("app.fix", claim_id, "denied:403") in [(r[0], r[1], r[2]) for r in rows]


async def test_repeated_failures_lock_the_account_with_a_clear_message(env: Env) -> None:
    await rcm_users_create(
        env, "--tenant", "tenant-a", "--email", "lock@a.example", "--role", "coder"
    )
    async with browser(env) as b:
        for _ in range(LOCK_AFTER - 1):
            r = await sign_in(b, "lock@a.example", "wrong password!!")
            assert r.status_code == 401
            assert "That email and password do not match." in r.text
        r = await sign_in(b, "lock@a.example", "wrong password!!")
        assert "Too many failed sign-ins: this account is locked" in r.text
        r = await sign_in(b, "lock@a.example")  # the right password, still locked
        assert r.status_code == 401
        assert "locked" in r.text
        assert "rcm_session" not in b.cookies


async def test_a_totp_user_needs_the_code(env: Env) -> None:
    made = await rcm_users_create(
        env, "--tenant", "tenant-a", "--email", "totp@a.example", "--role", "manager", "--totp"
    )
    secret = made["totp_uri"].split("secret=")[1].split("&")[0]
    async with browser(env) as b:
        r = await sign_in(b, "totp@a.example")
        assert r.status_code == 401
        assert "authentication code is wrong" in r.text
        r = await sign_in(b, "totp@a.example", code=pyotp.TOTP(secret).now())
        assert r.status_code == 303


async def test_forms_without_their_csrf_token_are_refused(env: Env) -> None:
    claim_id = await held_claim(env, "E-APP-CSRF")
    async with browser(env) as b:
        bare = await b.post("/login", data={"email": "biller@a.example", "password": PASSWORD})
        assert bare.status_code == 403
        assert "rcm_session" not in b.cookies
        await sign_in(b, "biller@a.example")
        r = await b.post(f"/app/claims/{claim_id}/fix", data={"diagnoses": "J03.90"})
        assert r.status_code == 403
        page = await b.get(f"/app/claims/{claim_id}")
        cross = await b.post(
            "/logout", data={"csrf": csrf_of(page.text)}, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert cross.status_code == 403
        assert (await b.get("/app/")).status_code == 200  # still signed in


async def test_an_idle_session_ends_and_sign_in_returns_to_the_page(env: Env) -> None:
    async with browser(env) as b:
        await sign_in(b, "biller@a.example")
        assert (await b.get("/app/")).status_code == 200
        await env.gateway.execute(
            "UPDATE user_sessions SET last_seen = now() - $1 * interval '1 second'", IDLE_S + 1
        )
        r = await b.get("/app/queues/denials?sort=amount")
        assert r.status_code == 303
        assert r.headers["location"] == (
            "/login?next=%2Fapp%2Fqueues%2Fdenials%3Fsort%3Damount&why=idle"
        )
        form = await b.get(r.headers["location"])
        assert "signed out after a while without activity" in form.text
        back = await sign_in(b, "biller@a.example", next="/app/queues/denials?sort=amount")
        assert back.headers["location"] == "/app/queues/denials?sort=amount"
        assert (await b.get(back.headers["location"])).status_code == 200


async def test_fixing_codes_on_the_claim_page_sends_claim_fixed_under_the_person(
    env: Env,
) -> None:
    claim_id = await held_claim(env, "E-APP-FIX")
    async with browser(env) as b:
        await sign_in(b, "biller@a.example")
        page = await b.get(f"/app/claims/{claim_id}")
        assert page.status_code == 200
        assert 'id="fix"' in page.text
        assert "J02.9" in page.text
        version = re.search(r'name="version" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        form = {
            "csrf": csrf_of(page.text),
            "version": version,
            "diagnoses": "J03.90",
            "code_1": "99213",
            "units_1": "1",
            "charge_1": "150.00",
            "dx_1": "J03.90",
            "note": "strep ruled out",
        }
        bad = await b.post(f"/app/claims/{claim_id}/fix", data={**form, "charge_1": "abc"})
        assert bad.status_code == 422
        assert "A charge is an amount such as 125.00." in bad.text
        r = await b.post(f"/app/claims/{claim_id}/fix", data=form)
        assert r.status_code == 303, r.text
        assert r.headers["location"] == f"/app/claims/{claim_id}?sent=fix"
        # The claim moved on (the saga's state changed): the old page's action is refused.
        await env.claims.execute(
            "UPDATE claims SET state = 'REJECTED', state_since = now() WHERE claim_id = $1",
            claim_id,
        )
        stale = await b.post(f"/app/claims/{claim_id}/fix", data=form)
        assert stale.status_code == 409
        assert "This claim changed since you opened it: it was HELD since" in stale.text
        assert "it is now REJECTED since" in stale.text
    msgs = [m for m in await read_topic(env, "claim.fixed", 1) if m.event.key() == claim_id]
    assert len(msgs) == 1
    fixed = msgs[0].event
    assert isinstance(fixed, ClaimFixed)
    assert fixed.encounter.diagnoses == ["J03.90"]
    assert fixed.encounter.lines[0].charge_cents == 15000
    assert fixed.fixed_by == "user:" + env.tokens["biller@a.example"]
    rows = await audit_rows(env, fixed.fixed_by)
    assert ("claim.fix", claim_id) in [(r[0], r[1]) for r in rows]


async def test_a_queue_filters_sorts_and_pages_by_keyset(env: Env) -> None:
    ids = []
    for n in range(7):
        cid = claim_id_for("tenant-a", f"E-PAGE-{n}")
        await add_claim(
            env, "tenant-a", cid, "DENIED", payer_id="PAGEPAY", total_charge_cents=1000 * (n + 1)
        )
        ids.append(cid)
    async with browser(env) as b:
        await sign_in(b, "biller@a.example")
        shown: list[str] = []
        url = "/app/queues/denials?payer=PAGEPAY&sort=amount"
        while url:
            page = await b.get(url)
            assert page.status_code == 200
            shown += re.findall(r'href="/app/claims/([^"]+)"', page.text)
            nxt = re.search(r'id="next" href="([^"]+)"', page.text)
            url = "/app/queues/denials" + nxt.group(1).replace("&amp;", "&") if nxt else ""
        assert shown == list(reversed(ids))  # largest charge first, each once
        page = await b.get("/app/queues/denials?payer=PAGEPAY&min_amount=60")
        assert re.findall(r'href="/app/claims/([^"]+)"', page.text) == ids[5:]
        none = await b.get("/app/queues/denials?payer=NOSUCH")
        assert "Nothing waits here." in none.text


async def test_the_figures_page_draws_the_tenants_kpis_and_needs_the_right(env: Env) -> None:
    cid = claim_id_for("tenant-a", "E-KPI-1")
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
    await add_claim(env, "tenant-a", cid, "DENIED", date_of_service=day)
    await add_event(env, cid, "rcm.claim.submitted.v1", "SUBMITTED")
    denial = {
        "adjustments": [{"group": "CO", "reason": "197", "amount_cents": 15000}],
        "denial_category": "appealable",
    }
    await add_event(env, cid, "rcm.claim.adjudicated.v1", "DENIED", denial)
    async with browser(env) as b:
        await sign_in(b, "biller@a.example")
        page = await b.get("/app/kpis?days=30")
        assert page.status_code == 200
        assert "<svg" in page.text
        assert "CARC 197" in page.text
        assert 'href="/app/kpis"' in page.text  # in the biller's menu
        queue = await b.get("/app/queues/denials?sort=amount")
        row = next(r for r in queue.text.split('<tr class="item">') if cid in r)
        assert "CO-197" in row
        assert "Next:</strong> appeal with the records the payer asks for" in row
    async with browser(env) as b:
        await sign_in(b, "desk@a.example")
        home = await b.get("/app/")
        assert 'href="/app/kpis"' not in home.text
        refused = await b.get("/app/kpis")
        assert refused.status_code == 403
        assert "needs kpis" in refused.text


async def test_a_biller_voids_a_paid_claim_with_a_reason_and_the_desk_may_not(env: Env) -> None:
    cid = claim_id_for("tenant-a", "E-VOID-1")
    await add_claim(env, "tenant-a", cid, "PAID")
    await env.claims.execute(
        "UPDATE claims SET payer_claim_number = 'PCN-VOID-1' WHERE claim_id = $1", cid
    )
    async with browser(env) as b:
        await sign_in(b, "desk@a.example")
        page = await b.get(f"/app/claims/{cid}")
        assert 'id="void"' not in page.text
        version = re.search(r'name="version" value="([^"]+)"', page.text)
        assert version is None  # no action form at all for the desk on a paid claim
        refused = await b.post(
            f"/app/claims/{cid}/void", data={"csrf": csrf_of(page.text), "reason": "duplicate"}
        )
        assert refused.status_code == 403
    async with browser(env) as b:
        await sign_in(b, "biller@a.example")
        page = await b.get(f"/app/claims/{cid}")
        assert 'id="void"' in page.text
        form = {
            "csrf": csrf_of(page.text),
            "version": re.search(r'name="version" value="([^"]+)"', page.text).group(1),  # type: ignore[union-attr]
        }
        empty = await b.post(f"/app/claims/{cid}/void", data={**form, "reason": " "})
        assert empty.status_code == 422
        assert "Say why the claim is voided" in empty.text
        r = await b.post(f"/app/claims/{cid}/void", data={**form, "reason": "billed twice"})
        assert r.status_code == 303
        assert r.headers["location"] == f"/app/claims/{cid}?sent=void"
    sent = [
        m.event for m in await read_topic(env, "claim.void_requested", 1) if m.event.key() == cid
    ]
    assert len(sent) == 1
    void = sent[0]
    assert isinstance(void, ClaimVoidRequested)
    assert void.reason == "billed twice"
    assert void.requested_by == "user:" + env.tokens["biller@a.example"]


async def test_watch_queues_name_claims_near_their_filing_limit_and_payers_past_due(
    env: Env,
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    late = claim_id_for("tenant-b", "E-WATCH-LATE")  # 80 days old, not filed: 10 days left
    await add_claim(env, "tenant-b", late, "HELD", date_of_service=today - dt.timedelta(days=80))
    fresh = claim_id_for("tenant-b", "E-WATCH-FRESH")  # 5 days old: far from the limit
    await add_claim(env, "tenant-b", fresh, "HELD", date_of_service=today - dt.timedelta(days=5))
    overdue = []  # past the limit already: first, a page of them (5 a page here)
    for n in range(5):
        cid = claim_id_for("tenant-b", f"E-WATCH-OVERDUE-{n}")
        await add_claim(env, "tenant-b", cid, "REJECTED", date_of_service=dt.date(2025, 1, 1))
        overdue.append(cid)
    overdue.sort()
    silent = claim_id_for("tenant-b", "E-WATCH-SILENT")  # with the payer 40 days
    await add_claim(env, "tenant-b", silent, "ACCEPTED")
    await env.claims.execute(
        "UPDATE claims SET state_since = now() - interval '40 days' WHERE claim_id = $1", silent
    )
    async with browser(env) as b:
        await sign_in(b, "biller@b.example")  # tenant-b: no other test's claims
        timely = await b.get("/app/queues/timely")
        assert re.findall(r'href="/app/claims/([^"]+)"', timely.text) == overdue
        nxt = re.search(r'id="next" href="([^"]+)"', timely.text)
        assert nxt is not None  # a full page: the rest on the next one
        timely = await b.get("/app/queues/timely" + nxt.group(1).replace("&amp;", "&"))
        assert re.findall(r'href="/app/claims/([^"]+)"', timely.text) == [late]
        assert f"HELD: file by {today + dt.timedelta(days=10)}" in timely.text
        waiting = await b.get("/app/queues/no_response")
        assert silent in waiting.text
        assert late not in waiting.text
        home = await b.get("/app/")
        assert re.search(r'id="n-no_response">(\d+)<', home.text).group(1) == "1"  # type: ignore[union-attr]
    async with browser(env) as b:
        await sign_in(b, "biller@a.example")
        assert late not in (await b.get("/app/queues/timely")).text
