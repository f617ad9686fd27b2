"""Commands on patient accounts for integration tests (issue 29 parts 4, 6 and 7)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from schemas.events_ledger import LedgerAction, LedgerCommand, TransferDirection
from tests.integration.statements_world import Feed


def command(
    action: str,
    guarantor: str,
    *,
    by: str = "k_clerk",
    role: str = "work",
    amount: int = 0,
    **kw: Any,
) -> LedgerCommand:
    if "direction" in kw:
        kw["direction"] = TransferDirection(kw["direction"])
    return LedgerCommand(
        command_id=kw.pop("command_id", f"C-{uuid.uuid4().hex[:10]}"),
        guarantor_id=guarantor,
        action=LedgerAction(action),
        amount_cents=amount,
        requested_by=by,
        role=role,
        at=dt.datetime.now(dt.UTC),
        **kw,
    )


async def request(f: Feed, request_id: str) -> dict[str, Any]:
    rows = await f.fetch(
        "SELECT status, detail, requested_by, decided_by FROM ledger_request_v1"
        " WHERE request_id = $1",
        request_id,
    )
    return dict(rows[0])


async def account_balance(f: Feed, guarantor: str) -> int:
    return int(
        await f.val(
            "SELECT coalesce(sum(amount_cents), 0)::bigint FROM ledger WHERE guarantor_id = $1",
            guarantor,
        )
    )
