"""`rcm appeals draft|send|list|letter` on the live stack: the same command the gateway's
route sends (rcm.claim.appeal_requested.v1 with the open line denials it disputes), the
same refusals naming the problem (a denial that is not the claim's, another tenant's
claim), a case listed and its letter written to a PDF file, each audited."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from rcm import cli_appeals
from runtime.service import Service
from runtime.settings import Settings
from schemas.events_workqueue import AppealRequested
from tests.integration.gateway_env import Env, add_claim, gateway_env, read_topic
from tests.integration.remittance_world import TENANT, line_denied, remittance_service

pytestmark = pytest.mark.integration

rcm = typer.Typer()
rcm.add_typer(cli_appeals.app, name="appeals")  # as rcm/cli.py registers it


@pytest.fixture
async def svc(live_stack: Settings) -> AsyncIterator[Service]:
    async with remittance_service(live_stack) as service:
        yield service


async def _rcm(env: Env, mp: pytest.MonkeyPatch, *args: str) -> Result:
    """`rcm appeals ...` against this test's gateway schemas and topics."""
    mp.setenv("RCM_GATEWAY_SCHEMA_NAME", env.g.schema_name)
    mp.setenv("RCM_GATEWAY_TOPIC_PREFIX", env.g.topic_prefix)
    mp.setenv("RCM_GATEWAY_CLAIMS_SCHEMA", env.g.claims_schema)
    mp.setenv("RCM_GATEWAY_REMITTANCE_SCHEMA", env.g.remittance_schema)
    return await asyncio.to_thread(CliRunner().invoke, rcm, ["appeals", *args])


async def _drafted_by_claims(env: Env) -> None:
    """The case as the claims service drafts it (test_claims_appeals.py)."""
    await env.claims.execute(
        "INSERT INTO appeals(appeal_id, tenant, claim_id, payer_id, payer_claim_number,"
        " category, lines, state, determination_date, deadline, paid_before_cents, letter,"
        " drafted_by) VALUES ('CLAIM-31-A1', $1, 'CLAIM-31', 'MCR01', 'PAYER-31',"
        " 'appealable', '[]', 'drafted', '2026-04-01', '2026-07-30', 9200, $2, 'cli:x')",
        TENANT,
        b"%PDF-1.3 letter",
    )


async def test_appeals_are_drafted_sent_listed_and_their_letter_written_from_the_cli(
    svc: Service, live_stack: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = await line_denied(svc, "31")
    denial = str(work["denial_id"])

    async with gateway_env(live_stack, uuid.uuid4().hex[:10], remittance_schema=svc.schema) as env:
        await add_claim(env, TENANT, "CLAIM-31", "CLOSED", payer_id="MCR01")
        await env.claims.execute(
            "UPDATE claims SET payer_claim_number = 'PAYER-31' WHERE claim_id = 'CLAIM-31'"
        )
        t = ("--tenant", TENANT)
        r = await _rcm(env, monkeypatch, "draft", "CLAIM-31", "--denial", denial, "--attach",
                       "office note", *t)  # fmt: skip
        assert r.exit_code == 0, r.output
        assert json.loads(r.output) == {
            "claim_id": "CLAIM-31",
            "action": "draft",
            "status": "accepted",
        }
        r = await _rcm(env, monkeypatch, "send", "CLAIM-31", *t)
        assert r.exit_code == 0, r.output
        sent = [m.event for m in await read_topic(env, "claim.appeal_requested", 2)]
        assert all(isinstance(ev, AppealRequested) for ev in sent)
        draft, send = sent
        assert (draft.action.value, draft.attachments, send.action.value) == (
            "draft",
            ["office note"],
            "send",
        )
        assert [
            (x.line_number, x.procedure_code, x.reason, x.amount_cents) for x in draft.lines
        ] == [(2, "20610", "197", 16000)]

        wrong = str(work["denial_id"] + 1000)
        r = await _rcm(env, monkeypatch, "draft", "CLAIM-31", "--denial", wrong, *t)
        assert r.exit_code == 1
        assert f"denial(s) {wrong} are not open line denials of claim CLAIM-31" in r.output
        r = await _rcm(env, monkeypatch, "send", "CLAIM-31", "--tenant", "tenant-b")
        assert r.exit_code == 1
        assert "no claim CLAIM-31 for tenant tenant-b" in r.output
        out = tmp_path / "letter.pdf"
        r = await _rcm(env, monkeypatch, "letter", "CLAIM-31", "CLAIM-31-A1", "--out", str(out), *t)
        assert r.exit_code == 1  # not drafted here: the claims service is not running
        assert not out.exists()

        await _drafted_by_claims(env)
        r = await _rcm(env, monkeypatch, "list", "CLAIM-31", *t)
        assert r.exit_code == 0, r.output
        [case] = [json.loads(x) for x in r.output.splitlines()]
        assert (case["appeal_id"], case["state"], case["deadline"]) == (
            "CLAIM-31-A1",
            "drafted",
            "2026-07-30",
        )
        r = await _rcm(env, monkeypatch, "list", "CLAIM-31", "--tenant", "tenant-b")
        assert (r.exit_code, r.output) == (0, "")  # another tenant sees no case
        r = await _rcm(env, monkeypatch, "letter", "CLAIM-31", "CLAIM-31-A1", "--out", str(out), *t)
        assert r.exit_code == 0, r.output
        assert out.read_bytes() == b"%PDF-1.3 letter"

        audited = await env.gateway.fetch(
            "SELECT actor, action, resource FROM audit_log WHERE tenant = $1 ORDER BY seq", TENANT
        )
        actions = [(a["action"], a["resource"]) for a in audited if a["actor"].startswith("cli:")]
        assert actions == [
            ("claim.appeal.draft", "CLAIM-31"),
            ("claim.appeal.send", "CLAIM-31"),
            ("claim.appeals.read", "CLAIM-31"),
            ("claim.appeal.letter", "CLAIM-31-A1"),
        ]
