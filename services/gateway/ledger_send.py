"""One path for a command on a patient account, whoever sends it: the JSON API
(``POST /v1/ledger/commands``, an API key) and the billing office's account page (a
person). The command goes to Kafka (``ledger.command``, idempotent by command id at the
statements service) and the audit row names who asked."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.events_ledger import LedgerCommand
from services.gateway.core import AuditEntry, Gateway, _Write, event_id
from services.gateway.outgoing import send_audited
from services.gateway.users import Role

#: A person's role -> the role statements' approval limits know
#: (``RCM_STATEMENTS_APPROVAL_LIMITS_CENTS``: ``work`` and ``admin`` by default).
LIMIT_ROLE = {Role.manager: "admin", Role.admin: "admin"}


def limit_role(role: Role) -> str:
    return LIMIT_ROLE.get(role, "work")


async def send(
    gw: Gateway, tenant: str, actor: str, cmd: LedgerCommand, extra: Sequence[_Write] = ()
) -> None:
    entry = AuditEntry(
        tenant,
        actor,
        f"ledger.{cmd.action.value}",
        cmd.command_id,
        cmd.guarantor_id,
        detail=f"{cmd.amount_cents} cents, reason {cmd.reason}",
        claim_ids=(cmd.claim_id,) if cmd.claim_id else (),
    )
    await send_audited(
        gw,
        cmd,
        entry,
        correlation_id=cmd.claim_id or cmd.guarantor_id,
        ce_id=event_id(tenant, "ledger", cmd.command_id, b""),
        extra=extra,
    )
