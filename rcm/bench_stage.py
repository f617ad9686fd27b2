"""`rcm bench --stage NAME`: how fast K instances of one service, in one consumer group,
drain a backlog of real input (the scale-out figure)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import TopicPartition

from rcm import stack
from rcm.bench import proc_stats, tenant_day
from rcm.bench_kafka import end_offsets, publish, scan
from rcm.demo import wait_settled
from rcm.processes import Fleet, fleet_env
from runtime.lag import collect as collect_lag
from runtime.settings import Settings
from schemas.topics import TOPICS

# Services a stage cannot work without while it runs alone (the payer answers 270s; the
# connector uploads claims' 837s and reports them, and only then are claims SUBMITTED).
COMPANIONS: dict[str, tuple[str, ...]] = {"eligibility": ("simulator",), "claims": ("connector",)}
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
        ends = await end_offsets(s, topics)
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
    from rcm.processes import default_services

    inputs = stage_inputs(stage)
    tenant, day, claim_ids = tenant_day(claims, seed)
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
            others = [n for n in default_services(s) if n not in (stage, "gateway")]
            fleet.start(others)
            fleet.wait_healthy()
            before = await end_offsets(s, topics)
            await publish(s, day, tenant, None)
            backlog = await _wait_stable(s, inputs, before, quiet_s=5.0, timeout=timeout)
            for name in others:
                if name not in companions:
                    fleet.stop_one(name)
            mark = await end_offsets(s, topics)
            cpu_before = {name: proc_stats(fleet.procs[name].pid)[0] for name in members}
            await gated.rollback()
        finally:
            await gate.close()
        await _wait_group_caught_up(s, f"rcm-{stage}", inputs, timeout)
        await _wait_stable(s, outputs, mark, quiet_s=2.0, timeout=timeout)
        stats = {name: proc_stats(fleet.procs[name].pid) for name in members}
        token = s.ops_token.get_secret_value()
        consumed = {name: fleet.consumed(name, token) for name in members}
        fleet.stop()
        produced = await scan(s, outputs, mark, set())

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
