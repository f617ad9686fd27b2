"""`rcm bench`: the end-to-end benchmark on the local stack, JSON out.

Drives the demo's workload through every service at an offered rate (or as fast as
it can be published), then reports sustained claims per second, latency from
encounter.created to claim.submitted and to claim.adjudicated (broker timestamps of
the messages, so no clock in the services is trusted), per-service CPU seconds and
peak RSS, the largest lag seen, and a raw aiokafka pass-through baseline measured in
the same run: the same number of hops, the same message sizes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import statistics
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from rcm import stack
from rcm.demo import run_tagged, wait_settled
from rcm.processes import Fleet, fleet_env
from rcm.workload import generate_day
from runtime.kafka import client_config, partitions, producer_config
from runtime.lag import collect as collect_lag
from runtime.settings import Settings
from runtime.telemetry import new_traceparent
from schemas.codec import encode, new_meta
from schemas.events import EncounterCreated
from schemas.ids import claim_id_for
from schemas.topics import TOPICS

# The hops one claim takes through Kafka on the happy path.
PIPELINE_HOPS = (
    "encounter.created",
    "eligibility.checked",
    "claim.coded",
    "claim.submitted",
    "claim.acknowledged",
    "remit.received",
    "claim.adjudicated",
    "statement.issued",
)


async def _end_offsets(s: Settings, topics: list[str]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(**client_config(s), group_id=None)
    await consumer.start()
    try:
        parts = await partitions(s, topics)
        return dict(await consumer.end_offsets(parts))
    finally:
        await consumer.stop()


@dataclass
class _Scan:
    """What ``_scan`` read: the first broker timestamp (ms) of each wanted key, how many
    records and bytes, and the first and last timestamp of any record."""

    first_by_key: dict[str, int] = field(default_factory=dict)
    count: int = 0
    size: int = 0
    first: int | None = None
    last: int | None = None


async def _scan(
    s: Settings, topics: list[str], since: dict[TopicPartition, int], wanted: set[str]
) -> _Scan:
    """Reads ``topics`` from ``since`` to their end offsets as of now."""
    consumer = AIOKafkaConsumer(**client_config(s), group_id=None, enable_auto_commit=False)
    await consumer.start()
    out = _Scan()
    try:
        parts = [tp for tp in since if tp.topic in topics]
        ends = await consumer.end_offsets(parts)
        remaining = {tp for tp in parts if ends[tp] > since[tp]}
        consumer.assign(list(remaining))
        for tp in remaining:
            consumer.seek(tp, since[tp])
        deadline = asyncio.get_running_loop().time() + 120
        while remaining and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(*remaining, timeout_ms=500, max_records=5000)
            for tp, records in batch.items():
                for r in records:
                    if r.offset >= ends[tp]:
                        continue
                    out.count += 1
                    out.size += len(r.value or b"")
                    out.first = r.timestamp if out.first is None else min(out.first, r.timestamp)
                    out.last = r.timestamp if out.last is None else max(out.last, r.timestamp)
                    key = (r.key or b"").decode()
                    if key in wanted and key not in out.first_by_key:
                        out.first_by_key[key] = r.timestamp
                    if r.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
        return out
    finally:
        await consumer.stop()


async def _publish(
    s: Settings, day: list[EncounterCreated], tenant: str, rate: float | None
) -> dict[str, float]:
    producer = AIOKafkaProducer(**producer_config(s))
    await producer.start()
    sent: dict[str, float] = {}
    try:
        start = time.monotonic()
        futures = []
        for i, enc in enumerate(day):
            if rate:
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            claim_id = claim_id_for(tenant, enc.encounter_id)
            meta = new_meta(
                enc,
                source="rcm/bench",
                tenant=tenant,
                correlation_id=claim_id,
                traceparent=new_traceparent(),
            )
            x = encode(enc, meta)
            futures.append(await producer.send(x.topic, x.value, key=x.key, headers=x.headers))
            sent[claim_id] = time.time()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent


async def _watch_lag(s: Settings, stop: asyncio.Event, seen: dict[str, int]) -> None:
    while not stop.is_set():
        with contextlib.suppress(Exception):
            for row in await collect_lag(s):
                seen[row.group] = max(seen.get(row.group, 0), row.lag)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=2.0)


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a process has used, 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_stats(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) and peak RSS in MB of a live process, from /proc."""
    peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return cpu_seconds(pid), peak


