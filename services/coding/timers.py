"""The coding service's periodic work."""

from __future__ import annotations

from runtime.service import Service
from services.coding import rulebook
from services.coding.rulebook import LoadedRules
from services.coding.tables import LoadedTables, load_tables, schema_stamp


async def reload_tables(svc: Service, *, loaded: LoadedTables) -> int:
    """Reload the edit tables when a loader changed them. Returns 0 (never busy)."""
    assert svc.pool is not None
    async with svc.pool.acquire() as conn:
        if await schema_stamp(conn) != loaded.stamp:
            await load_tables(conn, loaded, seed=False)
    return 0


async def reload_rules(svc: Service, *, loaded: LoadedRules) -> int:
    """Reload the payer rules when a load changed them. Returns 0 (never busy)."""
    assert svc.pool is not None
    async with svc.pool.acquire() as conn:
        await rulebook.reload_if_changed(conn, loaded)
    return 0
