"""Statements delivered the way a practice's patients get them.

A guarantor who chose paperless statements and gave an email address gets an email with a
link to the statement (the gateway's statement page asks for the guarantor's last name
and ZIP code before it shows anything); the email itself carries no balance and no health
information. Everyone else, and an email that still fails after its last attempt, goes on
paper: each run writes one print batch per tenant, a folder with each statement's PDF and
a manifest.csv for the print-and-mail vendor, written whole or not at all.

Each statement is delivered once: its row is queued in the transaction that issues it, a
print batch is named (and committed) before its folder is written, so a crash between the
two writes the same batch again, never a second one. An email is sent under its row's
lock and marked sent in the same transaction; a crash between the SMTP server's accepting
it and the commit sends it again, with the same Message-ID (the statement's), which mail
clients show once.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import orjson

from runtime import signed_links
from runtime.service import Service
from services.statements import render
from services.statements.config import StatementSettings
from services.statements.domain import money
from services.statements.practice import zip_code
from services.statements.repository import deliveries as repo
from services.statements.repository import pdfs as pdf_repo

log = logging.getLogger("rcm.statements.delivery")

#: What a statement link is for (the gateway checks the same purpose).
LINK_PURPOSE = "statement"
MANIFEST = [
    "statement_id",
    "account",
    "recipient",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "pdf",
    "amount_due",
    "due_date",
    "return_name",
    "return_street",
    "return_city_line",
]


def doc_of(body: Any) -> dict[str, Any]:
    return dict(orjson.loads(body) if isinstance(body, str | bytes) else body)


def channel(email: str | None, paperless: bool, cfg: StatementSettings) -> str:
    """email only with the person's consent, an address and a mail server."""
    return "email" if paperless and email and cfg.smtp_host else "print"


def link(doc: Mapping[str, Any], key: bytes, cfg: StatementSettings, today: dt.date) -> str:
    token = signed_links.make(
        key, LINK_PURPOSE, str(doc["statement_id"]), today + dt.timedelta(days=cfg.link_days)
    )
    return cfg.portal_url + token


def email_message(
    doc: Mapping[str, Any], to: str, url: str, cfg: StatementSettings
) -> EmailMessage:
    """The email: who it is from and where to look, nothing more (no balance, no visit)."""
    practice = doc["practice"]["name"]
    msg = EmailMessage()
    msg["From"] = cfg.mail_from
    msg["To"] = to
    msg["Subject"] = f"A new statement from {practice}"
    domain = cfg.mail_from.rpartition("@")[2] or "localhost"
    msg["Message-ID"] = f"<{doc['statement_id']}@{domain}>"
    phone = doc["practice"].get("phone")
    msg.set_content(
        f"Hello,\n\nA new statement from {practice} is ready for you.\n\n"
        f"View and pay it here: {url}\n\n"
        "The page asks for the account holder's last name and ZIP code. The link works "
        f"for {cfg.link_days} days. For your privacy this email does not show your balance "
        "or any details of your care.\n\n"
        + (f"Questions? Call {phone}.\n" if phone else "")
        + f"\n{practice}\n"
    )
    return msg


def batch_name(tenant: str, statement_ids: Sequence[str], today: dt.date) -> str:
    """The same statements on the same day make the same name, so a batch written again
    after a crash replaces itself."""
    digest = hashlib.sha256("\x1f".join([tenant, *sorted(statement_ids)]).encode()).hexdigest()
    return f"{today:%Y%m%d}-{digest[:12]}"


def manifest_row(doc: Mapping[str, Any], pdf: str) -> dict[str, str]:
    g, p = doc["guarantor"], doc["practice"]
    a = g.get("address") or {}
    return {
        "statement_id": str(doc["statement_id"]),
        "account": str(g["account"]),
        "recipient": str(g["name"]),
        "address_line1": str(a.get("line1", "")),
        "address_line2": str(a.get("line2") or ""),
        "city": str(a.get("city", "")),
        "state": str(a.get("state", "")),
        "postal_code": zip_code(a.get("postal_code")),
        "pdf": pdf,
        "amount_due": money(doc["amount_due_cents"]).lstrip("$").replace(",", ""),
        "due_date": str(doc["due_date"]),
        "return_name": str(p["name"]),
        "return_street": str(p.get("street") or ""),
        "return_city_line": str(p.get("city_line") or ""),
    }


