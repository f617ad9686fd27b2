"""Encounters accepted per second by one gateway process.

    .venv/bin/python scripts/bench_gateway.py [--seconds 20] [--connections 64] [--loaders 1]

Starts one gateway process (uvicorn, the real app) on the local PostgreSQL and Kafka,
in a schema and topics of its own (bench-gw-<id>.*, deleted afterwards, so no service
sees them), then drives POST /v1/encounters over keep-alive HTTP/1.1 connections from
separate load processes, every request a new encounter with an Idempotency-Key. Counts
202s (each one acknowledged by Kafka with acks=all and group-committed to PostgreSQL).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def serve(uid: str, port: int) -> None:
    import uvicorn

    from runtime.settings import settings
    from services.gateway.app import create_app

    uvicorn.run(
        create_app(settings(), _g(uid)),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


def _g(uid: str):  # type: ignore[no-untyped-def]
    from services.gateway.config import GatewaySettings

    return GatewaySettings(
        schema_name=f"bench_gw_{uid}",
        claims_schema=f"bench_gwc_{uid}",
        topic_prefix=f"bench-gw-{uid}.",
    )


def _template() -> dict[str, object]:
    from rcm.workload import generate_day

    return dict(generate_day(1, seed=0)[0].model_dump(mode="json"))


async def _load(port: int, token: str, conns: int, seconds: float, worker: int) -> tuple[int, int]:
    base = _template()
    ok = 0
    other = 0
    stop = time.monotonic() + seconds
    counter = 0

    async def one_conn(c: int) -> None:
        nonlocal ok, other, counter
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.monotonic() < stop:
            counter += 1
            eid = f"B{worker}-{c}-{counter}"
            body = orjson.dumps({**base, "encounter_id": eid})
            head = (
                f"POST /v1/encounters HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {token}\r\n"
                f"Idempotency-Key: {eid}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            writer.write(head + body)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            if status_line.split()[1] == b"202":
                ok += 1
            else:
                other += 1
        writer.close()

    await asyncio.gather(*(one_conn(c) for c in range(conns)))
    return ok, other


def loader(port: int, token: str, conns: int, seconds: float, worker: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    import uvloop

    out.put(uvloop.run(_load(port, token, conns, seconds, worker)))


async def _prepare(uid: str) -> str:
    from rcm.cli_keys import create_key
    from runtime.db import create_pool, migrate
    from runtime.settings import settings

    g = _g(uid)
    pool = await create_pool(settings(), g.claims_schema, max_size=1)
    await migrate(pool, g.claims_schema, ROOT / "services" / "claims" / "migrations")
    await pool.close()
    key = await create_key("bench", ["intake"], "bench", 1_000_000, schema=g.schema_name)
    return str(key["token"])


async def _cleanup(uid: str) -> int:
    from aiokafka.admin import AIOKafkaAdminClient

    from runtime.db import create_pool
    from runtime.settings import settings

    g = _g(uid)
    # In the bench gateway's own schema (the pool's search_path): what it stored.
    pool = await create_pool(settings(), g.schema_name, max_size=1)
    stored = int(await pool.fetchval("SELECT count(*) FROM encounters"))
    for name in (g.claims_schema, g.schema_name):
        await pool.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    await pool.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=settings().kafka_bootstrap)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(g.topic_prefix)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()
    return stored


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--loaders", type=int, default=1, help="load processes")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    from rcm.bench import cpu_seconds

    uid = uuid.uuid4().hex[:8]
    token = asyncio.run(_prepare(uid))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", uid, "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        # Warm up (producer connection, topic creation), then measure.
        warm = asyncio.run(_load(port, token, 4, 3, 99))
        out: mp.Queue = mp.Queue()  # type: ignore[type-arg]
        per = max(1, args.connections // args.loaders)
        procs = [
            mp.Process(target=loader, args=(port, token, per, args.seconds, w, out))
            for w in range(args.loaders)
        ]
        cpu0 = cpu_seconds(server.pid)
        t0 = time.monotonic()
        for p in procs:
            p.start()
        results = [out.get() for _ in procs]
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(server.pid) - cpu0
        for p in procs:
            p.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    accepted = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    stored = asyncio.run(_cleanup(uid))
    print(
        orjson.dumps(
            {
                "accepted": accepted,
                "not_accepted": failed,
                "seconds": round(elapsed, 2),
                "encounters_per_second": round(accepted / elapsed),
                "gateway_cpu_seconds": round(cpu, 2),
                "encounters_per_gateway_cpu_second": round(accepted / cpu) if cpu else None,
                "load_average_1m": os.getloadavg()[0],
                "stored_in_gateway": stored,
                "expected_stored": accepted + warm[0],
                "connections": per * args.loaders,
                "loaders": args.loaders,
                "cpus": os.cpu_count(),
            }
        ).decode()
    )


if __name__ == "__main__":
    main()