def _infra_pids() -> dict[str, list[int]]:
    """The local stack's processes: every PostgreSQL process, and the Kafka broker."""
    out: dict[str, list[int]] = {"postgresql": [], "kafka": []}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            cmd = (entry / "cmdline").read_bytes() if comm == "java" else b""
        except OSError:
            continue
        if comm == "postgres":
            out["postgresql"].append(int(entry.name))
        elif b"kafka.Kafka" in cmd:
            out["kafka"].append(int(entry.name))
    return out


def _machine_busy_s() -> float:
    """CPU seconds every core of the machine spent busy since boot (/proc/stat)."""
    f = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    busy = sum(int(f[i]) for i in (0, 1, 2, 5, 6, 7))  # user nice system irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


@dataclass
class CpuWindow:
    """CPU each part of the machine spends between :meth:`start` and :meth:`stop`: the
    services, PostgreSQL and Kafka, this benchmark's own process, and the machine as a
    whole. A PostgreSQL backend that starts inside the window counts whole; one that ends
    inside it is not counted (the services' pools keep theirs)."""

    services: dict[str, int]
    first: dict[int, float] = field(default_factory=dict)
    machine0: float = 0.0
    spent: dict[str, float] = field(default_factory=dict)

    def _pids(self) -> dict[str, list[int]]:
        return {
            **{name: [pid] for name, pid in self.services.items()},
            **_infra_pids(),
            "bench": [os.getpid()],
        }

    def start(self) -> None:
        self.first = {p: cpu_seconds(p) for pids in self._pids().values() for p in pids}
        self.machine0 = _machine_busy_s()

    def stop(self) -> None:
        self.spent = {
            part: sum(cpu_seconds(p) - self.first.get(p, 0.0) for p in pids)
            for part, pids in self._pids().items()
        }
        self.spent["machine"] = _machine_busy_s() - self.machine0

    def per_claim_ms(self, claims: int) -> dict[str, Any]:
        ms = {k: round(v * 1000 / claims, 2) for k, v in self.spent.items()}
        services = {k: ms.pop(k) for k in self.services}
        return {
            "services": services,
            "services_total": round(sum(services.values()), 2),
            "postgresql": ms["postgresql"],
            "kafka": ms["kafka"],
            "bench": ms["bench"],
            "machine": ms["machine"],
        }


PG_STATS_SETTLE_S = 1.5

#: pg_stat_database's counters of the benchmark's database that `rcm bench` reports per
#: claim: transactions (commits and rollbacks) and rows written.
_PG_COUNTERS = ("xact_commit", "xact_rollback", "tup_inserted", "tup_updated", "tup_deleted")


async def pg_activity(s: Settings) -> dict[str, int]:
    """The database's transaction and row-write counters so far (pg_stat_database). A
    backend reports its counts when it goes idle, at most once a second, so a reading
    lags the work by up to about a second."""
    conn = await asyncpg.connect(s.database_url)
    try:
        row = await conn.fetchrow(
            f"SELECT {', '.join(_PG_COUNTERS)} FROM pg_stat_database"
            " WHERE datname = current_database()"
        )
    finally:
        await conn.close()
    assert row is not None
    return {name: int(row[name]) for name in _PG_COUNTERS}


