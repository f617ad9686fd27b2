"""Large files: the 835 and 271 readers hand records over one at a time, so reading a
file holds what one claim or member needs, not the whole file as records; what
`rcm x12 parse-835`/`parse-271` print that way is the document the readers' JSON is."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rcm.cli_x12 import app as x12_cli
from runtime.x12 import X12Error
from scripts.big_x12 import big_271, big_835
from services.eligibility.x12_271 import Response, parse_271
from services.eligibility.x12_271 import to_json as json_271
from services.remittance.x12_835.as_json import to_json as json_835
from services.remittance.x12_835.balancing import Balance, balance_problems
from services.remittance.x12_835.model import RemitClaim, Remittance
from services.remittance.x12_835.reader import ClaimStream, parse_835
from tests.unit.test_x12_tolerant import CLEAN_271, CLEAN_835

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent.parent / "fixtures" / "x12"


def _cli(tmp_path: Path, command: str, text: str) -> dict[str, object]:
    path = tmp_path / "file.x12"
    path.write_text(text)
    r = CliRunner().invoke(x12_cli, [command, str(path)])
    assert r.exit_code == 0, r.output
    out: dict[str, object] = json.loads(r.stdout)
    return out


@pytest.mark.parametrize(
    "text",
    [
        CLEAN_835,
        CLEAN_835.replace("SE*45*", "SE*4*"),  # with a warning
        (FIXTURES / "X221-dollars-and-data-sent-together.edi").read_text(),
        big_835(20_000),
    ],
)
def test_parse_835_prints_the_document_the_reader_reads(tmp_path: Path, text: str) -> None:
    assert _cli(tmp_path, "parse-835", text) == json_835(parse_835(text))


@pytest.mark.parametrize(
    "text",
    [
        CLEAN_271,
        (FIXTURES / "X279-response-dependent.edi").read_text(),  # a silent subscriber level
        (FIXTURES / "X279-error-response-not-eligible-for-inquiries.edi").read_text(),
        big_271(20_000),
    ],
)
def test_parse_271_prints_the_document_the_reader_reads(tmp_path: Path, text: str) -> None:
    assert _cli(tmp_path, "parse-271", text) == json_271(parse_271(text))


def test_an_unreadable_835_prints_nothing_but_its_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.835"
    text = big_835(20_000)
    path.write_text(text[: len(text) - 200])  # cut off near the end, after many claims
    r = CliRunner().invoke(x12_cli, ["parse-835", str(path)])
    assert r.exit_code == 1
    assert r.stdout == ""
    assert r.stderr.startswith(f"error: {path}: truncated")


def _peak(read: object) -> int:
    tracemalloc.start()
    try:
        read()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_reading_claim_by_claim_holds_what_one_claim_needs_whatever_the_size() -> None:
    small, large = big_835(100_000), big_835(1_000_000)  # 10 times as many claims
    seen = {"claims": 0}

    def each(c: RemitClaim) -> None:
        check.claim(c)
        seen["claims"] += 1

    check = Balance()
    peak_large = _peak(lambda: parse_835(large, on_claim=each))
    assert seen["claims"] > 3_000
    assert check.found == []
    check = Balance()
    peak_small = _peak(lambda: parse_835(small, on_claim=each))
    assert peak_large < 2 * peak_small + 64_000  # not ten times: it does not grow with size
    kept = _peak(lambda: parse_835(large))
    assert kept > 10 * peak_large  # what holding every claim would take


def test_reading_member_by_member_holds_what_one_member_needs() -> None:
    large = big_271(1_000_000)
    members: list[str | None] = []

    def each(r: Response) -> None:
        members.append(None if r.active else r.member_id)

    peak = _peak(lambda: parse_271(large, on_response=each))
    assert len(members) > 4_000
    assert set(members) == {None}  # every member read as active
    assert peak < _peak(lambda: parse_271(large)) / 10
    assert balance_problems(parse_835(big_835(20_000))) == []


@pytest.mark.parametrize(
    "text",
    [
        CLEAN_835,
        CLEAN_835.replace("SE*45*", "SE*4*"),  # with a warning
        (FIXTURES / "X221-dollars-and-data-sent-together.edi").read_text(),
        big_835(50_000),
    ],
)
def test_the_claim_stream_reads_what_the_whole_reader_reads(text: str) -> None:
    whole = parse_835(text)
    stream = ClaimStream(text)
    assert tuple(stream) == whole.claims
    assert stream.rest == Remittance(whole.payments, (), whole.provider_adjustments, whole.warnings)


def test_a_small_835_is_read_once_and_a_large_one_again() -> None:
    """Remittance walks an 835 twice (balance, then post): a file of at most ``keep``
    claims is parsed once, its claims kept; a larger one is parsed again, never held."""
    text = big_835(3_000)  # 11 claims
    whole = parse_835(text)
    small = ClaimStream(text, keep=11)
    assert tuple(small) == whole.claims
    other = CLEAN_835  # a second read of the text would give its claims
    assert parse_835(other).claims != whole.claims
    small.text = other
    assert tuple(small) == whole.claims
    large = ClaimStream(text, keep=10)
    assert tuple(large) == whole.claims
    large.text = other
    assert tuple(large) == parse_835(other).claims


def test_the_claim_stream_refuses_what_the_whole_reader_refuses() -> None:
    text = big_835(20_000)
    cut = text[: len(text) - 200]
    with pytest.raises(X12Error) as whole:
        parse_835(cut)
    with pytest.raises(X12Error) as streamed:
        list(ClaimStream(cut))
    assert str(streamed.value) == str(whole.value)
    assert str(streamed.value).startswith("truncated")
    with pytest.raises(X12Error, match="more than the 1,000 an 835 may have"):
        ClaimStream(text, max_file=1_000)
