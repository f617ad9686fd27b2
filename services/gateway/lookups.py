"""Reads the gateway makes of other services' data to check a request."""

from __future__ import annotations

import asyncpg


async def claim_exists(pool: asyncpg.Pool, claims_schema: str, tenant: str, claim_id: str) -> bool:
    """Whether the tenant has this claim (the claims service's view ``claim_v1``)."""
    found = await pool.fetchval(
        f"SELECT 1 FROM {claims_schema}.claim_v1 WHERE claim_id = $1 AND tenant = $2",
        claim_id,
        tenant,
    )
    return bool(found)
