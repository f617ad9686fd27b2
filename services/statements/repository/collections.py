"""The statements service's SQL on collections: accounts due for placement with an
agency, marking them placed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import asyncpg

#: Accounts of a tenant flagged for collections by a statement (its final notice) at
#: least ``grace`` days ago, not yet placed, owing at least ``min``; with what an agency
#: file carries.
_DUE_SQL = (
    "WITH owed AS (SELECT guarantor_id, sum(amount_cents)::bigint AS balance FROM ledger"
    "   WHERE tenant = $1 GROUP BY guarantor_id)"
    " SELECT a.guarantor_id, a.first_name, a.last_name, a.address, a.birth_date, a.email,"
    "   o.balance, (SELECT max(statement_date) FROM statements s WHERE s.tenant = a.tenant"
    "     AND s.guarantor_id = a.guarantor_id) AS last_statement_date,"
    "   (SELECT max(received_at)::date FROM patient_payments p WHERE p.tenant = a.tenant"
    "     AND p.guarantor_id = a.guarantor_id) AS last_payment_date,"
    "   (SELECT min(date_of_service) FROM claim_charges c WHERE c.tenant = a.tenant"
    "     AND c.guarantor_id = a.guarantor_id AND c.closed_at IS NULL) AS first_service_date,"
    "   (SELECT max(date_of_service) FROM claim_charges c WHERE c.tenant = a.tenant"
    "     AND c.guarantor_id = a.guarantor_id AND c.closed_at IS NULL) AS last_service_date,"
    "   (SELECT count(*) FROM claim_charges c WHERE c.tenant = a.tenant"
    "     AND c.guarantor_id = a.guarantor_id AND c.closed_at IS NULL) AS open_claims"
    " FROM accounts a JOIN owed o USING (guarantor_id)"
    " WHERE a.tenant = $1 AND a.placed_on IS NULL AND a.collections_flagged_on IS NOT NULL"
    "   AND a.collections_flagged_on + $2::int <= $3::date AND o.balance >= $4"
    " ORDER BY a.guarantor_id"
)


async def due_for_placement(
    conn: asyncpg.Connection, tenant: str, today: dt.date, grace_days: int, min_cents: int
) -> list[asyncpg.Record]:
    return list(await conn.fetch(_DUE_SQL, tenant, grace_days, today, min_cents))


async def mark_placed(
    conn: asyncpg.Connection,
    tenant: str,
    agency: str,
    today: dt.date,
    export_id: str,
    placed: Sequence[tuple[str, int]],
) -> None:
    """(guarantor, balance) each: placed with the agency, with the claims open now (on no
    statement again)."""
    await conn.execute(
        "WITH p AS (INSERT INTO placements(tenant, guarantor_id, agency, placed_on,"
        "   balance_cents, export_id) SELECT $1, g, $2, $3, b, $4"
        "   FROM unnest($5::text[], $6::bigint[]) AS e(g, b) RETURNING guarantor_id)"
        " , a AS (UPDATE accounts SET placed_on = $3, agency = $2, next_statement_on = NULL"
        "   WHERE tenant = $1 AND guarantor_id IN (SELECT guarantor_id FROM p))"
        " UPDATE claim_charges SET placed_on = $3 WHERE tenant = $1 AND closed_at IS NULL"
        "   AND placed_on IS NULL AND guarantor_id IN (SELECT guarantor_id FROM p)",
        tenant,
        agency,
        today,
        export_id,
        [g for g, _ in placed],
        [b for _, b in placed],
    )


async def placed_with(conn: asyncpg.Connection, tenant: str, guarantor: str) -> str | None:
    """The agency an account is placed with, or None."""
    agency: str | None = await conn.fetchval(
        "SELECT agency FROM accounts WHERE tenant = $1 AND guarantor_id = $2"
        " AND placed_on IS NOT NULL",
        tenant,
        guarantor,
    )
    return agency
