"""Statements delivered on the real PostgreSQL and a real SMTP server on loopback: an
email with a link for a guarantor who chose paperless statements, a print batch (PDFs and
a manifest) for everyone else, each statement once, and paper when email keeps failing."""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest

from runtime import signed_links
from runtime.service import Service
from runtime.settings import Settings
from services.statements import app, delivery
from services.statements.config import StatementSettings
from tests.integration.gateway_env import gateway_env
from tests.integration.statements_world import Feed, decision, visit
from tests.mailcatcher import Catcher, mail_catcher
from tests.throwaway import throwaway_service

pytestmark = pytest.mark.integration


@pytest.fixture
def catcher() -> Iterator[tuple[Catcher, int]]:
    with mail_catcher() as c:
        yield c


@pytest.fixture
def cfg(tmp_path: Path, catcher: tuple[Catcher, int]) -> StatementSettings:
    return StatementSettings(
        self_pay_discount_percent=Decimal("20"),
        hold_for_secondary=False,
        smtp_host="127.0.0.1",
        smtp_port=catcher[1],
        smtp_starttls=False,
        mail_from="billing@maple.example",
        portal_url="https://portal.maple.example/statements/view/",
        print_dir=tmp_path / "print",
        email_attempts=2,
    )


@pytest.fixture
async def svc(live_stack: Settings, cfg: StatementSettings) -> AsyncIterator[Service]:
    wire = partial(app.register, cfg=cfg)
    async with throwaway_service("statements", app.MIGRATIONS, wire, live_stack) as svc:
        yield svc


async def bill(f: Feed, n: int, guarantor: str, **who: object) -> str:
    """A visit whose payer leaves the guarantor $30.00: a statement is issued."""
    enc, cid = visit(n, guarantor, who)
    await f.send(enc, decision(cid, 12000, 5000, 3000))
    rows = await f.fetch("SELECT statement_id FROM statements WHERE $1 = ANY(claim_ids)", cid)
    assert len(rows) == 1
    return str(rows[0]["statement_id"])


async def status(f: Feed, statement_id: str) -> tuple[str, str, str | None]:
    r = (
        await f.fetch(
            "SELECT channel, status, detail FROM deliveries WHERE statement_id = $1",
            statement_id,
        )
    )[0]
    return r["channel"], r["status"], r["detail"]


async def test_a_paperless_guarantor_gets_one_email_with_a_link_and_no_balance(
    svc: Service, cfg: StatementSettings, catcher: tuple[Catcher, int]
) -> None:
    f = Feed(svc)
    sid = await bill(f, 1, "G-MAIL", email="pat@example.org", paperless=True)
    assert await delivery.deliver(svc, cfg=cfg) == 1
    assert await delivery.deliver(svc, cfg=cfg) == 0  # delivered once
    mails = catcher[0].messages
    assert len(mails) == 1
    mail = mails[0]
    assert mail["To"] == "pat@example.org"
    assert mail["Subject"].startswith("A new statement from ")
    body = mail.get_content()
    assert "$" not in body  # no balance in an email
    assert "99213" not in body
    assert "Office visit" not in body
    url = next(w for w in body.split() if w.startswith(cfg.portal_url))
    token = url.removeprefix(cfg.portal_url)
    key = svc.settings.statement_link_key.get_secret_value().encode()
    assert (
        signed_links.read(key, delivery.LINK_PURPOSE, token, dt.datetime.now(dt.UTC).date()) == sid
    )
    assert await status(f, sid) == ("email", "sent", None)
    html = await f.val("SELECT html FROM statement_delivery_v1 WHERE statement_id = $1", sid)
    assert "$30.00" in html


async def test_everyone_else_is_in_one_print_batch_with_a_manifest(
    svc: Service, cfg: StatementSettings, catcher: tuple[Catcher, int]
) -> None:
    f = Feed(svc)
    paper = await bill(f, 2, "G-PAPER")
    no_consent = await bill(f, 3, "G-NOCONSENT", email="lee@example.org")
    assert await delivery.deliver(svc, cfg=cfg) == 2
    assert await delivery.deliver(svc, cfg=cfg) == 0
    assert catcher[0].messages == []  # an address alone is no consent
    [batch] = list((cfg.print_dir / "it-clinic").iterdir())
    rows = list(csv.DictReader((batch / "manifest.csv").open()))
    assert sorted(r["statement_id"] for r in rows) == sorted([paper, no_consent])
    for r in rows:
        assert (batch / r["pdf"]).read_bytes().startswith(b"%PDF")
        assert r["amount_due"] == "30.00"
        assert (r["recipient"], r["address_line1"]) == ("Alex Rivera", "100 MAIN ST")
    assert await status(f, paper) == ("print", "sent", None)


