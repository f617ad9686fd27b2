"""The `rcm` command line. Bad input gets a one-line error and a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rcm.cliutil import fail
from runtime.settings import settings

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
stack_app = typer.Typer(no_args_is_help=True, help="The local Apache Kafka and PostgreSQL.")
app.add_typer(stack_app, name="stack")
db_app = typer.Typer(no_args_is_help=True, help="The services' PostgreSQL schemas.")
app.add_typer(db_app, name="db")
console = Console()


@stack_app.command("up")
def stack_up(
    kafka_auth: Annotated[
        bool,
        typer.Option(
            "--kafka-auth",
            help="Kafka with SASL/SCRAM and each service's ACLs (RCM_KAFKA_AUTH); needs a"
            " freshly formatted broker",
        ),
    ] = False,
) -> None:
    """Start Kafka and PostgreSQL if they are not running; wait until healthy."""
    from rcm import stack
    from rcm.stack_base import StackError

    try:
        s = settings()
        seconds = stack.up(s.model_copy(update={"kafka_auth": True}) if kafka_auth else s)
    except StackError as exc:
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
        address = str(part.get("bootstrap") or part.get("dsn") or part.get("address"))
        table.add_row(name, str(part["running"]), str(part["pid"]), address, str(part["data"]))
    console.print(table)


@db_app.command("json-payloads")
def db_json_payloads() -> None:
    """Convert the payload columns a migration left jsonb (tables too large to rewrite
    at a service's start) to json. Each table is locked while it is rewritten
    (11,000-26,000 rows a second on the local stack): run it in a quiet window."""
    import asyncio

    import asyncpg

    from rcm.payloads import convert

    try:
        done = asyncio.run(convert(settings().database_url))
    except (OSError, asyncpg.PostgresError) as exc:
        fail(f"cannot convert: {type(exc).__name__}: {exc}")
    table = Table("column", "was", "rows", "seconds")
    for c in done:
        table.add_row(c.column, c.was, str(c.rows), f"{c.seconds:.1f}")
    console.print(table)


@db_app.command("roles")
def db_roles(
    passwords: Annotated[
        Path,
        typer.Option(
            help="JSON file of role -> password; a role missing from it gets a random one,"
            " written back (mode 0600)"
        ),
    ],
) -> None:
    """Create (or set the passwords of) every service's owner and runtime role and
    Grafana's, give each schema to its owner and apply the grants (docs/security.md).
    Run once per database as its owner/superuser (RCM_DATABASE_URL), and again to rotate."""
    import asyncio

    import asyncpg

    from rcm.stack_roles import kept_secrets
    from runtime import pgroles

    async def run() -> None:
        conn = await asyncpg.connect(settings().database_url)
        try:
            await pgroles.ensure_roles(conn, kept_secrets(passwords, pgroles.all_roles()))
        finally:
            await conn.close()

    try:
        asyncio.run(run())
    except (OSError, asyncpg.PostgresError) as exc:
        fail(f"cannot set up the roles: {type(exc).__name__}")
    typer.echo(f"{len(pgroles.all_roles())} roles ready; passwords in {passwords}")


@app.command()
def demo(
    encounters: Annotated[int, typer.Option(min=1, max=100_000)] = 200,
    seed: Annotated[int, typer.Option()] = 7,
    out: Annotated[Path, typer.Option()] = Path("demo-out"),
    timeout: Annotated[float, typer.Option(help="seconds to wait for every claim")] = 900,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="send the day through the gateway, then keep everything up and print a"
            " sign-in link for a demo biller (Ctrl-C stops)",
        ),
    ] = False,
) -> None:
    """Run a synthetic family-medicine day through every service and print the summary."""
    from rcm import demo as demo_mod
    from rcm.processes import ProcessError
    from rcm.stack_base import StackError

    try:
        result = demo_mod.run(
            settings(), encounters=encounters, seed=seed, out=out, timeout=timeout, serve=serve
        )
    except (StackError, ProcessError, demo_mod.DemoError) as exc:
        fail(str(exc))
    if not serve:  # --serve printed it before it held the services up
        print_summary(result, out)
    if result["pending"]:
        fail(f"{result['pending']} claims did not settle")
    if result["unreconciled_cents"]:
        fail(
            f"the run's money does not reconcile: {result['unreconciled_cents']} cents of the"
            " charges are neither paid, adjusted, the patients' share nor held for a person"
        )
    if result["patient_money_unreconciled_cents"]:
        fail(
            f"the patients' money does not reconcile: {result['patient_money_unreconciled_cents']}"
            " cents paid are neither on a claim, held as a credit nor refunded"
        )


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
    table.add_row("secondary claims sent", str(result["secondary_claims"]))
    table.add_row("paid by secondary payers", usd("secondary_paid_cents"))
    table.add_row("crossed over by the payer", str(result["crossover_claims"]))
    table.add_row("QMB cost sharing written off", usd("qmb_written_off_cents"))
    table.add_row("written off (small balances, reasons)", usd("written_off_cents"))
    table.add_row("paid by patients", usd("patient_paid_cents"))
    table.add_row("refunded to patients", usd("refunded_cents"))
    table.add_row("patient credit held", usd("credit_held_cents"))
    table.add_row("lines underpaid against contract", str(result.get("underpaid_lines", 0)))
    table.add_row("denied or reduced lines (work items)", str(result["line_denials"]))
    table.add_row("appeals (overturned)", f"{result['appeals']} ({result['appeals_overturned']})")
    if result["self_pay_cents"]:
        table.add_row("self-pay visits (billed to the patient)", usd("self_pay_cents"))
    table.add_row("held for a person (work queues)", usd("waiting_for_a_person_cents"))
    table.add_row("unreconciled", usd("unreconciled_cents"))
    table.add_row("statements", str(result["statements"]))
    for state, count in dict(result["by_state"]).items():  # type: ignore[call-overload]
        table.add_row(f"  {state}", str(count))
    table.add_row("settled in", f"{result['seconds_to_settle']} s")
    console.print(table)
    typer.echo(f"wrote {out / 'summary.json'}, {out / 'x12'}, {out / 'statements'}")


def _register_subcommands() -> None:
    """Each area keeps its commands in rcm/cli_<area>.py; one line each here."""
    from rcm import (
        cli_appeals,
        cli_code,
        cli_collections,
        cli_contracts,
        cli_coverage,
        cli_fhir,
        cli_keys,
        cli_ops,
        cli_partners,
        cli_payer_rules,
        cli_payers,
        cli_users,
        cli_x12,
    )

    app.add_typer(cli_x12.app, name="x12")
    app.add_typer(cli_code.app, name="code")
    cli_code.app.command("load-payer-rules")(cli_payer_rules.load_payer_rules)
    app.add_typer(cli_coverage.app, name="coverage")
    app.add_typer(cli_payers.app, name="payers")
    app.add_typer(cli_collections.app, name="collections")
    app.add_typer(cli_appeals.app, name="appeals")
    app.add_typer(cli_contracts.app, name="contracts")
    app.add_typer(cli_partners.app, name="partners")
    app.add_typer(cli_fhir.app, name="fhir")
    app.add_typer(cli_keys.keys_app, name="keys")
    app.add_typer(cli_keys.audit_app, name="audit")
    app.add_typer(cli_users.users_app, name="users")
    app.add_typer(cli_ops.dlq_app, name="dlq")
    app.command("lag")(cli_ops.lag)
    app.command("bench")(cli_ops.bench)
    app.command("chaos")(cli_ops.chaos)


def main() -> None:
    _register_subcommands()
    app()


if __name__ == "__main__":
    main()
