"""Reporting's web view: what a caller may ask, and which windows an answer covers."""

from __future__ import annotations

import pytest

from services.reporting.web import parse_query, report, window_sums

pytestmark = pytest.mark.unit

HOUR = 3600
NOW = 1_796_648_000.0  # 2026-12-07 ...:33 UTC
THIS_HOUR = NOW - NOW % HOUR


def test_a_bad_question_gets_an_answer_that_names_it() -> None:
    assert parse_query({}) == "tenant is required"
    assert (
        parse_query({"tenant": "t", "window": "week"}) == "window must be hour or day, not 'week'"
    )
    assert parse_query({"tenant": "t", "last": "0"}) == "last must be a whole number from 1 to 744"
    assert parse_query({"tenant": "t", "window": "day", "last": "x"}) == (
        "last must be a whole number from 1 to 3650"
    )
    assert parse_query({"tenant": "t"}) == ("t", "hour", 24)


def test_only_the_tenants_windows_in_range_are_summed_across_partitions() -> None:
    entries = [
        (("0|t|MCR01", (THIS_HOUR, THIS_HOUR + HOUR - 0.1)), {"submitted": 2}),
        (("3|t|MCR01", (THIS_HOUR, THIS_HOUR + HOUR - 0.1)), {"submitted": 1}),
        (("3|u|MCR01", (THIS_HOUR, THIS_HOUR + HOUR - 0.1)), {"submitted": 9}),  # another tenant
        (("1|t|MCR01", (THIS_HOUR - 2 * HOUR, THIS_HOUR - HOUR - 0.1)), {"submitted": 5}),
    ]
    sums = window_sums(entries, "t", HOUR, NOW, last=2)  # this hour and the one before
    body = report(sums, "t", "hour", HOUR)
    assert [w["claims_submitted"] for w in body["windows"]] == [3]
    assert body["total"]["by_payer"]["MCR01"]["claims_submitted"] == 3
    wider = report(window_sums(entries, "t", HOUR, NOW, last=3), "t", "hour", HOUR)
    assert [w["claims_submitted"] for w in wider["windows"]] == [5, 3]
    assert wider["windows"][0]["start"].endswith(":00:00+00:00")
