"""The line denials work queue: every open denied or reduced line of the tenant, read
from remittance's ``line_denial_v1`` with the claim's state from claims' ``claim_v1``
(docs/views.md). A gateway deployed without remittance has an empty queue."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.gateway.config import GatewaySettings


async def line_denials(
    conn: asyncpg.Connection,
    g: GatewaySettings,
    tenant: str,
    limit: int,
    patients: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Oldest first; each claim's patient id (never answered) goes to ``patients``."""
    r, c = g.remittance_schema, g.claims_schema
    if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{r}.line_denial_v1"):
        return []
    rows = await conn.fetch(
        "SELECT d.denial_id AS id, d.claim_id, cl.state AS claim_state, d.payer_id,"
        " nullif(d.payer_claim_number, '') AS payer_claim_number, d.adjudication_status,"
        " d.line_number, d.procedure, d.cas_group, d.reason, d.reason_text, d.remarks,"
        " d.remark_texts, d.amount_cents, d.category, d.action, d.created_at,"
        " cl.patient_id"
        f" FROM {r}.line_denial_v1 d LEFT JOIN {c}.claim_v1 cl"
        "   ON cl.tenant = d.tenant AND cl.claim_id = d.claim_id"
        " WHERE d.tenant = $1 AND d.open ORDER BY d.denial_id LIMIT $2",
        tenant,
        limit,
    )
    out = []
    for row in rows:
        item = dict(row)
        patient = item.pop("patient_id")
        if patients is not None and patient:
            patients.append(patient)
        item["created_at"] = item["created_at"].isoformat()
        out.append({"kind": "line_denial", **item})
    return out
