"""The billing office's test world (issue 28): a gateway of its own with people of two
tenants made by the real `rcm users create`, a loopback browser client, and held claims
whose encounters came through the gateway (test_app_people.py, test_app_browser.py)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from runtime.db import create_pool, migrate
from runtime.settings import REPO_ROOT, Settings
from tests.builders import encounter
from tests.integration.gateway_env import Env, add_claim, add_event, body, gateway_env

PASSWORD = "correct horse battery"
LOCK_AFTER = 3
IDLE_S = 30
STATEMENTS = REPO_ROOT / "services" / "statements" / "migrations"
REASON = {"code": "DX-INVALID", "message": "J02.9 is not a billable code", "fix": "code J03.90"}


async def rcm_users_create(env: Env, *args: str, password: str | None = PASSWORD) -> dict[str, Any]:
    """Runs the real command line, as an administrator would."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rcm.cli",
        "users",
        "create",
        *args,
        cwd=REPO_ROOT,
        env={**os.environ, "RCM_GATEWAY_SCHEMA_NAME": env.g.schema_name},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate((password + "\n").encode() if password else b"")
    assert proc.returncode == 0, err.decode()

    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


PEOPLE = [
    ("tenant-a", "biller@a.example", "biller"),
    ("tenant-a", "desk@a.example", "front_desk"),
    ("tenant-b", "biller@b.example", "biller"),
]


@contextlib.asynccontextmanager
async def app_env(live_stack: Settings, **overrides: Any) -> AsyncIterator[Env]:
    """The gateway with PEOPLE (``env.tokens[email]`` is each one's user id)."""
    knobs: dict[str, Any] = {"lock_after": LOCK_AFTER, "idle_s": IDLE_S, "queue_page": 5}
    async with gateway_env(live_stack, uuid.uuid4().hex[:10], **(knobs | overrides)) as e:
        for tenant, email, role in PEOPLE:
            made = await rcm_users_create(e, "--tenant", tenant, "--email", email, "--role", role)
            e.tokens[email] = made["user_id"]
        yield e


def browser(env: Env) -> httpx.AsyncClient:
    """A person's browser on the gateway's loopback address (plain http: dev)."""
    transport = httpx.ASGITransport(app=env.app, client=("127.0.0.1", 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


async def sign_in(
    b: httpx.AsyncClient, email: str, password: str = PASSWORD, next: str = "/app/", code: str = ""
) -> httpx.Response:
    form = await b.get("/login", params={"next": next})
    assert form.status_code == 200
    data = {"email": email, "password": password, "csrf": csrf_of(form.text), "next": next}
    if code:
        data["code"] = code
    return await b.post("/login", data=data)


async def audit_rows(env: Env, actor: str) -> list[Any]:
    return await env.gateway.fetch(
        "SELECT action, resource, outcome, claim_ids FROM audit_log WHERE actor = $1 ORDER BY seq",
        actor,
    )


async def held_claim(env: Env, encounter_id: str, **cols: Any) -> str:
    """A claim of tenant-a held at coding, its encounter taken by the gateway's API."""
    enc = encounter(encounter_id=encounter_id, diagnoses=["J02.9"])
    r = await env.client.post("/v1/encounters", json=body(enc), headers=env.auth("a_all"))
    assert r.status_code == 202, r.text
    claim_id = str(r.json()["claim_id"])
    await add_claim(env, "tenant-a", claim_id, "HELD", encounter_id=encounter_id, **cols)
    await add_event(env, claim_id, "rcm.eligibility.checked.v1", "ELIGIBLE")
    await add_event(env, claim_id, "rcm.claim.held.v1", "HELD", {"reasons": [REASON]})
    return claim_id


@contextlib.asynccontextmanager
async def statements_ledger(live_stack: Settings, env: Env) -> AsyncIterator[Any]:
    """Statements' own tables (its migrations) in the gateway's statements schema, for a
    test to post the ledger lines statements would (the gateway reads ``ledger_v1``);
    dropped after."""
    pool = await create_pool(live_stack, env.g.statements_schema, max_size=2)
    try:
        await migrate(pool, env.g.statements_schema, STATEMENTS)
        yield pool
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {env.g.statements_schema} CASCADE")
        await pool.close()


async def post_ledger(
    pool: Any,
    guarantor_id: str,
    claim_id: str,
    kind: str,
    cents: int,
    *,
    tenant: str = "tenant-a",
    at: dt.datetime | None = None,
) -> None:
    """One ledger line as statements posts it (a charge positive, a payment or adjustment
    negative), at ``at`` or now."""
    await pool.execute(
        "INSERT INTO ledger(tenant, guarantor_id, claim_id, kind, amount_cents, source_event, at)"
        " VALUES ($1, $2, $3, $4, $5, 'test', coalesce($6, now()))",
        tenant,
        guarantor_id,
        claim_id,
        kind,
        cents,
        at,
    )
