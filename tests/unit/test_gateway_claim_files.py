"""The claim page reads a claim's part of the 837P it went out in as a person would: the
claim's own diagnoses and lines, never a neighbour's (the interchange carries several
claims), a replacement with the payer's claim number it replaces; and CARC in words."""

from __future__ import annotations

import pytest

from services.gateway.claim_files import carc_words, read_837
from tests.unit.test_x12_837 import mixed_batch, render, segs

pytestmark = pytest.mark.unit


def test_each_claim_of_a_batch_is_read_alone() -> None:
    text = render(*mixed_batch())
    clms = {s[1]: s for s in segs(text) if s[0] == "CLM"}
    assert len(clms) == 5
    reads = {pcn: read_837(text, pcn) for pcn in clms}
    for pcn, read in reads.items():  # each claim's own total, as its CLM02 says
        assert read is not None
        assert read["pcn"] == pcn
        assert read["charge_cents"] == sum(ln["charge_cents"] for ln in read["lines"])
    codes = sorted(tuple(ln["code"] for ln in r["lines"]) for r in reads.values() if r)
    assert codes == [("99213",), ("99213",), ("99213",), ("99213", "87880"), ("99214",)]
    first = next(r for r in reads.values() if r and len(r["lines"]) == 2)
    assert first["diagnoses"] == ["J06.9", "R05.9", "E11.9"]
    assert first["frequency"] == "original"
    assert [(ln["code"], ln["modifiers"], ln["units"]) for ln in first["lines"]] == [
        ("99213", ["25"], "1"),
        ("87880", ["QW", "59", "XU", "76"], "2"),
    ]
    assert first["lines"][1]["charge_cents"] == 3050
    assert first["lines"][0]["date"]  # DTP*472
    replaced = [r for r in reads.values() if r and r["frequency"] == "replacement"]
    assert [r["original_ref"] for r in replaced] == ["PAYERCLM123"]


def test_a_claim_not_in_the_file_or_a_broken_file_reads_as_nothing() -> None:
    text = render(*mixed_batch())
    assert read_837(text, "NOT-IN-THIS-FILE") is None
    assert read_837("not x12 at all", "X") is None


def test_adjustment_codes_read_in_words() -> None:
    assert carc_words("CO", "45") == "contractual obligation: above the fee schedule"
    assert carc_words("PR", "2").startswith("patient responsibility")
