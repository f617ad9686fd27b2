"""The `rcm` command line. Bad input gets a one-line error and a non-zero exit."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from runtime.settings import settings

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
stack_app = typer.Typer(no_args_is_help=True, help="The local Apache Kafka and PostgreSQL.")
x12_app = typer.Typer(no_args_is_help=True, help="X12 tools.")
app.add_typer(stack_app, name="stack")
app.add_typer(x12_app, name="x12")
console = Console()


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@stack_app.command("up")
def stack_up() -> None:
    """Start Kafka and PostgreSQL if they are not running; wait until healthy."""
    from rcm import stack

    try:
        seconds = stack.up(settings())
    except stack.StackError as exc:
        fail(str(exc))
    typer.echo(f"stack up in {seconds:.1f} s")


@stack_app.command("down")
def stack_down() -> None:
    """Stop Kafka and PostgreSQL; leaves no process behind."""
    from rcm import stack

    stack.down(settings())


@stack_app.command("status")
def stack_status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """What runs where."""
    from rcm import stack

    info = stack.status(settings())
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    table = Table("part", "running", "pid", "address", "data")
    for name, part in info.items():
        address = str(part.get("bootstrap") or part.get("dsn"))
        table.add_row(name, str(part["running"]), str(part["pid"]), address, str(part["data"]))
    console.print(table)


@app.command()
def demo(
    encounters: Annotated[int, typer.Option(min=1, max=100_000)] = 200,
    seed: Annotated[int, typer.Option()] = 7,
    out: Annotated[Path, typer.Option()] = Path("demo-out"),
    timeout: Annotated[float, typer.Option(help="seconds to wait for every claim")] = 900,
) -> None:
    """Run a synthetic family-medicine day through every service and print the summary."""
    from rcm import demo as demo_mod
    from rcm import stack
    from rcm.processes import ProcessError

    try:
        result = demo_mod.run(
            settings(), encounters=encounters, seed=seed, out=out, timeout=timeout
        )
    except (stack.StackError, ProcessError, demo_mod.DemoError) as exc:
        fail(str(exc))
    print_summary(result, out)
    if result["pending"]:
        fail(f"{result['pending']} claims did not settle")


def print_summary(result: dict[str, object], out: Path) -> None:
    def usd(key: str) -> str:
        cents = int(result[key])  # type: ignore[call-overload]
        return f"${cents / 100:,.2f}" if cents >= 0 else f"-${-cents / 100:,.2f}"

    table = Table(title="Revenue cycle summary", show_header=False)
    table.add_row("encounters", str(result["encounters"]))
    table.add_row("claims", str(result["claims"]))
    table.add_row("pending", str(result["pending"]))
    table.add_row("charged", usd("charged_cents"))
    table.add_row("paid by payers", usd("paid_cents"))
    table.add_row("adjusted (contractual and other)", usd("adjusted_cents"))
    table.add_row("patient responsibility", usd("patient_responsibility_cents"))
    table.add_row("statements", str(result["statements"]))
    for state, count in dict(result["by_state"]).items():  # type: ignore[call-overload]
        table.add_row(f"  {state}", str(count))
    table.add_row("settled in", f"{result['seconds_to_settle']} s")
    console.print(table)
    typer.echo(f"wrote {out / 'summary.json'}, {out / 'x12'}, {out / 'statements'}")


@x12_app.command("render-837")
def render_837(claim_file: Path) -> None:
    """Print the 837P for one coded claim (schemas/ JSON of rcm.claim.coded.v1)."""
    import datetime as dt

    from schemas.events import ClaimCoded
    from services.claims.x12_837 import ControlNumbers, Outgoing, Party, Unbuildable, render_837p

    text = read_text(claim_file)
    try:
        claim = ClaimCoded.model_validate_json(text)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "<body>"
        fail(f"{claim_file}: not a coded claim: {loc}: {err['msg']} ({exc.error_count()} errors)")
    s = settings()
    try:
        out = render_837p(
            [Outgoing(claim)],
            control=ControlNumbers(1, 1, 1),
            submitter=Party(s.x12_submitter_name, s.x12_submitter_id),
            receiver=Party(s.x12_receiver_name, s.x12_receiver_id),
            contact_phone=s.x12_submitter_phone,
            at=dt.datetime.now(dt.UTC),
            usage=s.x12_usage,
        )
    except Unbuildable as exc:
        fail(f"{claim_file}: {exc}")
    sys.stdout.write(out.replace("~", "~\n"))


@x12_app.command("parse-835")
def parse_835(file: Path) -> None:
    """Print an 835 as JSON: payments, claims, lines, CAS, PLB; amounts as stated."""
    from runtime.x12 import X12Error
    from services.remittance.x12_835 import parse_835 as parse
    from services.remittance.x12_835 import to_json

    text = read_text(file)
    try:
        rem = parse(text)
    except X12Error as exc:
        fail(f"{file}: {exc}")
    typer.echo(json.dumps(to_json(rem), indent=2))


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except UnicodeDecodeError:
        fail(f"{path}: not a text file")
    except OSError as exc:
        fail(f"{path}: {exc.strerror}")
    raise AssertionError("unreachable")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
