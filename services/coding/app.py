"""Coding service: eligibility.checked, or claim.fixed (reenter coding) -> claim.coded | claim.held."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path

from runtime.service import Service
from runtime.settings import Settings
from schemas.events import EligibilityChecked
from schemas.events_workqueue import ClaimFixed
from services.coding import handlers, preview, timers
from services.coding.codesets import icd_index
from services.coding.config import CodingSettings, load_reference_files
from services.coding.rulebook import LoadedRules, load_rules
from services.coding.tables import LoadedTables, load_tables

PORT = 6102
MIGRATIONS = Path(__file__).parent / "migrations"


def build(
    settings: Settings | None = None,
    config: CodingSettings | None = None,
    *,
    schema: str = "coding",
    http_port: int = PORT,
    tables: LoadedTables | None = None,
    rules: LoadedRules | None = None,
) -> Service:
    """The coding service. ``schema``/``http_port`` let integration tests run it apart;
    ``tables`` and ``rules`` let them see the edit tables and payer rules it loads."""
    cfg = config or CodingSettings()
    loaded = tables or LoadedTables()
    payer_rules = rules or LoadedRules()
    load_reference_files(cfg)  # fails fast on a malformed file
    svc = Service("coding", schema=schema, migrations=MIGRATIONS, http_port=http_port, s=settings)
    svc.on_many(EligibilityChecked, partial(handlers.on_eligible, tables=loaded, rules=payer_rules))
    svc.on(ClaimFixed, partial(handlers.on_fixed, tables=loaded, rules=payer_rules))

    @svc.on_startup
    async def load_code_sets() -> None:
        # Loading ICD-10-CM takes seconds: do it before consuming, off the event loop.
        await asyncio.to_thread(icd_index)
        assert svc.pool is not None
        async with svc.pool.acquire() as conn, conn.transaction():
            await load_tables(conn, loaded)
            await load_rules(conn, payer_rules)

    # What the scrubber would say about a fix before it is sent (the claim page's preview).
    svc.app.page(preview.PATH)(
        preview.faust_view(lambda: svc.pool, svc.settings, loaded, payer_rules)
    )
    # A loader run (`rcm code load-ncci` ...) is picked up without a restart.
    svc.every(cfg.reload_s, partial(timers.reload_tables, loaded=loaded))
    # ... and a `rcm code load-payer-rules` the same way.
    svc.every(cfg.reload_s, partial(timers.reload_rules, loaded=payer_rules))
    return svc