def write_batch(
    root: Path,
    tenant: str,
    name: str,
    docs: Sequence[Mapping[str, Any]],
    pdfs: Mapping[str, bytes] | None = None,
) -> Path:
    """``root/<tenant>/<name>/``: each statement's PDF (the one in ``pdfs`` by statement
    id, else rendered now) and manifest.csv, made in a hidden folder and renamed into
    place, so the vendor never collects half a batch."""
    final = root / tenant / name
    if final.exists():
        return final  # written before a crash kept its rows from being marked sent
    tmp = root / tenant / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    rows = []
    for doc in docs:
        sid = str(doc["statement_id"])
        pdf = f"{sid}.pdf"
        stored = (pdfs or {}).get(sid)
        (tmp / pdf).write_bytes(stored if stored is not None else render.to_pdf(doc))
        rows.append(manifest_row(doc, pdf))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=MANIFEST, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    (tmp / "manifest.csv").write_text(out.getvalue(), encoding="utf-8")
    os.replace(tmp, final)
    return final


async def deliver(svc: Service, today: dt.date | None = None, *, cfg: StatementSettings) -> int:
    """One run: emails for the due paperless statements, one print batch per tenant for
    the rest, and any batch named before a crash written now. Returns how many went out."""
    assert svc.pool is not None
    assert cfg.print_dir is not None, "delivery runs once RCM_STATEMENTS_PRINT_DIR is set"
    print_dir = cfg.print_dir
    today = today or dt.datetime.now(dt.UTC).date()
    key = svc.settings.statement_link_key.get_secret_value().encode()
    async with svc.pool.acquire() as conn, conn.transaction():
        rows = await repo.due(conn, cfg.delivery_batch)
        paper: dict[str, list[Any]] = {}
        sent = 0
        for r in rows:
            if channel(r["email"], r["paperless"], cfg) == "email":
                ok = await _email(conn, r, key, cfg, today)
                sent += ok
                if ok or r["attempts"] + 1 < cfg.email_attempts:
                    continue
            paper.setdefault(r["tenant"], []).append(r)
        for tenant, items in paper.items():
            ids = [r["statement_id"] for r in items]
            await repo.batch(conn, ids, batch_name(tenant, ids, today))
    async with svc.pool.acquire() as conn, conn.transaction():
        for (tenant, name), items in (await repo.batched(conn)).items():
            docs = [doc_of(i["body"]) for i in items]
            write_batch(print_dir, tenant, name, docs, await _stored_pdfs(conn, tenant, items))
            await repo.printed(conn, name)
            sent += len(items)
            log.info("print batch written", extra={"batch": name, "statements": len(items)})
    return sent


async def _stored_pdfs(
    conn: Any, tenant: str, items: Sequence[Mapping[str, Any]]
) -> dict[str, bytes]:
    """Each statement's PDF as the timer kept it (pdfs.py); one it has not rendered yet
    is rendered here and kept, so every statement is rendered once."""
    out = await pdf_repo.stored(conn, [i["statement_id"] for i in items])
    fresh = [
        (i["statement_id"], tenant, render.to_pdf(doc_of(i["body"])))
        for i in items
        if i["statement_id"] not in out
    ]
    if fresh:
        await pdf_repo.keep(conn, fresh)
        out.update((sid, pdf) for sid, _t, pdf in fresh)
    return out


def smtp_reason(exc: Exception) -> str:
    """The reply code, or the error's class: an SMTP reply's text may quote the address."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"SMTP {exc.code}"
    return type(exc).__name__


async def _email(
    conn: Any, r: Mapping[str, Any], key: bytes, cfg: StatementSettings, today: dt.date
) -> bool:
    doc = doc_of(r["body"])
    msg = email_message(doc, r["email"], link(doc, key, cfg, today), cfg)
    try:
        await aiosmtplib.send(
            msg,
            hostname=cfg.smtp_host,
            port=cfg.smtp_port,
            start_tls=cfg.smtp_starttls,
            username=cfg.smtp_username,
            password=cfg.smtp_password.get_secret_value() if cfg.smtp_password else None,
            timeout=30,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        reason = smtp_reason(exc)
        last = r["attempts"] + 1 >= cfg.email_attempts
        await repo.email_failed(
            conn, r["statement_id"], reason, None if last else 60.0 * 2 ** r["attempts"]
        )
        log.warning("statement email failed", extra={"reason": reason, "last": last})
        return False
    await repo.emailed(conn, r["statement_id"], render.to_html(doc))
    return True
