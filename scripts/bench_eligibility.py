"""Eligibility throughput and 270->271 round trip, with the payer simulator behind its CAQH CORE endpoint (TLS on loopback).

    .venv/bin/python scripts/bench_eligibility.py [--encounters 2000] [--calls 1000]

Uses the local stack's PostgreSQL in throwaway schemas (dropped at the end) and no
Kafka consumer: the simulator's CORE endpoint is served in-process by aiohttp on
127.0.0.1 over TLS (the local stack's certificates), its roster fed through its real encounter.created handler; the eligibility
handler gets the day in batches of 500 (as the Kafka agent hands them over) while the
verification timer runs, exactly as in the service. Prints:

- encounters/s through eligibility: first encounter in -> last decision in the outbox;
- the 270->271 round trip (client side, CORE over HTTPS + simulator + its PostgreSQL reads) seen
  by those checks under load, and one call at a time (p50, p99, max).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rcm.workload import generate_day
from runtime.core_client import CoreClient, CoreSettings
from runtime.service import Record, Service
from runtime.settings import Settings, settings
from schemas.codec import encode, new_meta
from schemas.events import EncounterCreated
from services.eligibility import handlers
from services.eligibility.client import CoreTransport
from services.eligibility.config import EligibilitySettings
from services.eligibility.timers import Verifier
from services.simulator import core_web
from services.simulator import eligibility as payer

ROOT = Path(__file__).resolve().parent.parent
TENANT = "bench-elig"


def _records(day: list[EncounterCreated]) -> list[Record]:
    out = []
    for i, enc in enumerate(day):
        x = encode(enc, new_meta(enc, source="bench", tenant=TENANT, correlation_id=str(i)))
        out.append(Record("encounter.created", 0, i, x.key, x.value, x.headers))
    return out


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _services(s: Settings, tag: str) -> tuple[Service, Service]:
    """The payer simulator (its roster fed by its real handler) and eligibility, each in
    a throwaway schema."""
    sim = Service(
        "bench-sim",
        schema=f"bench_sim_{tag}",
        migrations=ROOT / "services/simulator/migrations",
        http_port=6195,
        s=s,
    )
    sim.on(EncounterCreated, payer.on_encounter)
    elig = Service(
        "bench-elig",
        schema=f"bench_elig_{tag}",
        migrations=ROOT / "services/eligibility/migrations",
        http_port=6196,
        s=s,
    )
    return sim, elig


async def _through(elig: Service, verifier: Verifier, recs: list[Record], poll_s: float) -> float:
    """Seconds from the first encounter in to the last decision, with the verification
    timer running as in the service."""
    assert elig.pool is not None
    stop = asyncio.Event()

    async def timer() -> None:
        while not stop.is_set():
            if await verifier.verify_due(elig) == 0:
                await asyncio.sleep(poll_s)

    start = time.perf_counter()
    task = asyncio.create_task(timer())
    for i in range(0, len(recs), 500):
        await elig.process("encounter.created", recs[i : i + 500])
    pending = "SELECT count(*) FROM pending_checks WHERE state='pending'"
    while await elig.pool.fetchval(pending):  # noqa: ASYNC110 - polling the database
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - start
    stop.set()
    await task
    return elapsed


async def _one_at_a_time(elig: Service, transport: CoreTransport, calls: int) -> None:
    assert elig.pool is not None
    requests = [
        r[0] for r in await elig.pool.fetch("SELECT request_x12 FROM exchanges LIMIT $1", calls)
    ]
    single: list[float] = []
    for k in range(calls):
        text = requests[k % len(requests)]
        t0 = time.perf_counter()
        await transport(text, payer="BENCH")
        single.append((time.perf_counter() - t0) * 1000)
    print(
        f"270->271 one at a time ({calls} calls): p50 {statistics.median(single):.2f} ms"
        f"  p99 {_pct(single, 99):.2f} ms  max {max(single):.2f} ms"
    )


async def main(n: int, calls: int) -> None:
    s = settings()
    sim, elig = _services(s, uuid.uuid4().hex[:8])
    await sim.start_resources()
    await elig.start_resources()
    assert sim.pool is not None
    assert elig.pool is not None
    certs = s.stack_dir / "core"  # rcm stack up makes them
    answer = core_web.payer_answerer(lambda: sim.pool, s)
    app = core_web.core_app(core_web.core_server(s), answer)
    tls = core_web.server_tls(certs / "server.crt", certs / "server.key")
    runner = await core_web.serve_tls(app, tls, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    local = s.model_copy(update={"clearinghouse_url": f"https://127.0.0.1:{port}"})
    cfg = EligibilitySettings(reuse_s=0)
    transport = CoreTransport(CoreClient(CoreSettings(), local, "bench"))
    elig.on_many(EncounterCreated, partial(handlers.on_encounters, cfg=cfg))
    try:
        recs = _records(generate_day(n, seed=29))
        for i in range(0, n, 500):
            await sim.process("encounter.created", recs[i : i + 500])
        elapsed = await _through(elig, Verifier(cfg, s, transport), recs, cfg.poll_s)
        outcomes = dict(
            await elig.pool.fetch("SELECT outcome, count(*) FROM eligibility_checks GROUP BY 1")
        )
        loaded = [
            r[0]
            for r in await elig.pool.fetch("SELECT elapsed_ms FROM exchanges WHERE elapsed_ms > 0")
        ]
        print(f"encounters: {n}  outcomes: {outcomes}")
        print(f"throughput: {n / elapsed:.0f} encounters/s through eligibility ({elapsed:.2f} s)")
        print(
            f"270->271 under load ({len(loaded)} calls, {cfg.concurrency} in flight): "
            f"p50 {statistics.median(loaded):.1f} ms  p99 {_pct(loaded, 99):.1f} ms"
        )
        await _one_at_a_time(elig, transport, calls)
    finally:
        await transport.close()
        await runner.cleanup()
        for svc in (sim, elig):
            if svc.pool is not None:
                await svc.pool.execute(f"DROP SCHEMA {svc.schema} CASCADE")
            await svc.stop_resources()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encounters", type=int, default=2000)
    ap.add_argument("--calls", type=int, default=1000)
    args = ap.parse_args()
    asyncio.run(main(args.encounters, args.calls))
