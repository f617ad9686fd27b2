"""`rcm lag`: consumer lag per group, topic and partition."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from rcm import audit_trail
from rcm.audit_trail import default_actor
from rcm.cliutil import fail
from runtime.settings import settings


def lag(
    as_json: Annotated[bool, typer.Option("--json", help="a JSON list instead of a table")] = False,
    group: Annotated[list[str] | None, typer.Option(help="only these consumer groups")] = None,
) -> None:
    """Consumer lag per group, topic and partition, in messages and seconds."""
    from runtime.lag import collect_sync

    try:
        rows = collect_sync(settings(), groups=group or None)
    except Exception as exc:
        fail(f"cannot read lag from Kafka at {settings().kafka_bootstrap}: {type(exc).__name__}")
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "group": r.group,
                        "topic": r.topic,
                        "partition": r.partition,
                        "lag": r.lag,
                        "lag_seconds": r.lag_seconds,
                        "committed": r.committed,
                        "end": r.end,
                    }
                    for r in rows
                ],
                indent=2,
            )
        )
        return
    table = Table("group", "topic", "partition", "committed", "end", "lag", "lag s")
    for r in rows:
        table.add_row(
            r.group,
            r.topic,
            str(r.partition),
            str(r.committed),
            str(r.end),
            str(r.lag),
            f"{r.lag_seconds:.1f}",
        )
    Console().print(table)


def bench(
    claims: Annotated[int, typer.Option(min=10, max=1_000_000)] = 2000,
    rate: Annotated[float | None, typer.Option(help="offered claims per second")] = None,
    seed: Annotated[int, typer.Option()] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="JSON (the only output form)")] = True,
    out: Annotated[Path, typer.Option(help="service logs go here")] = Path("bench-out"),
    timeout: Annotated[float, typer.Option()] = 1800,
    instances: Annotated[int, typer.Option(min=1, max=4, help="processes per service")] = 1,
    stage: Annotated[
        str | None,
        typer.Option(help="measure one service alone draining a backlog, with --instances"),
    ] = None,
    floor: Annotated[
        bool,
        typer.Option(
            "--floor",
            help="measure the exactly-once runtime alone: --claims messages through a"
            " claim's hops with handlers that only pass them on",
        ),
    ] = False,
) -> None:
    """The end-to-end benchmark on the local stack: throughput, latency, CPU, RSS, lag.

    With --stage NAME: how fast --instances processes of that one service drain a
    backlog of real input (the scale-out figure). With --floor: what the runtime's
    de-duplication, outbox and relay cost per claim's worth of hops, with no domain work."""
    from rcm import bench as bench_mod
    from rcm import bench_stage
    from rcm.demo import DemoError
    from rcm.processes import ProcessError
    from rcm.stack_base import StackError

    if floor and (stage is not None or rate is not None or instances != 1):
        fail(
            "--floor measures the runtime alone in one process: it takes --claims, not"
            " --stage, --rate or --instances"
        )
    try:
        if stage is not None:
            try:
                bench_stage.stage_inputs(stage)
            except ValueError as exc:
                fail(str(exc))
        common: dict[str, Any] = {
            "claims": claims,
            "seed": seed,
            "out": out,
            "timeout": timeout,
            "instances": instances,
        }
        if floor:
            from rcm.bench_floor import run_floor

            result = run_floor(settings(), messages=claims, seed=seed, timeout=timeout)
        elif stage is not None:
            result = bench_stage.run_stage(settings(), stage=stage, **common)
        else:
            result = bench_mod.run(settings(), rate=rate, **common)
    except (StackError, ProcessError, DemoError, TimeoutError) as exc:
        fail(str(exc))
    text = json.dumps(result, indent=2)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(text + "\n")
    typer.echo(text)


def _audit(entries: list[Any], unless: str = "nothing shown") -> None:
    """The gateway's audit log gets what a command showed or replayed; no row, no output."""
    import asyncio

    try:
        asyncio.run(audit_trail.record(settings(), entries))
    except (OSError, asyncpg.PostgresError) as exc:
        fail(f"cannot write the audit log ({unless}): {type(exc).__name__}")


dlq_app = typer.Typer(no_args_is_help=True, help="Dead letters: list and replay.")


@dlq_app.command("list")
def dlq_list(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    topic: Annotated[list[str] | None, typer.Option(help="only these .dlq topics")] = None,
) -> None:
    """Every dead letter waiting, with its source, reason and service."""
    import asyncio

    from rcm import dlq

    letters = asyncio.run(dlq.read(settings(), topic or None))
    _audit(dlq.audit_entries(letters, default_actor(), "dlq.list"))
    if as_json:
        typer.echo(json.dumps([d.summary() for d in letters], indent=2))
        return
    table = Table("dlq topic", "part", "offset", "source", "reason", "service", "time", "error")
    for d in letters:
        table.add_row(
            d.dlq_topic,
            str(d.partition),
            str(d.offset),
            d.source,
            d.reason,
            d.service,
            d.time[:19],
            d.error[:60],
        )
    Console().print(table)


@dlq_app.command("replay")
def dlq_replay(
    dlq_topic: str,
    offset: Annotated[int, typer.Option(min=0)],
    partition: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """Send one dead letter back to its source topic, for the service that failed it."""
    import asyncio

    from rcm import dlq

    if not dlq_topic.endswith(".dlq"):
        fail(f"{dlq_topic} is not a dead-letter topic (they end in .dlq)")
    try:
        d = asyncio.run(dlq.replay(settings(), dlq_topic, offset, partition))
    except dlq.ReplayError as exc:
        fail(str(exc))
    _audit(dlq.audit_entries([d], default_actor(), "dlq.replay"), "the letter was replayed")
    typer.echo(f"replayed {dlq_topic}:{partition}:{offset} ({d.reason}) for {d.service}")


def chaos(
    claims: Annotated[int, typer.Option(min=10, max=1_000_000)] = 1000,
    kills: Annotated[int, typer.Option(min=0, max=1000)] = 8,
    seed: Annotated[int, typer.Option()] = 7,
    as_json: Annotated[bool, typer.Option("--json")] = True,
    out: Annotated[Path, typer.Option()] = Path("chaos-out"),
    timeout: Annotated[float, typer.Option()] = 1800,
    infra: Annotated[
        bool, typer.Option(help="restart Kafka, PostgreSQL and the SFTP server once each")
    ] = True,
) -> None:
    """Kill services at random under load, restart Kafka and PostgreSQL, check the books."""
    from rcm import chaos as chaos_mod
    from rcm.processes import ProcessError
    from rcm.stack_base import StackError

    try:
        result = chaos_mod.run(
            settings(),
            claims=claims,
            seed=seed,
            kills=kills,
            out=out,
            timeout=timeout,
            restart_infra=infra,
        )
    except (StackError, ProcessError) as exc:
        fail(str(exc))
    text = json.dumps(result, indent=2, default=str)
    out.mkdir(parents=True, exist_ok=True)
    (out / "chaos.json").write_text(text + "\n")
    typer.echo(text)
    if not result["ok"]:
        raise typer.Exit(1)
