"""A real service in a schema of its own on the live stack, for integration tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from runtime.service import Service
from runtime.settings import Settings


@asynccontextmanager
async def throwaway_service(
    name: str,
    migrations: Path,
    wire: Callable[[Service], object],
    s: Settings,
    *,
    http_port: int = 6198,
) -> AsyncIterator[Service]:
    """Builds the service, registers its handlers with ``wire``, runs its migrations in a
    fresh ``it_*`` schema, and drops that schema afterwards."""
    svc = Service(
        name, schema=f"it_{uuid.uuid4().hex[:8]}", migrations=migrations, http_port=http_port, s=s
    )
    wire(svc)
    await svc.start_resources()
    try:
        yield svc
    finally:
        assert svc.pool is not None
        await svc.pool.execute(f"DROP SCHEMA {svc.schema} CASCADE")
        await svc.stop_resources()


@asynccontextmanager
async def running_timers(svc: Service) -> AsyncIterator[None]:
    """Runs the service's timers (Service.every) for the block, and stops them after."""
    tasks = [asyncio.create_task(t) for t in svc.timers()]
    try:
        yield
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
