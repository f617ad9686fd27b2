"""A billing office's commands on patient accounts (issue 29 parts 4 and 6), sent to the
statements service as ``ledger.command``, and the tenant's credit-balance report.

- POST /v1/ledger/commands: a write-off, a transfer between payer and patient
  responsibility, a refund of the account's credit, credit applied to open balances by the
  patient's choice, or an approval (rejection) of a request above its requester's limit.
  Idempotent by command_id. Who did it is the API key; its role (the limit it posts up to
  alone, ``RCM_STATEMENTS_APPROVAL_LIMITS_CENTS``) is ``admin`` for an admin key, else
  ``work``. What became of it: ``GET /v1/ledger/requests``.
- GET /v1/ledger/credit-balances: the accounts holding the patient's money.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from schemas.common import Cents
from schemas.events_ledger import REASON, LedgerAction, LedgerCommand, TransferDirection
from services.gateway import ledger_send
from services.gateway.core import AuditEntry, Gateway
from services.gateway.denials import known_claim
from services.gateway.deps import Config, Gw, ReadKey, WorkKey, idempotent
from services.gateway.errors import ERRORS, Json, problem
from services.gateway.keys import Scope

router = APIRouter()

ID = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")


class LedgerCommandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command_id: Annotated[str, ID]
    guarantor_id: Annotated[str, ID]
    action: Literal["write_off", "transfer", "refund", "apply_credit", "approve", "reject"]
    claim_id: Annotated[str | None, ID] = None
    amount_cents: Cents = 0
    reason: str = Field(default="ADMIN", pattern=REASON)
    direction: TransferDirection | None = None
    request_id: Annotated[str | None, ID] = None
    note: str = Field(default="", max_length=300)


class LedgerCommandAccepted(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command_id: str
    status: Literal["accepted"]


class CreditBalance(BaseModel):
    guarantor_id: str
    credit_cents: int
    since: str


class CreditBalances(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accounts: list[CreditBalance]
    total_credit_cents: int


class LedgerRequest(BaseModel):
    request_id: str
    guarantor_id: str
    claim_id: str | None
    action: str
    direction: str | None
    amount_cents: int
    reason: str
    requested_by: str
    role: str
    requested_at: str
    status: str
    decided_by: str | None
    decided_at: str | None
    detail: str | None


class LedgerRequests(BaseModel):
    model_config = ConfigDict(extra="forbid")
    requests: list[LedgerRequest]


@router.post(
    "/v1/ledger/commands",
    status_code=202,
    response_model=LedgerCommandAccepted,
    responses={**ERRORS, **problem(404, "Unknown claim")},
    summary="Write off, transfer, refund, apply credit, or approve (idempotent by command_id)",
)
async def post_command(
    request: Request, body: LedgerCommandIn, gw: Gw, g: Config, p: WorkKey
) -> JSONResponse:
    await known_claim(gw, request, p, g.claims_schema, body.claim_id)
    cmd = LedgerCommand(
        **body.model_dump(exclude={"action"}),
        action=LedgerAction(body.action),
        requested_by=p.key_id,
        role="admin" if Scope.admin in p.scopes else "work",
        at=dt.datetime.now(dt.UTC),
    )

    async def run(extra: Any) -> dict[str, Any]:
        answer = {"command_id": cmd.command_id, "status": "accepted"}
        await ledger_send.send(gw, p.tenant, p.key_id, cmd, extra(answer))
        return answer

    return await idempotent(
        gw, request, p, f"ledger:{cmd.command_id}", "ledger", run, tenant_wide=True
    )


async def _rows(gw: Gateway, view: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    """The view's rows; none when the statements service has not made it yet (a gateway
    deployed before statements ever migrated)."""

    async def run() -> list[dict[str, Any]]:
        assert gw.pool is not None
        async with gw.pool.acquire() as conn:
            if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", view):
                return []
            return [dict(r) for r in await conn.fetch(sql.format(view=view), *args)]

    rows: list[dict[str, Any]] = await gw.guarded(run)
    return rows


@router.get(
    "/v1/ledger/credit-balances",
    response_model=CreditBalances,
    responses={**ERRORS},
    summary="Accounts holding the patient's money (credit balances), largest first",
)
async def credit_balances(
    gw: Gw, g: Config, p: ReadKey, limit: Annotated[int, Query(ge=1, le=5000)] = 500
) -> JSONResponse:
    rows = await _rows(
        gw,
        f"{g.statements_schema}.credit_balance_v1",
        "SELECT guarantor_id, credit_cents, since FROM {view}"
        " WHERE tenant = $1 ORDER BY credit_cents DESC, guarantor_id LIMIT $2",
        p.tenant,
        limit,
    )
    await gw.audit(
        AuditEntry(
            p.tenant,
            p.key_id,
            "ledger.credit_balances",
            "credit_balance_v1",
            patient_ids=tuple(r["guarantor_id"] for r in rows),
        )
    )
    total = sum(r["credit_cents"] for r in rows)
    items = [{**r, "since": r["since"].isoformat()} for r in rows]
    return Json({"accounts": items, "total_credit_cents": total})


@router.get(
    "/v1/ledger/requests",
    response_model=LedgerRequests,
    responses={**ERRORS},
    summary="Commands on patient accounts and what became of them (pending: waits approval)",
)
async def requests(
    gw: Gw,
    g: Config,
    p: ReadKey,
    status: Literal["pending", "posted", "rejected", "refused"] | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> JSONResponse:
    rows = await _rows(
        gw,
        f"{g.statements_schema}.ledger_request_v1",
        "SELECT request_id, guarantor_id, claim_id, action, direction, amount_cents, reason,"
        " requested_by, role, requested_at, status, decided_by, decided_at, detail"
        " FROM {view} WHERE tenant = $1"
        " AND ($2::text IS NULL OR status = $2) ORDER BY requested_at DESC LIMIT $3",
        p.tenant,
        status,
        limit,
    )
    await gw.audit(
        AuditEntry(
            p.tenant,
            p.key_id,
            "ledger.requests",
            "ledger_request_v1",
            patient_ids=tuple(dict.fromkeys(r["guarantor_id"] for r in rows)),
        )
    )
    for r in rows:
        for k in ("requested_at", "decided_at"):
            r[k] = r[k].isoformat() if r[k] else None
    return Json({"requests": rows})
