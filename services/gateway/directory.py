"""The provider directory's SQL (the gateway's own ``providers`` table), per tenant.

Written by FHIR provider bundles (services/gateway/fhir_providers.py says what an entry
is), read to complete encounters that name their providers by reference only, and listed
by GET /v1/providers. No patient data, so no audit rows.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from services.gateway.core import Gateway, Unavailable, _Write
from services.gateway.fhir_providers import Directory, ProviderEntry

UPSERT_SQL = (
    "INSERT INTO providers(tenant, provider_key, kind, fhir_type, fhir_id, npi, name,"
    " first_name, taxonomy, tax_id, address, lookup_keys)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::text[])"
    " ON CONFLICT (tenant, provider_key) DO UPDATE SET kind = EXCLUDED.kind,"
    " fhir_type = EXCLUDED.fhir_type,"
    " fhir_id = coalesce(nullif(EXCLUDED.fhir_id, ''), providers.fhir_id),"
    " npi = coalesce(EXCLUDED.npi, providers.npi),"
    " name = coalesce(nullif(EXCLUDED.name, ''), providers.name),"
    " first_name = coalesce(EXCLUDED.first_name, providers.first_name),"
    " taxonomy = coalesce(EXCLUDED.taxonomy, providers.taxonomy),"
    " tax_id = coalesce(EXCLUDED.tax_id, providers.tax_id),"
    " address = coalesce(EXCLUDED.address, providers.address),"
    " lookup_keys = ARRAY(SELECT DISTINCT k FROM unnest(providers.lookup_keys"
    " || EXCLUDED.lookup_keys) AS k ORDER BY k), updated_at = now()"
)
COLUMNS = "kind, fhir_type, fhir_id, npi, name, first_name, taxonomy, tax_id, address, lookup_keys"


def upsert(tenant: str, e: ProviderEntry) -> _Write:
    return _Write(
        UPSERT_SQL,
        (
            tenant,
            e.key,
            e.kind,
            e.fhir_type,
            e.fhir_id,
            e.npi or None,
            e.name,
            e.first_name,
            e.taxonomy,
            e.tax_id,
            orjson.dumps(e.address).decode() if e.address is not None else None,
            list(e.keys),
        ),
    )


def _entry(row: asyncpg.Record) -> ProviderEntry:
    addr = row["address"]
    return ProviderEntry(
        kind=row["kind"],
        fhir_type=row["fhir_type"],
        fhir_id=row["fhir_id"],
        npi=row["npi"] or "",
        name=row["name"],
        first_name=row["first_name"],
        taxonomy=row["taxonomy"],
        tax_id=row["tax_id"],
        address=orjson.loads(addr) if isinstance(addr, str) else addr,
        keys=tuple(row["lookup_keys"]),
    )


async def lookup(gw: Gateway, tenant: str, keys: list[str]) -> Directory:
    """The tenant's entries any of ``keys`` finds (one query)."""
    if not keys:
        return Directory()
    assert gw.pool is not None
    try:
        rows = await gw.pool.fetch(
            f"SELECT {COLUMNS} FROM providers WHERE tenant = $1 AND lookup_keys && $2::text[]",
            tenant,
            keys,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise Unavailable("the database is unavailable") from exc
    return Directory(_entry(r) for r in rows)


async def listing(
    conn: asyncpg.Connection, tenant: str, kind: str | None, npi: str | None, limit: int
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {COLUMNS}, updated_at FROM providers WHERE tenant = $1"
        " AND ($2::text IS NULL OR kind = $2) AND ($3::text IS NULL OR npi = $3)"
        " ORDER BY kind, name, provider_key LIMIT $4",
        tenant,
        kind,
        npi,
        limit,
    )
    out = []
    for r in rows:
        e = _entry(r)
        out.append(
            {
                "kind": e.kind,
                "npi": e.npi or None,
                "name": e.name,
                "first_name": e.first_name,
                "taxonomy": e.taxonomy,
                "tax_id": e.tax_id,
                "address": e.address,
                "fhir_type": e.fhir_type,
                "fhir_id": e.fhir_id,
                "updated_at": r["updated_at"].isoformat(),
            }
        )
    return out
