"""The front desk's benefit checks, as the gateway reads and records them: the answer is
the eligibility room's (view ``benefit_check_v1``, docs/views.md); the gateway keeps only
which tenant and person asked (``desk_checks``), so a check not answered yet shows
"asking the payer" to its tenant and 404 to any other."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.gateway.core import _Write

ASKED_SQL = (
    "INSERT INTO desk_checks(tenant, check_id, patient_id, requested_by) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (tenant, check_id) DO NOTHING"
)
COLUMNS = (
    "check_id, patient_id, payer_id, date_of_service, state, active, copay_cents,"
    " deductible_remaining_cents, coinsurance_percent, out_of_pocket_remaining_cents,"
    " problem, requested_at, answered_at"
)


def asked(tenant: str, check_id: str, patient_id: str, actor: str) -> _Write:
    return _Write(ASKED_SQL, (tenant, check_id, patient_id, actor))


async def check(
    conn: asyncpg.Connection, eligibility_schema: str, tenant: str, check_id: str
) -> dict[str, Any] | None:
    """The check as eligibility answered it; ``state`` 'asking' when this tenant sent it
    and eligibility has not taken it yet; None when this tenant never asked it."""
    view = f"{eligibility_schema}.benefit_check_v1"
    if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", view):
        row = await conn.fetchrow(
            f"SELECT {COLUMNS} FROM {view} WHERE tenant = $1 AND check_id = $2", tenant, check_id
        )
        if row is not None:
            return dict(row)
    mine = await conn.fetchrow(
        "SELECT check_id, patient_id FROM desk_checks WHERE tenant = $1 AND check_id = $2",
        tenant,
        check_id,
    )
    return {**dict(mine), "state": "asking"} if mine else None


async def payer_names(conn: asyncpg.Connection, claims_schema: str, tenant: str) -> dict[str, str]:
    """The tenant's active payers by id (the claims room's ``payer_v1``); none when the
    view is not there yet."""
    view = f"{claims_schema}.payer_v1"
    if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", view):
        return {}
    rows = await conn.fetch(
        f"SELECT payer_id, name FROM {view} WHERE tenant = $1 AND active ORDER BY payer_id"
        " LIMIT 500",
        tenant,
    )
    return {r["payer_id"]: r["name"] for r in rows}