def pg_per_claim(before: dict[str, int], after: dict[str, int], claims: int) -> dict[str, float]:
    """Transactions and rows written per claim between two readings of
    :func:`pg_activity`: what a batch costs PostgreSQL shows here, as transactions per
    claim grow when batches shrink."""
    d = {name: after[name] - before[name] for name in _PG_COUNTERS}
    written = d["tup_inserted"] + d["tup_updated"] + d["tup_deleted"]
    return {
        "transactions": round((d["xact_commit"] + d["xact_rollback"]) / claims, 2),
        "rows_written": round(written / claims, 1),
        "rows_inserted": round(d["tup_inserted"] / claims, 1),
        "rows_updated": round(d["tup_updated"] / claims, 1),
        "rows_deleted": round(d["tup_deleted"] / claims, 1),
    }


def host_probe_ms(loops: int = 5_000_000) -> float:
    """Milliseconds this process takes for a fixed pure-Python loop: a yardstick for the
    host's speed at the time of a run. On a shared virtual machine the same code runs at
    different speeds from one minute to the next (this one varied by 40 %), so figures
    of runs far apart are compared together with their probes."""
    t0 = time.perf_counter()
    total = 0
    for i in range(loops):
        total += i
    return round((time.perf_counter() - t0) * 1000, 1)


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    values = sorted(values)
    q = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
    return {
        "p50": round(q[49], 1),
        "p95": round(q[94], 1),
        "p99": round(q[98], 1),
        "max": round(values[-1], 1),
    }


async def baseline(s: Settings, *, messages: int, size: int, hops: int) -> float:
    """Raw aiokafka consume-and-produce through ``hops`` topics: messages per second."""
    run = uuid.uuid4().hex[:8]
    topics = [f"bench.baseline.{run}.{i}" for i in range(hops + 1)]
    admin = AIOKafkaAdminClient(**client_config(s))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 6, 1) for t in topics])
        return await _pass_through(s, run, topics, messages=messages, size=size, hops=hops)
    finally:  # scratch topics: a run leaves nothing behind on the broker's disk
        try:
            await admin.delete_topics(topics)
        finally:
            await admin.close()


