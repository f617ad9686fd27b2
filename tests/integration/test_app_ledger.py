"""A patient account's money in the billing office (issue 28): the statement's PDF as the
statements service rendered it, the credit and its refund flag, and a refund asked by a
biller that waits above the biller's limit until a manager approves it, all through the
real statements service (its handlers on the live database, fed what the gateway sent to
Kafka). A front-desk person may not write off; another tenant gets 404."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial

import httpx
import pytest

from runtime.service import Record, Service
from runtime.settings import Settings
from schemas.codec import encode
from schemas.events_ledger import LedgerCommand
from services.statements import app, pdfs
from services.statements.config import StatementSettings
from tests.integration.app_world import browser, csrf_of, rcm_users_create, sign_in
from tests.integration.gateway_env import Env, gateway_env, read_topic
from tests.integration.statements_world import TENANT, Feed, decision, visit
from tests.integration.test_statements_handlers import payment
from tests.throwaway import throwaway_service

pytestmark = pytest.mark.integration
G = "G-APP-RF"
CFG = StatementSettings(
    hold_for_secondary=False, approval_limits_cents={"work": 2000, "admin": 10**6}
)


@dataclass
class World:
    env: Env
    svc: Service
    feed: Feed
    taken: int = 0

    async def deliver(self) -> LedgerCommand:
        """Statements takes the next command the gateway sent."""
        self.taken += 1
        sent = await read_topic(self.env, LedgerCommand.TOPIC, self.taken)
        msg = sent[self.taken - 1]
        x = encode(msg.event, msg.meta)
        rec = Record(LedgerCommand.TOPIC, 0, 1000 + self.taken, x.key, x.value, x.headers)
        await self.svc.process(LedgerCommand.TOPIC, [rec])
        assert isinstance(msg.event, LedgerCommand)
        return msg.event


@pytest.fixture
async def world(live_stack: Settings) -> AsyncIterator[World]:
    wire = partial(app.register, cfg=CFG)
    async with throwaway_service("statements", app.MIGRATIONS, wire, live_stack) as svc:
        f = Feed(svc)
        enc, cid = visit(1, guarantor=G)
        await f.send(enc, decision(cid, 12000, 5000, 3000), payment(G, 8000, "P-APP-RF"))
        idle = time.monotonic() + CFG.pdf_idle_s  # as the timer finds it after the feed
        assert await pdfs.render_missing(svc, cfg=CFG, clock=lambda: idle) == 1
        uid = uuid.uuid4().hex[:10]
        async with gateway_env(live_stack, uid, statements_schema=svc.schema) as env:
            for tenant, email, role in (
                (TENANT, "biller@c.example", "biller"),
                (TENANT, "manager@c.example", "manager"),
                (TENANT, "desk@c.example", "front_desk"),
                ("tenant-b", "biller@b.example", "biller"),
            ):
                await rcm_users_create(env, "--tenant", tenant, "--email", email, "--role", role)
            yield World(env, svc, f)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def form_of(b: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    page = await b.get(f"/app/accounts/{G}")
    assert page.status_code == 200, page.text[:300]
    found = re.search(r'name="command_id" value="(app-[0-9a-f]{16})"', page.text)
    assert found
    return page.text, {"csrf": csrf_of(page.text), "command_id": found.group(1)}


async def test_the_statement_pdf_and_a_refund_approved_by_a_manager(world: World) -> None:
    async with browser(world.env) as b:
        await sign_in(b, "biller@c.example")
        page, hidden = await form_of(b)
        assert "The practice holds $50.00 of this patient's money" in text(page)
        assert "Flagged for a refund: $50.00" in text(page)
        link = re.search(rf'href="(/app/accounts/{G}/statements/[^"]+\.pdf)"', page)
        assert link
        pdf = await b.get(link.group(1))
        assert pdf.status_code == 200
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")

        too_much = await b.post(
            f"/app/accounts/{G}/ledger",
            data={**hidden, "action": "refund", "amount": "60.00", "reason": "OVERPAID"},
        )
        assert too_much.status_code == 422
        assert "The account holds 50.00 of credit." in too_much.text
        r = await b.post(
            f"/app/accounts/{G}/ledger",
            data={**hidden, "action": "refund", "amount": "50.00", "reason": "overpaid"},
        )
        assert r.status_code == 303, r.text[:300]
        refund = await world.deliver()
        assert (refund.amount_cents, refund.reason, refund.role) == (5000, "OVERPAID", "work")
        page, hidden = await form_of(b)
        assert "waits for approval" in text(page)
        assert "Approve" not in page  # a biller may not approve
        no = await b.post(
            f"/app/accounts/{G}/ledger",
            data={**hidden, "action": "approve", "request_id": refund.command_id},
        )
        assert no.status_code == 403

    async with browser(world.env) as m:
        await sign_in(m, "manager@c.example")
        page, hidden = await form_of(m)
        r = await m.post(
            f"/app/accounts/{G}/ledger",
            data={**hidden, "action": "approve", "request_id": refund.command_id},
        )
        assert r.status_code == 303
        approval = await world.deliver()
        assert (approval.request_id, approval.role) == (refund.command_id, "admin")
        page = text((await m.get(f"/app/accounts/{G}")).text)
        assert "The practice holds" not in page
        assert "Balance: $0.00" in page
        assert re.search(r"refund \(OVERPAID\) \$50\.00 user:\S+ posted", page), page


async def test_who_may_not_touch_the_account_is_refused(world: World) -> None:
    async with browser(world.env) as d:
        await sign_in(d, "desk@c.example")
        page = (await d.get(f"/app/accounts/{G}")).text
        assert 'id="write-off"' not in page  # no form to write off with
        hidden = {"csrf": csrf_of(page), "command_id": "app-" + uuid.uuid4().hex[:16]}
        r = await d.post(
            f"/app/accounts/{G}/ledger",
            data={**hidden, "action": "write_off", "amount": "5.00", "reason": "CHARITY"},
        )
        assert r.status_code == 403
    async with browser(world.env) as other:
        await sign_in(other, "biller@b.example")
        assert (await other.get(f"/app/accounts/{G}")).status_code == 404
        sid = (await world.feed.fetch("SELECT statement_id FROM statements"))[0][0]
        assert (await other.get(f"/app/accounts/{G}/statements/{sid}.pdf")).status_code == 404
    async with browser(world.env) as b:
        await sign_in(b, "biller@c.example")
        page, hidden = await form_of(b)
        bad = await b.post(
            f"/app/accounts/{G}/ledger",
            data={**hidden, "action": "write_off", "claim_id": "C-NOT-HERE", "amount": "5",
                  "reason": "bad debt"},
        )  # fmt: skip
        assert bad.status_code == 422
        assert "Choose a claim of this account." in bad.text
        assert "A reason is a code of letters, digits and dashes (BAD-DEBT)." in bad.text


async def test_a_statement_without_its_pdf_yet_says_it_is_being_prepared(world: World) -> None:
    other = "G-APP-PREP"
    enc, cid = visit(2, guarantor=other)
    await world.feed.send(enc, decision(cid, 12000, 5000, 3000))
    sid = await world.feed.val("SELECT statement_id FROM statements WHERE $1 = ANY(claim_ids)", cid)
    pdf_link = f'href="/app/accounts/{other}/statements/{sid}.pdf"'
    async with browser(world.env) as b:
        await sign_in(b, "biller@c.example")
        page = (await b.get(f"/app/accounts/{other}")).text
        row = re.search(rf"<tr><td>{sid}</td>.*?</tr>", page, re.S)
        assert row, page[:500]
        assert "PDF being prepared" in row.group(0)
        assert pdf_link not in page
        assert (await b.get(f"/app/accounts/{other}/statements/{sid}.pdf")).status_code == 404

        idle = time.monotonic() + CFG.pdf_idle_s  # the burst is over: the timer renders it
        assert await pdfs.render_missing(world.svc, cfg=CFG, clock=lambda: idle) == 1
        page = (await b.get(f"/app/accounts/{other}")).text
        assert pdf_link in page
        assert "PDF being prepared" not in page
