"""Coding service: eligibility.checked, or claim.fixed (reenter coding) -> claim.coded | claim.held."""

from __future__ import annotations

import asyncio
from pathlib import Path

from runtime.service import Service
from runtime.settings import Settings
from schemas.events import EligibilityChecked
from schemas.events_workqueue import ClaimFixed
from services.coding import handlers
from services.coding.codesets import icd_index

PORT = 6102
RELOAD_SECONDS = 300.0


def build(*, schema: str = "coding", http_port: int = PORT, s: Settings | None = None) -> Service:
    """The coding service; ``schema``/``http_port`` let integration tests run it apart."""
    svc = Service(
        "coding",
        schema=schema,
        migrations=Path(__file__).parent / "migrations",
        http_port=http_port,
        s=s,
    )
    svc.on_many(EligibilityChecked, handlers.on_eligible)
    svc.on(ClaimFixed, handlers.on_fixed)

    @svc.on_startup
    async def load_code_sets() -> None:
        # Loading ICD-10-CM takes seconds: do it before consuming, off the event loop.
        await asyncio.to_thread(icd_index)
        assert svc.pool is not None
        async with svc.pool.acquire() as conn, conn.transaction():
            await handlers.load_tables(conn)

    # A loader run (`rcm code load-ncci` ...) is picked up without a restart.
    svc.every(RELOAD_SECONDS, handlers.reload_tables)
    return svc
