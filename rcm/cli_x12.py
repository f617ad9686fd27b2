"""`rcm x12 ...`: X12 tools."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from pydantic import ValidationError

from rcm import x12_transfer
from rcm.cliutil import fail, read_text
from runtime.settings import settings

app = typer.Typer(no_args_is_help=True, help="X12 tools.")
app.command("import")(x12_transfer.import_command)
app.command("send")(x12_transfer.send_command)


@app.command("render-837")
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


#: `parse-835`'s exit status for a file that reads but does not balance (1: unreadable).
UNBALANCED = 3


def _read_x12(file: Path, limit: int) -> str:
    """The file's text; refused by its size before it is read when it is too large."""
    try:
        size = file.stat().st_size
    except OSError:
        size = 0  # read_text names the problem
    if size > limit:
        fail(f"{file}: the file is {size:,} bytes, more than the {limit:,} an X12 file may have")
    return read_text(file)


@app.command("parse-835")
def parse_835(file: Path) -> None:
    """Print an 835 as JSON: payments, claims, lines, CAS, PLB; amounts as stated; the
    faults read through under ``warnings``. A file that does not balance (the check
    posting makes) is printed with its ``problems`` and exits 3. Claims are read, checked
    and written one at a time, so a large file is never held as records all at once."""
    from rcm.jsonspool import ListSpool
    from runtime.x12 import X12Error
    from services.remittance.x12_835.as_json import claim_json, rest_json
    from services.remittance.x12_835.balancing import Balance
    from services.remittance.x12_835.model import RemitClaim
    from services.remittance.x12_835.reader import MAX_FILE
    from services.remittance.x12_835.reader import parse_835 as parse

    text = _read_x12(file, MAX_FILE)
    check = Balance()
    with ListSpool(claim_json) as claims:

        def each(c: RemitClaim) -> None:
            check.claim(c)
            claims(c)

        try:
            rem = parse(text, on_claim=each)
        except X12Error as exc:
            fail(f"{file}: {exc}")
        del text
        problems = check.finish(rem)
        rest = rest_json(rem)
        if problems:
            rest["problems"] = [d.as_json() for d in problems]
        claims.write(sys.stdout, {"payments": rest.pop("payments")}, "claims", rest)
    if problems:
        typer.echo(
            f"error: {file}: does not balance ({len(problems)} problems): {problems[0].message}",
            err=True,
        )
        raise typer.Exit(UNBALANCED)


@app.command("parse-271")
def parse_271(file: Path) -> None:
    """Print a 271 as JSON: per member, active or not, benefits and AAA rejections; the
    faults read through under ``warnings``. Written one member at a time."""
    from rcm.jsonspool import ListSpool
    from runtime.x12 import X12Error
    from services.eligibility.x12_271 import MAX_FILE, response_json
    from services.eligibility.x12_271 import parse_271 as parse

    text = _read_x12(file, MAX_FILE)
    with ListSpool(response_json) as responses:
        try:
            reply = parse(text, on_response=responses)
        except X12Error as exc:
            fail(f"{file}: {exc}")
        del text
        warnings = [x.as_json() for x in reply.warnings]
        responses.write(sys.stdout, {}, "responses", {"warnings": warnings})
