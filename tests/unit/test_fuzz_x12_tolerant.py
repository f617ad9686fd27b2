"""The tolerant readers under fuzzing: a clean 835 and 271 from the project's writers,
changed at random (characters of the X12 alphabet inserted, spans deleted, segments
repeated or dropped, ids in lower case). Every outcome is a result or the reader's own
X12Error with a message: no other exception, and each read ends within a second."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.x12 import X12Error
from services.claims.x12_276 import read_277
from services.eligibility.x12_271 import parse_271, to_json
from services.remittance.x12_835.as_json import to_json as json_835
from services.remittance.x12_835.balancing import balance_problems
from services.remittance.x12_835.reader import parse_835
from tests.unit.test_x12_tolerant import CLEAN_271, CLEAN_835

pytestmark = pytest.mark.unit

T = TypeVar("T")

_ALPHABET = st.sampled_from(list("*~:^>| \n\r\t0123456789.-+ABCDEHILMNPRSTabcse\x00\ufeff"))


@st.composite
def mutated(draw: st.DrawFn, clean: str) -> str:
    segs = clean.split("~")
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["insert", "delete", "repeat", "drop", "lower", "swap"]))
        k = draw(st.integers(0, len(segs) - 1))
        if kind == "insert":
            at = draw(st.integers(0, len(segs[k])))
            junk = draw(st.text(_ALPHABET, min_size=1, max_size=6))
            segs[k] = segs[k][:at] + junk + segs[k][at:]
        elif kind == "delete":
            at = draw(st.integers(0, len(segs[k])))
            segs[k] = segs[k][:at] + segs[k][at + draw(st.integers(1, 8)) :]
        elif kind == "repeat":
            segs.insert(k, segs[k])
        elif kind == "drop" and len(segs) > 1:
            segs.pop(k)
        elif kind == "lower":
            segs[k] = segs[k].lower()
        else:
            j = draw(st.integers(0, len(segs) - 1))
            segs[k], segs[j] = segs[j], segs[k]
    return "~".join(segs)


_FUZZ = settings(max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.too_slow])


def _read(read: Callable[[str], T], text: str) -> T | None:
    """What the reader reads, or None when it refuses with its own error and a message."""
    try:
        return read(text)
    except X12Error as exc:
        problem = str(exc)
    assert problem.strip()
    assert "\n" not in problem
    return None


@_FUZZ
@given(mutated(CLEAN_835))
def test_the_835_reader_reads_or_refuses_any_change(text: str) -> None:
    rem = _read(parse_835, text)
    if rem is not None:
        balance_problems(rem)
        json_835(rem)
        for w in rem.warnings:
            assert w.message
            assert min(w.segment, w.position) >= 0


@_FUZZ
@given(mutated(CLEAN_271))
def test_the_271_reader_reads_or_refuses_any_change(text: str) -> None:
    reply = _read(parse_271, text)
    if reply is not None:
        to_json(reply)


@_FUZZ
@given(mutated(CLEAN_271.replace("ST*271*", "ST*277*")))
def test_the_277_reader_refuses_with_its_own_error(text: str) -> None:
    _read(read_277, text)
