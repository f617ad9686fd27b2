"""The demo's mailroom: a real SMTP server on loopback (aiosmtpd) that files what the
statements service emails into a Maildir, and a folder the print-and-mail vendor would
collect batches from; and, once the day is settled, how its statements went out."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

from rcm.processes import SERVICES
from runtime.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def mailroom(s: Settings, out: Path) -> Iterator[dict[str, str]]:
    """The statements service's delivery settings for the demo, with the mail server
    running for the block: emails land in ``out/mail`` (a Maildir), print batches in
    ``out/print``, and each email's link points at the local gateway."""
    port = free_port()
    controller = Controller(Mailbox(out / "mail"), hostname="127.0.0.1", port=port)
    controller.start()
    gateway = SERVICES["gateway"] + s.http_port_offset
    try:
        yield {
            "RCM_STATEMENTS_PRINT_DIR": str((out / "print").resolve()),
            "RCM_STATEMENTS_SMTP_HOST": "127.0.0.1",
            "RCM_STATEMENTS_SMTP_PORT": str(port),
            "RCM_STATEMENTS_SMTP_STARTTLS": "false",
            "RCM_STATEMENTS_MAIL_FROM": "billing@maple-family-medicine.example",
            "RCM_STATEMENTS_PORTAL_URL": f"http://127.0.0.1:{gateway}/statements/view/",
            "RCM_STATEMENTS_DELIVERY_POLL_S": "1",
        }
    finally:
        controller.stop()


_PENDING = (
    "SELECT count(*) FROM statements.statement_delivery_v1 d"
    " JOIN statements.statement_v1 s USING (statement_id)"
    " WHERE s.claim_ids && $1::text[] AND d.status IN ('queued', 'batched')"
)
_BY_CHANNEL = (
    "SELECT d.channel, d.status, count(*) AS n, count(DISTINCT d.batch) AS batches"
    " FROM statements.statement_delivery_v1 d JOIN statements.statement_v1 s"
    " USING (statement_id) WHERE s.claim_ids && $1::text[] GROUP BY 1, 2"
)


async def wait_delivered(s: Settings, claim_ids: list[str], timeout: float) -> dict[str, int]:
    """Waits until every statement of these claims has gone out (or failed), and says
    how: statements_emailed, statements_printed, print_batches, statements_undelivered."""
    conn = await asyncpg.connect(s.database_url)
    try:
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout * 2) + 1):  # polls another process's table
            if not await conn.fetchval(_PENDING, claim_ids) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        rows = await conn.fetch(_BY_CHANNEL, claim_ids)
    finally:
        await conn.close()
    sent = {(r["channel"], r["status"]): r for r in rows}
    email, paper = sent.get(("email", "sent")), sent.get(("print", "sent"))
    return {
        "statements_emailed": int(email["n"]) if email else 0,
        "statements_printed": int(paper["n"]) if paper else 0,
        "print_batches": int(paper["batches"]) if paper else 0,
        "statements_undelivered": sum(
            int(r["n"]) for (_, status), r in sent.items() if status != "sent"
        ),
    }
