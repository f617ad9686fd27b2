"""A work queue of 10,000 held claims: how long its first page takes to render (issue 28).

    .venv/bin/python scripts/bench_queue.py [--claims 10000] [--requests 200]

In schemas of its own on the local PostgreSQL (dropped afterwards): the claims
migrations, ``--claims`` HELD claims of one tenant each with its hold event, a biller made
as `rcm users create` makes one; then the real gateway app, in this process (httpx's ASGI
transport: no socket), signed in, asks for /app/queues/holds (oldest first) and the same
sorted by amount, ``--requests`` times each after a warm-up, and prints p50, p95 and max in
milliseconds: the whole request, session check, queries, audit row and template included.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "bench password 1"  # noqa: S105 - a throw-away user in a dropped schema
REASON = {"code": "DX-INVALID", "message": "J02.9 is not billable", "fix": "code J03.90"}


async def seed(pool: object, claims: int) -> None:
    rows = [(f"CB{n:08d}", "bench", "HELD", "PPO01", 1000 + n % 5000) for n in range(claims)]
    async with pool.acquire() as conn:  # type: ignore[attr-defined]
        await conn.executemany(
            "INSERT INTO claims(claim_id, tenant, state, payer_id, total_charge_cents,"
            " date_of_service, state_since) VALUES ($1, $2, $3, $4, $5, current_date,"
            " now() - random() * interval '30 days')",
            rows,
        )
        detail = orjson.dumps({"reasons": [REASON]}).decode()
        await conn.executemany(
            "INSERT INTO claim_events(claim_id, event_type, kind, to_state, detail)"
            " VALUES ($1, 'rcm.claim.held.v1', 'transition', 'HELD', $2::jsonb)",
            [(r[0], detail) for r in rows],
        )
        await conn.execute("ANALYZE claims; ANALYZE claim_events")


async def timed(client: httpx.AsyncClient, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = await client.get(url)
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, r.status_code
        assert r.text.count('class="item"') == 50, "a full first page"
    return out


async def main(claims: int, requests: int) -> None:
    from rcm.cli_users import create_user
    from runtime.db import create_pool, migrate
    from runtime.settings import settings
    from services.gateway.app import create_app
    from services.gateway.config import GatewaySettings

    uid = uuid.uuid4().hex[:8]
    s = settings()
    g = GatewaySettings(schema_name=f"bq_gw_{uid}", claims_schema=f"bq_c_{uid}")
    pool = await create_pool(s, g.claims_schema, max_size=2)
    try:
        await migrate(pool, g.claims_schema, ROOT / "services" / "claims" / "migrations")
        await seed(pool, claims)
        app = create_app(s, g)
        async with app.router.lifespan_context(app):
            await create_user(
                "bench", "bench@example.com", "biller", PASSWORD, schema=g.schema_name
            )
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
                form = await c.get("/login")
                csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
                data = {"email": "bench@example.com", "password": PASSWORD, "csrf": csrf}
                assert (await c.post("/login", data=data)).status_code == 303
                for label, url in [
                    ("oldest first", "/app/queues/holds"),
                    ("largest first", "/app/queues/holds?sort=amount"),
                ]:
                    await timed(c, url, 10)
                    ms = sorted(await timed(c, url, requests))
                    p95 = ms[int(len(ms) * 0.95) - 1]
                    print(
                        f"{claims} held claims, first page {label}: p50"
                        f" {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, max {ms[-1]:.1f} ms"
                        f" ({requests} requests)"
                    )
    finally:
        await pool.execute(f"DROP SCHEMA IF EXISTS {g.claims_schema} CASCADE")
        await pool.execute(f"DROP SCHEMA IF EXISTS {g.schema_name} CASCADE")
        await pool.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--claims", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=200)
    a = ap.parse_args()
    asyncio.run(main(a.claims, a.requests))
