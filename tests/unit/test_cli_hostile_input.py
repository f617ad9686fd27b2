"""Hostile files at the command line: JSON nested past any sense or with integers past an
int64 gets one line and a non-zero exit from `rcm code check` and `rcm fhir import`, never
a traceback; `rcm x12 parse-835` never exits 0 on a file whose money does not balance,
whatever was changed in it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from rcm.cli_code import app as code_app
from rcm.cli_fhir import app as fhir_app
from rcm.cli_x12 import app as x12_app
from rcm.workload import generate_day
from runtime.x12 import X12Error
from services.remittance.x12_835.balancing import balance_problems
from services.remittance.x12_835.reader import parse_835
from tests.unit.test_x12_tolerant import CLEAN_835

pytestmark = pytest.mark.unit

runner = CliRunner()

DEEP = "[" * 100_000 + "]" * 100_000
DEEP_BUT_PARSEABLE = '{"a":' * 70 + "1" + "}" * 70
HUGE = '{"encounter_id": "E1", "n": ' + "9" * 5000 + "}"
LONG = '{"encounter_id": "E1", "lines": [{"units": ' + "9" * 40 + "}]}"


def _one_line_error(r: Result) -> str:
    assert r.exit_code == 1, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (DEEP, "JSON past a limit: nested deeper than 64 levels"),
        (DEEP_BUT_PARSEABLE, "JSON past a limit: nested deeper than 64 levels at $.a.a.a"),
        (HUGE, "JSON past a limit: an integer of more than 19 digits"),
        (LONG, "JSON past a limit: the integer at $.lines[0].units has 40 digits, at most 19"),
    ],
)
@pytest.mark.parametrize("command", ["code check", "fhir import"])
def test_json_past_a_limit_is_one_line_naming_it(
    tmp_path: Path, text: str, problem: str, command: str
) -> None:
    path = tmp_path / "hostile.json"
    path.write_text(text)
    if command == "code check":
        app, args = code_app, ["check", str(path)]
    else:  # the fhir app's one command is its root
        app, args = fhir_app, [str(path), "--dry-run"]
    line = _one_line_error(runner.invoke(app, args))
    assert line.startswith(f"error: {path}: {problem}")


def test_an_encounter_within_the_limits_is_still_checked(tmp_path: Path) -> None:
    path = tmp_path / "enc.json"
    path.write_text(generate_day(1, seed=7)[0].model_dump_json())
    r = runner.invoke(code_app, ["check", str(path)])
    assert r.exit_code == 0, r.output
    assert "findings" in json.loads(r.stdout)


_AMOUNTS = ["*190*", "*125*", "*25~", "*220.85*", "*17.52~", "*-1.25~"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_AMOUNTS),
    st.integers(-99999, 99999),
    st.sampled_from(["", " ", "~", "*", "\n"]),
)
def test_parse_835_never_exits_0_on_money_that_does_not_balance(
    tmp_path_factory: pytest.TempPathFactory, where: str, cents: int, junk: str
) -> None:
    value = f"{cents / 100:.2f}" if cents % 3 else str(cents)
    text = CLEAN_835.replace(where, where[0] + value + junk + where[-1], 1)
    path = tmp_path_factory.mktemp("fuzz") / "era.835"
    path.write_text(text)
    r = runner.invoke(x12_app, ["parse-835", str(path)])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    try:
        unbalanced = bool(balance_problems(parse_835(text)))
    except X12Error:
        unbalanced = True  # refused: also not 0
    assert (r.exit_code != 0) == unbalanced, (r.exit_code, r.output)


_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()  # unbounded: past an int64 and past Python's own digit limit
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
_JSON = st.recursive(
    _LEAVES,
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3)
    ),
    max_leaves=12,
)


@st.composite
def hostile_json(draw: st.DrawFn) -> str:
    """Any JSON value, sometimes wrapped many levels deep or holding a very long integer."""
    text = json.dumps(draw(_JSON))
    depth = draw(st.sampled_from([0, 0, 63, 65, 5000]))
    text = "[" * depth + text + "]" * depth
    if draw(st.booleans()):
        text = text.replace("null", "9" * draw(st.integers(15, 6000)), 1)
    return text


@settings(max_examples=80, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_json(), st.sampled_from(["code check", "fhir import"]))
def test_any_json_into_the_json_commands_is_an_answer_or_one_line(
    tmp_path_factory: pytest.TempPathFactory, text: str, command: str
) -> None:
    path = tmp_path_factory.mktemp("json") / "in.json"
    path.write_text(text)
    if command == "code check":
        r = runner.invoke(code_app, ["check", str(path)])
    else:
        r = runner.invoke(fhir_app, [str(path), "--dry-run"])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    if r.exit_code != 0:
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert r.stderr.startswith("error: ")
