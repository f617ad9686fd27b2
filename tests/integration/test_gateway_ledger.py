"""The billing office's ledger routes on the real Kafka and PostgreSQL: a command reaches
the statements service's topic once, with who sent it and their role, audited; another
tenant's claim is not found; the credit-balance report shows the tenant's accounts only."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from runtime.db import create_pool, migrate
from runtime.settings import Settings
from schemas.events_ledger import LedgerCommand
from services.statements.app import MIGRATIONS as STATEMENTS_MIGRATIONS
from tests.integration.gateway_env import Env, add_claim, gateway_env, read_topic

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def env(live_stack: Settings) -> AsyncIterator[Env]:
    async with gateway_env(live_stack, uuid.uuid4().hex[:10]) as e:
        yield e


async def test_a_write_off_is_sent_once_with_who_asked_and_their_role(env: Env) -> None:
    await add_claim(env, "tenant-a", "C-LEDGER-A", "CLOSED")
    await add_claim(env, "tenant-b", "C-LEDGER-B", "CLOSED")
    cmd = {
        "command_id": "WO-1",
        "guarantor_id": "G-1",
        "action": "write_off",
        "claim_id": "C-LEDGER-A",
        "amount_cents": 1250,
        "reason": "CHARITY",
    }
    r1 = await env.client.post("/v1/ledger/commands", json=cmd, headers=env.auth("a_all"))
    r2 = await env.client.post("/v1/ledger/commands", json=cmd, headers=env.auth("a_all"))
    assert (r1.status_code, r2.status_code) == (202, 202), r1.text
    assert r2.headers.get("Idempotent-Replay") == "true"
    other = {**cmd, "command_id": "WO-2", "claim_id": "C-LEDGER-B"}
    r3 = await env.client.post("/v1/ledger/commands", json=other, headers=env.auth("a_all"))
    assert r3.status_code == 404
    bad = {**cmd, "command_id": "WO-3", "reason": "not a code"}
    r4 = await env.client.post("/v1/ledger/commands", json=bad, headers=env.auth("a_all"))
    assert r4.status_code == 422
    assert "reason" in r4.text
    reader = await env.client.post("/v1/ledger/commands", json=cmd, headers=env.auth("a_read"))
    assert reader.status_code == 403
    msgs = await read_topic(env, "ledger.command", 1)
    sent = [m for m in msgs if isinstance(m.event, LedgerCommand)]
    assert [(m.event.command_id, m.meta.tenant) for m in sent] == [("WO-1", "tenant-a")]
    ev = sent[0].event
    assert (ev.amount_cents, ev.reason, ev.role) == (1250, "CHARITY", "work")
    assert ev.requested_by.startswith("k_")
    audit = await env.gateway.fetchrow(
        "SELECT actor, action, patient_id FROM audit_log WHERE resource = 'WO-1'"
    )
    assert (audit["actor"], audit["action"], audit["patient_id"]) == (
        ev.requested_by,
        "ledger.write_off",
        "G-1",
    )


async def test_the_credit_balance_report_shows_the_tenants_own_accounts(env: Env) -> None:
    schema = env.g.statements_schema
    pool = await create_pool(env.s, schema, max_size=1)
    try:
        await migrate(pool, schema, STATEMENTS_MIGRATIONS)
        for tenant, guarantor, cents in [
            ("tenant-a", "G-A1", -700),
            ("tenant-a", "G-A2", -2500),
            ("tenant-a", "G-A3", 900),  # owes: no credit
            ("tenant-b", "G-B1", -4000),
        ]:
            await pool.execute(
                "INSERT INTO ledger(tenant, guarantor_id, claim_id, kind, amount_cents,"
                " source_event) VALUES ($1, $2, NULL, 'patient_payment', $3, 'test')",
                tenant,
                guarantor,
                cents,
            )
        r = await env.client.get("/v1/ledger/credit-balances", headers=env.auth("a_read"))
        assert r.status_code == 200, r.text
        got = r.json()
        assert [(a["guarantor_id"], a["credit_cents"]) for a in got["accounts"]] == [
            ("G-A2", 2500),
            ("G-A1", 700),
        ]
        assert got["total_credit_cents"] == 3200
        audit = await env.gateway.fetchval(
            "SELECT patient_ids FROM audit_log WHERE action = 'ledger.credit_balances'"
        )
        assert sorted(audit) == ["G-A1", "G-A2"]
        for tenant, rid, status in [
            ("tenant-a", "R-1", "pending"),
            ("tenant-a", "R-2", "posted"),
            ("tenant-b", "R-3", "pending"),
        ]:
            await pool.execute(
                "INSERT INTO ledger_requests(tenant, request_id, guarantor_id, action,"
                " amount_cents, reason, requested_by, role, requested_at, status, event_id)"
                " VALUES ($1, $2, 'G-A1', 'write_off', 90000, 'BAD-DEBT', 'k_x', 'work',"
                " now(), $3, 'e')",
                tenant,
                rid,
                status,
            )
        r = await env.client.get(
            "/v1/ledger/requests", params={"status": "pending"}, headers=env.auth("a_read")
        )
        assert r.status_code == 200, r.text
        assert [(q["request_id"], q["amount_cents"]) for q in r.json()["requests"]] == [
            ("R-1", 90000)
        ]
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await pool.close()
