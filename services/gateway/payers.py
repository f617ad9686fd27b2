"""The tenant's payer directory, as the claims service publishes it (view ``payer_v1``)."""

from __future__ import annotations

from typing import Any

import asyncpg

COLUMNS = (
    "payer_id, name, filing_indicator, clp06_kind, route_account, route_transport,"
    " realtime_270, realtime_276, timely_filing_days, days_to_pay, enroll_claims,"
    " enroll_era, enroll_eft, active, updated_at"
)


async def listing(
    conn: asyncpg.Connection, claims_schema: str, tenant: str, active: bool | None, limit: int
) -> list[dict[str, Any]]:
    """The tenant's payers by id; empty when the claims service's view is not there yet
    (a gateway deployed before claims ever migrated)."""
    view = f"{claims_schema}.payer_v1"
    if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", view):
        return []
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM {view} WHERE tenant = $1 AND ($2::boolean IS NULL OR active = $2)"
        " ORDER BY payer_id LIMIT $3",
        tenant,
        active,
        limit,
    )
    return [{**dict(r), "updated_at": r["updated_at"].isoformat()} for r in rows]