async def test_a_mailbox_that_keeps_refusing_gets_paper_instead(
    svc: Service, cfg: StatementSettings, catcher: tuple[Catcher, int]
) -> None:
    f = Feed(svc)
    catcher[0].refuse.add("gone@example.org")
    sid = await bill(f, 4, "G-GONE", email="gone@example.org", paperless=True)
    assert await delivery.deliver(svc, cfg=cfg) == 0
    assert await status(f, sid) == ("email", "queued", "SMTP 550")
    await f.val("UPDATE deliveries SET next_try_at = now() WHERE statement_id = $1", sid)
    assert await delivery.deliver(svc, cfg=cfg) == 1  # the last attempt failed: on paper
    assert await status(f, sid) == ("print", "sent", "email failed (SMTP 550), printed instead")
    assert catcher[0].messages == []


async def test_a_batch_named_before_a_crash_is_written_once(
    svc: Service, cfg: StatementSettings
) -> None:
    f = Feed(svc)
    sid = await bill(f, 5, "G-CRASH")
    # the crash: the batch was named and committed, its folder never written
    name = delivery.batch_name("it-clinic", [sid], dt.datetime.now(dt.UTC).date())
    await f.val(
        "UPDATE deliveries SET channel = 'print', status = 'batched', batch = $2"
        " WHERE statement_id = $1",
        sid,
        name,
    )
    assert await delivery.deliver(svc, cfg=cfg) == 1
    assert [p.name for p in (cfg.print_dir / "it-clinic").iterdir()] == [name]
    assert await status(f, sid) == ("print", "sent", None)


# --- the page the email links to (the gateway) ------------------------------------------


async def test_the_emailed_link_shows_the_statement_to_who_knows_the_name_and_zip(
    live_stack: Settings, svc: Service, cfg: StatementSettings, catcher: tuple[Catcher, int]
) -> None:
    f = Feed(svc)
    sid = await bill(f, 6, "G-LINK", email="pat@example.org", paperless=True)
    await delivery.deliver(svc, cfg=cfg)
    body = catcher[0].messages[0].get_content()
    path = next(w for w in body.split() if w.startswith(cfg.portal_url)).removeprefix(
        "https://portal.maple.example"
    )
    uid = uuid.uuid4().hex[:8]
    async with gateway_env(live_stack, uid, statements_schema=svc.schema) as env:
        form = await env.client.get(path)
        assert form.status_code == 200
        assert "ZIP code" in form.text
        assert "$30.00" not in form.text  # nothing before the person says who they are
        wrong = await env.client.post(path, data={"last_name": "Smith", "postal_code": "62701"})
        assert wrong.status_code == 403
        assert "$30.00" not in wrong.text
        right = await env.client.post(
            path, data={"last_name": "rivera ", "postal_code": "62701-0001"}
        )
        assert right.status_code == 200
        assert sid in right.text
        assert "$30.00" in right.text
        assert right.headers["cache-control"] == "no-store"
        forged = await env.client.get(path[:-3] + "AAA")
        assert forged.status_code == 404
        audit = await env.gateway.fetch(
            "SELECT actor, resource, outcome, patient_ids, claim_ids FROM audit_log ORDER BY seq"
        )
        mine = [a for a in audit if a["actor"] == "statement-link"]
        assert [(a["resource"], a["outcome"]) for a in mine] == [(sid, "denied"), (sid, "ok")]
        assert mine[1]["patient_ids"] == ["G-LINK"]  # whose statement was shown
        assert len(mine[1]["claim_ids"]) == 1


async def test_guessing_the_name_and_zip_is_stopped(
    live_stack: Settings, svc: Service, cfg: StatementSettings, catcher: tuple[Catcher, int]
) -> None:
    f = Feed(svc)
    await bill(f, 7, "G-GUESS", email="pat@example.org", paperless=True)
    await delivery.deliver(svc, cfg=cfg)
    body = catcher[0].messages[0].get_content()
    path = next(w for w in body.split() if w.startswith(cfg.portal_url)).removeprefix(
        "https://portal.maple.example"
    )
    uid = uuid.uuid4().hex[:8]
    async with gateway_env(live_stack, uid, statements_schema=svc.schema, auth_fail_burst=3) as env:
        codes = [
            (
                await env.client.post(path, data={"last_name": f"X{n}", "postal_code": "1"})
            ).status_code
            for n in range(5)
        ]
        assert codes == [403, 403, 403, 429, 429]
        # the right answer is refused too while the limit lasts
        right = await env.client.post(path, data={"last_name": "Rivera", "postal_code": "62701"})
        assert right.status_code == 429
