"""270 writer and 271 reader: x12sdk reads what we write, we read what payers write."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest
from typer.testing import CliRunner
from x12sdk.generate import generate_271
from x12sdk.io import X12ModelReader

from rcm.cli_x12 import app as x12_cli
from runtime.x12 import Envelope, X12Error
from services.eligibility.domain import Verify, figures, inquiry_for, precheck
from services.eligibility.x12_270 import write_270
from services.eligibility.x12_271 import parse_271, to_json
from tests.builders import encounter
from tests.unit.factories import coverage, dependent_coverage

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent.parent / "fixtures" / "x12"
ENV = Envelope("ZZ", "RCMPIPELINE", "ZZ", "SIMCLEARHOUSE", "HS", "", 42, 42)


def _sdk_members(
    text: str,
) -> list[tuple[str | None, bool, tuple[str | None, str | None], tuple[str, ...]]]:
    out = []
    with X12ModelReader(text) as reader:
        for model in reader.models():
            for m in cast(Any, model).members():
                out.append((m.member_id, m.is_dependent, m.name, m.service_type_codes))
    return out


def _verify(enc: Any) -> Verify:
    v = precheck("C1", enc, list(enc.coverages))
    assert isinstance(v, Verify)
    return v


def test_a_270_for_the_subscriber_reads_back_in_x12sdk() -> None:
    enc = encounter(coverages=[coverage(payer_id="PPO01", member_id="BMP123456789")])
    text = write_270(inquiry_for(enc, _verify(enc).primary, trace="000000042"), envelope=ENV)
    assert _sdk_members(text) == [("BMP123456789", False, ("RIVERA", "ALEX"), ("30", "98"))]
    assert "DTP*291*D8*20250314~" in text
    assert "TRN*1*000000042*9123456789~" in text


def test_a_270_for_a_dependent_names_the_subscriber_and_asks_about_the_child() -> None:
    enc = encounter(
        coverages=[dependent_coverage(payer_id="PPO01", member_id="BMP123456789")],
        documentation={"visit_type": "preventive"},
    )
    text = write_270(inquiry_for(enc, _verify(enc).primary, trace="7"), envelope=ENV)
    assert _sdk_members(text) == [("BMP123456789", True, ("RIVERA", "ALEX"), ("30", "BZ"))]
    assert "HL*3*2*22*1~" in text
    assert "HL*4*3*23*0~" in text
    assert "NM1*IL*1*RIVERA*JORDAN****MI*BMP123456789~" in text
    assert "INS*N*19~" in text


def test_the_subscriber_sample_reads_as_active_with_its_in_network_copay() -> None:
    reply = parse_271((FIXTURES / "X279-response-subscriber.edi").read_text())
    [r] = reply.responses
    assert (r.member_id, r.active, r.dependent) == ("123456789", True, False)
    copays = [(b.amount_cents, b.in_network, b.time_period) for b in r.benefits if b.code == "B"]
    assert copays == [(1000, True, "27"), (3000, False, "27")]
    assert "98" in r.benefits[2].service_types  # repeated with the ISA11 '>' separator
    assert figures(r.benefits, ("30", "98")).copay_cents == 1000  # never the out-of-network 30
    assert r.coverage_begins == dt.date(2006, 1, 1)


def test_the_dependent_sample_answers_for_the_dependent_only() -> None:
    reply = parse_271((FIXTURES / "X279-response-dependent.edi").read_text())
    [r] = reply.responses
    assert (r.member_id, r.active, r.dependent) == ("123456789", True, True)
    assert r.trace_numbers == ["93175-012547"]
    assert [
        m[:2] for m in _sdk_members((FIXTURES / "X279-response-dependent.edi").read_text())
    ] == [("123456789", True)]


def test_the_error_sample_reads_as_its_aaa_reason() -> None:
    out = to_json(
        parse_271((FIXTURES / "X279-error-response-not-eligible-for-inquiries.edi").read_text())
    )
    assert out == {
        "responses": [
            {
                "member_id": None,
                "active": None,
                "benefits": [],
                "rejections": [{"code": "50", "message": "provider ineligible for inquiries"}],
            }
        ],
        "warnings": [],
    }


@pytest.mark.parametrize("seed", [1, 2, 3, 9])
def test_generated_271s_read_the_same_members_as_x12sdk(seed: int) -> None:
    text = generate_271(seed=seed, members=6)
    ours = [
        (r.member_id, r.dependent, tuple(t for b in r.benefits for t in b.service_types))
        for r in parse_271(text).responses
    ]
    sdk = [(m[0], m[1], m[3]) for m in _sdk_members(text)]
    assert ours == sdk


def test_percent_is_a_percentage_and_amounts_stay_as_written() -> None:
    text = (
        (FIXTURES / "X279-response-subscriber.edi")
        .read_text()
        .replace("EB*L~", "EB*A*IND*30*****.15****Y~EB*C*IND*30***29*123.4*****Y~")
    )
    text = text.replace("SE*22*", "SE*23*")
    r = parse_271(text).responses[0]
    coins = next(b for b in r.benefits if b.code == "A")
    ded = next(b for b in r.benefits if b.code == "C")
    assert coins.percent == Decimal("15")
    assert (ded.amount_cents, ded.amount_text) == (12340, "123.4")


def _sample() -> str:
    return (FIXTURES / "X279-response-subscriber.edi").read_text()


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (
            lambda t: t.replace("*27*10*", "*27*1O*"),
            "EB07 is not a decimal amount: '1O' (segment 19, position 7)",
        ),
        (
            lambda t: t.replace("EB*L~", "EB*A*IND*30*****2****Y~"),
            "EB08 is not a percent between 0 and 1: '2' (segment 17, position 8)",
        ),
        (
            lambda t: t.replace("ST*271*", "ST*999*"),
            "expected a 271, found ST01 '999' (segment 3, position 1)",
        ),
        (
            lambda t: t.replace("HL*3*2*22*0", "HL*3*2*99*0"),
            "HL03 '99' is not 20, 21, 22 or 23 (segment 9, position 3)",
        ),
        (lambda t: t[: t.index("IEA")], "truncated interchange: no IEA trailer"),
        (lambda t: t[: t.index("GE*")].rstrip("~\n"), "truncated: SE is cut off"),
    ],
)
def test_a_malformed_271_names_the_segment_and_position(mutate: Any, problem: str) -> None:
    with pytest.raises(X12Error) as err:
        parse_271(mutate(_sample()))
    assert problem in str(err.value)


def test_parse_271_prints_the_json_the_issue_specifies() -> None:
    result = CliRunner().invoke(
        x12_cli, ["parse-271", str(FIXTURES / "X279-response-subscriber.edi")]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    [r] = out["responses"]
    assert (r["member_id"], r["active"], r["rejections"]) == ("123456789", True, [])
    assert r["benefits"][3] == {
        "code": "B",
        "service_types": ["1", "33", "35", "47", "86", "88", "98", "AL", "MH", "UC"],
        "coverage_level": None,
        "amount": "10",
        "percent": None,
        "time_period": "27",
        "in_network": True,
    }


def test_parse_271_on_a_bad_file_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    bad = tmp_path / "bad.edi"
    bad.write_text(_sample().replace("ST*271*", "ST*835*"))
    result = CliRunner().invoke(x12_cli, ["parse-271", str(bad)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"error: {bad}: expected a 271, found ST01 '835' (segment 3, position 1)"
    ]
