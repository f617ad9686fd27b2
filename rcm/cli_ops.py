"""`rcm lag`: consumer lag per group, topic and partition."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

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