async def _pass_through(
    s: Settings, run: str, topics: list[str], *, messages: int, size: int, hops: int
) -> float:
    payload = os.urandom(size // 2).hex().encode()[:size]
    done = asyncio.Event()

    async def relay(src: str, dst: str | None, counter: list[int]) -> None:
        consumer = AIOKafkaConsumer(
            src,
            **client_config(s),
            group_id=f"bench-{run}-{src}",
            auto_offset_reset="earliest",
            max_poll_records=500,
        )
        producer = AIOKafkaProducer(**producer_config(s)) if dst else None
        await consumer.start()
        if producer:
            await producer.start()
        try:
            while counter[0] < messages:
                batch = await consumer.getmany(timeout_ms=200)
                futures = []
                for records in batch.values():
                    for r in records:
                        counter[0] += 1
                        if producer and dst:
                            futures.append(await producer.send(dst, r.value, key=r.key))
                if futures:
                    await asyncio.gather(*futures)
                if batch:
                    await consumer.commit()
            if dst is None:
                done.set()
        finally:
            await consumer.stop()
            if producer:
                await producer.stop()

    counters = [[0] for _ in topics]
    tasks = [
        asyncio.create_task(
            relay(topics[i], topics[i + 1] if i + 1 < len(topics) else None, counters[i])
        )
        for i in range(len(topics))
    ]
    await asyncio.sleep(1.0)  # let every consumer join before the clock starts
    producer = AIOKafkaProducer(**producer_config(s))
    await producer.start()
    start = time.monotonic()
    futures = [
        await producer.send(topics[0], payload, key=str(i).encode()) for i in range(messages)
    ]
    await asyncio.gather(*futures)
    await producer.stop()
    await asyncio.wait_for(done.wait(), timeout=600)
    elapsed = time.monotonic() - start
    # Every relay ends by itself once it has passed every message on. Cancelling one
    # while it stops its consumer left that consumer refreshing metadata, and the broker
    # auto-created its topic again after the deletion below.
    _, stuck = await asyncio.wait(tasks, timeout=60)
    for t in stuck:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return messages * hops / elapsed


def _workload(claims: int, seed: int) -> tuple[str, list[EncounterCreated], list[str]]:
    """A fresh tenant's day of ``claims`` encounters (yesterday), and their claim ids."""
    tenant = f"bench-{uuid.uuid4().hex[:6]}"
    dos = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    day = run_tagged(
        generate_day(claims, seed, tenant=tenant, date_of_service=dos), uuid.uuid4().hex[:8]
    )
    return tenant, day, [claim_id_for(tenant, e.encounter_id) for e in day]


def run(
    s: Settings,
    *,
    claims: int,
    rate: float | None,
    seed: int,
    out: Path,
    timeout: float,
    instances: int = 1,
) -> dict[str, Any]:
    stack.up(s)
    tenant, day, claim_ids = _workload(claims, seed)
    topics = [t.name for t in TOPICS]
    with Fleet(out / "logs", env=fleet_env(s)) as fleet:
        fleet.start(instances=instances)
        fleet.wait_healthy()
        before = asyncio.run(_end_offsets(s, topics))

        async def drive() -> tuple[dict[str, float], float, dict[str, int]]:
            stop = asyncio.Event()
            lag_seen: dict[str, int] = {}
            watcher = asyncio.create_task(_watch_lag(s, stop, lag_seen))
            t0 = time.monotonic()
            sent = await _publish(s, day, tenant, rate)
            await wait_settled(s, claim_ids, timeout, progress=False)
            elapsed = time.monotonic() - t0
            stop.set()
            await watcher
            return sent, elapsed, lag_seen

        window = CpuWindow({name: p.pid for name, p in fleet.procs.items()})
        probe_before = host_probe_ms()
        pg_before = asyncio.run(pg_activity(s))
        window.start()
        sent, elapsed, lag_seen = asyncio.run(drive())
        window.stop()
        time.sleep(PG_STATS_SETTLE_S)  # the last second's counts reach pg_stat_database
        pg_after = asyncio.run(pg_activity(s))
        probe_after = host_probe_ms()
        stats = {name: _proc_stats(p.pid) for name, p in fleet.procs.items()}
    wanted = set(claim_ids)

    enc_ids = {e.encounter_id for e in day}

    async def latencies() -> dict[str, Any]:
        submitted = (await _scan(s, ["claim.submitted"], before, wanted)).first_by_key
        posted = (await _scan(s, ["claim.adjudicated"], before, wanted)).first_by_key
        checked = (await _scan(s, ["eligibility.checked"], before, enc_ids)).first_by_key
        coded = (await _scan(s, ["claim.coded"], before, wanted)).first_by_key
        total_msgs = total_bytes = 0
        for topic in topics:
            everything = await _scan(s, [topic], before, set())
            n, b = everything.count, everything.size
            total_msgs += n
            total_bytes += b
        return {
            "submitted": submitted,
            "posted": posted,
            "checked": checked,
            "coded": coded,
            "messages": total_msgs,
            "bytes": total_bytes,
        }

    lat = asyncio.run(latencies())
    to_submitted = [
        lat["submitted"][c] - sent[c] * 1000 for c in claim_ids if c in lat["submitted"]
    ]
    to_posted = [lat["posted"][c] - sent[c] * 1000 for c in claim_ids if c in lat["posted"]]
    # Where the time goes, stage by stage (broker timestamps of each claim's messages).
    stages = {
        "published_to_eligibility_checked": ("published", "checked"),
        "eligibility_checked_to_coded": ("checked", "coded"),
        "coded_to_submitted": ("coded", "submitted"),
        "submitted_to_adjudicated": ("submitted", "posted"),
    }
    at: dict[str, dict[str, float]] = {
        "published": {c: sent[c] * 1000 for c in claim_ids},
        "checked": {
            claim_id_for(tenant, e.encounter_id): lat["checked"][e.encounter_id]
            for e in day
            if e.encounter_id in lat["checked"]
        },
        "coded": lat["coded"],
        "submitted": lat["submitted"],
        "posted": lat["posted"],
    }
    by_stage = {
        name: _percentiles([at[b][c] - at[a][c] for c in claim_ids if c in at[a] and c in at[b]])
        for name, (a, b) in stages.items()
    }
    pipeline_rate = lat["messages"] / elapsed
    avg_size = max(1, lat["bytes"] // max(1, lat["messages"]))
    base = asyncio.run(
        baseline(
            s, messages=min(20_000, max(2_000, claims * 4)), size=avg_size, hops=len(PIPELINE_HOPS)
        )
    )
    return {
        "claims": claims,
        "instances_per_service": instances,
        "offered_rate": rate,
        "elapsed_s": round(elapsed, 2),
        "claims_per_s": round(claims / elapsed, 1),
        "latency_ms": {
            "encounter_to_submitted": _percentiles(to_submitted),
            "encounter_to_posted": _percentiles(to_posted),
            "by_stage": by_stage,
        },
        "services": {
            name: {"cpu_s": round(cpu, 2), "peak_rss_mb": round(rss, 1)}
            for name, (cpu, rss) in stats.items()
        },
        # CPU over the measured window (from the first publish to the last claim settled),
        # per claim; "machine" is every core's busy time, whoever spent it.
        "cpu_ms_per_claim": window.per_claim_ms(claims),
        "host_probe_ms": {"before": probe_before, "after": probe_after},
        # PostgreSQL's transactions and row writes per claim over the same window (and
        # the second after it, for the counts to arrive): at a steady rate batches are
        # small and transactions per claim many, the cost that bursts spread.
        "postgresql_per_claim": pg_per_claim(pg_before, pg_after, claims),
        "max_lag": max(lag_seen.values(), default=0),
        "max_lag_by_group": lag_seen,
        "pipeline_msgs": lat["messages"],
        "pipeline_msgs_per_s": round(pipeline_rate, 1),
        "avg_message_bytes": avg_size,
        "baseline_msgs_per_s": round(base, 1),
        "ratio": round(pipeline_rate / base, 3) if base else None,
    }


# --- one stage, K instances: the scale-out figure ----------------------------------

# Services a stage cannot work without while it runs alone (the payer answers 270s).
COMPANIONS: dict[str, tuple[str, ...]] = {"eligibility": ("simulator",)}
STAGES = ("eligibility", "coding", "claims", "remittance", "statements")


def stage_inputs(stage: str) -> list[str]:
    """The topics a service consumes, from its own wiring."""
    import importlib

    if stage not in STAGES:
        raise ValueError(f"--stage must be one of {', '.join(STAGES)}, not {stage!r}")
    app = importlib.import_module(f"services.{stage}.app")
    return sorted(app.build().handlers)


async def _wait_stable(
    s: Settings, topics: list[str], since: dict[TopicPartition, int], quiet_s: float, timeout: float
) -> int:
    """Waits until nothing new has arrived on ``topics`` for ``quiet_s``; returns how many
    messages arrived there after ``since``."""
    parts = [tp for tp in since if tp.topic in topics]
    last_total = -1
    quiet_since = time.monotonic()
    deadline = time.monotonic() + timeout
    while True:
        ends = await _end_offsets(s, topics)
        total = sum(ends[tp] - since[tp] for tp in parts)
        now = time.monotonic()
        if total != last_total:
            last_total, quiet_since = total, now
        elif total > 0 and now - quiet_since >= quiet_s:
            return total
        if now > deadline:
            raise TimeoutError(f"{topics} still growing after {timeout:.0f} s")
        await asyncio.sleep(1.0)


async def _wait_group_caught_up(
    s: Settings, group: str, topics: list[str], timeout: float, *, committed: bool = True
) -> None:
    """Waits until ``group`` has no lag on ``topics``; with ``committed``, until it has
    also committed something there (a group that never ran has no lag to show)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = [r for r in await collect_lag(s, groups=[group]) if r.topic in topics]
        if (rows or not committed) and sum(r.lag for r in rows) == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{group} did not catch up within {timeout:.0f} s")
        await asyncio.sleep(0.5)


def run_stage(
    s: Settings,
    *,
    stage: str,
    claims: int,
    seed: int,
    out: Path,
    timeout: float,
    instances: int,
) -> dict[str, Any]:
    """How fast ``instances`` processes of one service, in one consumer group, drain a
    backlog of real input: the scale-out figure.

    1. The stage's K instances start and join their group; a gate (an exclusive lock on
       the stage's ``processed_messages``) holds their first batch. Every other service
       runs and the day is published: the stage's input piles up, already spread over
       the K members, so no rebalance falls inside the measurement.
    2. Everything but the stage (and what it cannot run without) stops; the gate opens
       and the K instances drain the backlog in parallel. The rate is taken from the
       broker timestamps of what the stage produced, first to last.
    3. The whole pipeline runs until every claim of the run settles, so the stack is
       left as consistent as after any other run.
    """
    stage_inputs(stage)
    stack.up(s)
    return asyncio.run(_run_stage(s, stage, claims, seed, out, timeout, instances))


async def _run_stage(
    s: Settings, stage: str, claims: int, seed: int, out: Path, timeout: float, instances: int
) -> dict[str, Any]:
    from rcm.processes import SERVICES

    inputs = stage_inputs(stage)
    tenant, day, claim_ids = _workload(claims, seed)
    topics = [t.name for t in TOPICS]
    outputs = [t for t in topics if t not in inputs]
    members = [stage, *(f"{stage}#{i}" for i in range(1, instances))]
    companions = COMPANIONS.get(stage, ())
    with Fleet(out / "logs", env=fleet_env(s)) as fleet:
        for name in members:
            fleet.start_one(name)
        fleet.wait_healthy()
        await _wait_group_caught_up(s, f"rcm-{stage}", inputs, timeout, committed=False)
        gate = await asyncpg.connect(s.database_url)
        try:
            gated = gate.transaction()
            await gated.start()
            await gate.execute(f"LOCK TABLE {stage}.processed_messages IN ACCESS EXCLUSIVE MODE")
            others = [n for n in SERVICES if n not in (stage, "gateway")]
            fleet.start(others)
            fleet.wait_healthy()
            before = await _end_offsets(s, topics)
            await _publish(s, day, tenant, None)
            backlog = await _wait_stable(s, inputs, before, quiet_s=5.0, timeout=timeout)
            for name in others:
                if name not in companions:
                    fleet.stop_one(name)
            mark = await _end_offsets(s, topics)
            cpu_before = {name: _proc_stats(fleet.procs[name].pid)[0] for name in members}
            await gated.rollback()
        finally:
            await gate.close()
        await _wait_group_caught_up(s, f"rcm-{stage}", inputs, timeout)
        await _wait_stable(s, outputs, mark, quiet_s=2.0, timeout=timeout)
        stats = {name: _proc_stats(fleet.procs[name].pid) for name in members}
        token = s.ops_token.get_secret_value()
        consumed = {name: fleet.consumed(name, token) for name in members}
        fleet.stop()
        produced = await _scan(s, outputs, mark, set())

        fleet.start()
        fleet.wait_healthy()
        await wait_settled(s, claim_ids, timeout, progress=False)
    span_s = max(0.001, ((produced.last or 0) - (produced.first or 0)) / 1000)
    return {
        "stage": stage,
        "instances": instances,
        "claims": claims,
        "backlog_messages": backlog,
        "messages_produced": produced.count,
        "drain_s": round(span_s, 2),
        "input_msgs_per_s": round(backlog / span_s, 1),
        "instances_detail": {
            name: {
                "records_consumed": consumed[name],
                "drain_cpu_s": round(cpu - cpu_before[name], 2),
                "peak_rss_mb": round(rss, 1),
            }
            for name, (cpu, rss) in stats.items()
        },
        "settled": True,
    }
