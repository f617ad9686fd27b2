"""Periodic work: CLPs waiting in the unmatched queue are tried again."""

from __future__ import annotations

import asyncpg

from runtime.service import Service
from schemas.events import ClaimSubmitted
from services.remittance import handlers, repository
from services.remittance.domain.matching import LOOK_ALIKE_AFTER_S


async def rematch(svc: Service) -> int:
    """Every few seconds, posts the queued CLPs that may match now:
    - a CLP whose claim became known by CLP01 (the race: an 835 read while the
      claim.submitted naming its claim was being applied in a concurrent transaction);
    - once remittance has applied every claim.submitted the topic held when a CLP's 835
      was read, and the CLP has waited ``LOOK_ALIKE_AFTER_S``, it is tried once by
      patient, date and charge: its own claim is indexed by then if it ever will be
      (runtime/positions.py; the wait covers a claims service that had not published
      it yet when the payer answered)."""
    assert svc.pool is not None
    done = 0
    async with svc.pool.acquire() as conn, conn.transaction():
        rows = await repository.waiting_to_rematch(conn, ClaimSubmitted.TOPIC, LOOK_ALIKE_AFTER_S)
        by_tenant: dict[str, list[asyncpg.Record]] = {}
        for row in rows:
            by_tenant.setdefault(row["tenant"], []).append(row)
        for tenant, waiting in by_tenant.items():
            ctx = svc.context(conn, tenant=tenant, correlation_id=f"rematch:{waiting[0]['id']}")
            done += await handlers.retry_unmatched(ctx, waiting)
    return done
