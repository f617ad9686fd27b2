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
import datetime as dt
import os
import statistics
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import TopicPartition

from rcm import stack
from rcm.bench_kafka import baseline, end_offsets, publish, scan, watch_lag
from rcm.demo import run_tagged, wait_settled
from rcm.processes import Fleet, fleet_env
from rcm.workload import generate_day
from runtime.settings import Settings
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


def cpu_seconds(pid: int, ended_children: bool = False) -> float:
    """CPU seconds (user + system) a process has used, 0 once it is gone; with
    ``ended_children``, also what its children that ended (and were waited for) used."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    ticks = sum(int(f) for f in fields[11 : 15 if ended_children else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


def _stat_ppid(entry: Path) -> int:
    return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])


def proc_stats(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system) and peak RSS in MB of a live process, from /proc."""
    peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return cpu_seconds(pid), peak


_SSHD = ("sshd", "sshd-session", "sftp-server")


def _stack_pids(services: Mapping[str, int]) -> dict[str, list[int]]:
    """Each part's processes: every PostgreSQL process, the Kafka broker, the SFTP
    server's (sshd), and each service with its own children (the statements PDF worker
    counts as statements)."""
    out: dict[str, list[int]] = {name: [pid] for name, pid in services.items()}
    out |= {"postgresql": [], "kafka": [], "sftp": []}
    service_of = {pid: name for name, pid in services.items()}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            cmd = (entry / "cmdline").read_bytes() if comm == "java" else b""
            parent = service_of.get(_stat_ppid(entry)) if service_of else None
        except (OSError, ValueError, IndexError):
            continue
        if comm == "postgres":
            out["postgresql"].append(int(entry.name))
        elif b"kafka.Kafka" in cmd:
            out["kafka"].append(int(entry.name))
        elif comm in _SSHD:
            out["sftp"].append(int(entry.name))
        elif parent is not None:
            out[parent].append(int(entry.name))
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
        return {**_stack_pids(self.services), "bench": [os.getpid()]}

    def start(self) -> None:
        self.first = {
            p: cpu_seconds(p, part == "sftp") for part, pids in self._pids().items() for p in pids
        }
        self.machine0 = _machine_busy_s()

    def stop(self) -> None:
        self.spent = {
            part: sum(cpu_seconds(p, part == "sftp") - self.first.get(p, 0.0) for p in pids)
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
            "sftp": ms["sftp"],
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


def tenant_day(claims: int, seed: int) -> tuple[str, list[EncounterCreated], list[str]]:
    """A fresh tenant's day of ``claims`` encounters (yesterday), and their claim ids."""
    tenant = f"bench-{uuid.uuid4().hex[:6]}"
    dos = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    day = run_tagged(
        generate_day(claims, seed, tenant=tenant, date_of_service=dos), uuid.uuid4().hex[:8]
    )
    return tenant, day, [claim_id_for(tenant, e.encounter_id) for e in day]


@dataclass
class _Window:
    """What the measured window (first publish to last claim settled) saw."""

    before: dict[TopicPartition, int]
    sent: dict[str, float]
    elapsed: float
    lag_seen: dict[str, int]
    cpu: CpuWindow
    probe: dict[str, float]
    pg_before: dict[str, int]
    pg_after: dict[str, int]
    stats: dict[str, tuple[float, float]]


def _drive(
    s: Settings,
    fleet: Fleet,
    topics: list[str],
    workload: tuple[str, list[EncounterCreated], list[str]],
    rate: float | None,
    timeout: float,
) -> _Window:
    """Publishes the day at ``rate`` and waits for every claim to settle, measuring."""
    tenant, day, claim_ids = workload
    before = asyncio.run(end_offsets(s, topics))

    async def drive() -> tuple[dict[str, float], float, dict[str, int]]:
        stop = asyncio.Event()
        lag_seen: dict[str, int] = {}
        watcher = asyncio.create_task(watch_lag(s, stop, lag_seen))
        t0 = time.monotonic()
        sent = await publish(s, day, tenant, rate)
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
    stats = {name: proc_stats(p.pid) for name, p in fleet.procs.items()}
    probe = {"before": probe_before, "after": probe_after}
    return _Window(before, sent, elapsed, lag_seen, window, probe, pg_before, pg_after, stats)


async def _latencies(
    s: Settings,
    topics: list[str],
    before: dict[TopicPartition, int],
    day: list[EncounterCreated],
    claim_ids: list[str],
) -> dict[str, Any]:
    """Each claim's first broker timestamp on the hops measured, and the run's traffic."""
    wanted = set(claim_ids)
    enc_ids = {e.encounter_id for e in day}
    submitted = (await scan(s, ["claim.submitted"], before, wanted)).first_by_key
    posted = (await scan(s, ["claim.adjudicated"], before, wanted)).first_by_key
    checked = (await scan(s, ["eligibility.checked"], before, enc_ids)).first_by_key
    coded = (await scan(s, ["claim.coded"], before, wanted)).first_by_key
    total_msgs = total_bytes = 0
    for topic in topics:
        everything = await scan(s, [topic], before, set())
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


def _latency_ms(
    workload: tuple[str, list[EncounterCreated], list[str]],
    sent: dict[str, float],
    lat: dict[str, Any],
) -> dict[str, Any]:
    tenant, day, claim_ids = workload
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
    return {
        "encounter_to_submitted": _percentiles(to_submitted),
        "encounter_to_posted": _percentiles(to_posted),
        "by_stage": by_stage,
    }


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
    workload = tenant_day(claims, seed)
    _, day, claim_ids = workload
    topics = [t.name for t in TOPICS]
    with Fleet(out / "logs", env=fleet_env(s)) as fleet:
        fleet.start(instances=instances)
        fleet.wait_healthy()
        w = _drive(s, fleet, topics, workload, rate, timeout)
    lat = asyncio.run(_latencies(s, topics, w.before, day, claim_ids))
    latency_ms = _latency_ms(workload, w.sent, lat)
    elapsed = w.elapsed
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
        "latency_ms": latency_ms,
        "services": {
            name: {"cpu_s": round(cpu, 2), "peak_rss_mb": round(rss, 1)}
            for name, (cpu, rss) in w.stats.items()
        },
        # CPU over the measured window (from the first publish to the last claim settled),
        # per claim; "machine" is every core's busy time, whoever spent it.
        "cpu_ms_per_claim": w.cpu.per_claim_ms(claims),
        "host_probe_ms": w.probe,
        # PostgreSQL's transactions and row writes per claim over the same window (and
        # the second after it, for the counts to arrive): at a steady rate batches are
        # small and transactions per claim many, the cost that bursts spread.
        "postgresql_per_claim": pg_per_claim(w.pg_before, w.pg_after, claims),
        "max_lag": max(w.lag_seen.values(), default=0),
        "max_lag_by_group": w.lag_seen,
        "pipeline_msgs": lat["messages"],
        "pipeline_msgs_per_s": round(pipeline_rate, 1),
        "avg_message_bytes": avg_size,
        "baseline_msgs_per_s": round(base, 1),
        "ratio": round(pipeline_rate / base, 3) if base else None,
    }
