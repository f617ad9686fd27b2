"""Payer rules files: what a billing user writes, what it means, and the errors a bad
file gets (every bad row and column named, nothing loaded)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from services.coding.payer_rules import (
    COLUMNS,
    Limit,
    RuleBook,
    RuleFileError,
    expand_codes,
    parse,
)

pytestmark = pytest.mark.unit

HEADER = ",".join(COLUMNS) + "\n"
DEMO = Path(__file__).resolve().parents[2] / "rcm" / "payer_rules"


def test_codes_ranges_and_every_code() -> None:
    assert len(expand_codes("99381-99387 99391-99397")) == 14
    assert expand_codes("G0438-G0439 g0402") == {"G0438", "G0439", "G0402"}
    assert expand_codes("0001F-0003F") == {"0001F", "0002F", "0003F"}
    assert expand_codes("*") == {"*"}
    with pytest.raises(ValueError, match="'G0438-H0001' is not a range"):
        expand_codes("G0438-H0001")
    with pytest.raises(ValueError, match="'99397-99381' is not a range"):
        expand_codes("99397-99381")
    with pytest.raises(ValueError, match="'9938' is not a procedure code"):
        expand_codes("9938")


def test_cms_month_counting_for_a_yearly_service() -> None:
    """42 CFR 410.15: 11 full months after the month of the last visit."""
    yearly = Limit(1, "months", 12)
    last = dt.date(2025, 5, 20)
    assert yearly.within(dt.date(2026, 4, 30), last)
    assert not yearly.within(dt.date(2026, 5, 1), last)
    assert yearly.payable_from(last) == dt.date(2026, 5, 1)
    decade = Limit(1, "months", 120)
    assert decade.payable_from(dt.date(2016, 12, 3)) == dt.date(2026, 12, 1)


def test_days_calendar_year_and_lifetime() -> None:
    assert Limit(1, "days", 365).within(dt.date(2026, 4, 4), dt.date(2025, 4, 5))
    assert not Limit(1, "days", 365).within(dt.date(2026, 4, 5), dt.date(2025, 4, 5))
    assert Limit(1, "days", 365).payable_from(dt.date(2025, 4, 5)) == dt.date(2026, 4, 5)
    assert not Limit(1, "calendar-year").within(dt.date(2026, 1, 1), dt.date(2025, 12, 31))
    assert Limit(1, "calendar-year").payable_from(dt.date(2025, 6, 1)) == dt.date(2026, 1, 1)
    assert Limit(1, "lifetime").within(dt.date(2026, 1, 1), dt.date(1999, 1, 1))
    assert Limit(1, "lifetime").payable_from(dt.date(2020, 1, 1)) is None


def test_a_bad_file_names_every_row_and_column() -> None:
    text = HEADER + (
        "MCR01,frequency,G0439,,,once a year,,2024-01-01,\n"
        "\n"
        "MCR01,requires-modifier,99213,,,,,2024-01-01,\n"
        "MCR01,covers,99397,,,1 per lifetime,,2024-01-01,\n"
        "MCR01,telehealth,99213,95,2,,,2026-02-30,\n"
        "MCR01,prior-auth,72148,,,,,2026-01-01,2025-01-01\n"
        "MCR01,prior-auth,72148,,,,,2026-01-01,,extra\n"
        "MCR01,bypass-modifiers,,59,,,,2026-01-01,\n"
    )
    with pytest.raises(RuleFileError) as exc:
        parse(text)
    assert exc.value.problems == [
        "row 2, column limit: 'once a year' is not 'N per M months', 'N per D days',"
        " 'N per calendar year' or 'N per lifetime'",
        "row 4, column modifiers: is required for rule requires-modifier",
        "row 5, column limit: is only for rule frequency, not covers",
        "row 6, column place_of_service: '2' is not a two-digit place of service",
        "row 6, column effective_date: '2026-02-30' is not a YYYY-MM-DD date",
        "row 7, column end_date: 2025-01-01 is before effective_date 2026-01-01",
        "row 8: more cells than the header has columns",
        "row 9, column codes: is required for rule bypass-modifiers",
    ]


def test_a_file_without_the_columns_or_rules_is_refused() -> None:
    with pytest.raises(RuleFileError, match="row 1: the header lacks related_codes"):
        parse("payer_id,rule,codes,modifiers,place_of_service,limit,effective_date,end_date\n")
    with pytest.raises(RuleFileError, match="the file holds no rules"):
        parse(HEADER + ",,,,,,,,\n")


def test_a_payers_rules_in_force_on_the_date_of_service() -> None:
    book = RuleBook(
        parse(
            HEADER + "PPO01,prior-auth,J1745,,,,,2025-07-01,2026-06-30\n"
            "PPO01,frequency,99396,,,1 per calendar year,99381-99397,2024-01-01,\n"
            "MCR01,frequency,G0439,,,1 per 12 months,G0438 G0439,2024-01-01,\n"
        )
    )
    assert book.for_claim("PPO01", dt.date(2025, 6, 30)).kind("prior-auth") == ()
    assert len(book.for_claim("PPO01", dt.date(2026, 6, 30)).kind("prior-auth")) == 1
    assert book.for_claim("PPO01", dt.date(2026, 7, 1)).kind("prior-auth") == ()
    assert book.for_claim("ACME1", dt.date(2026, 1, 1)).rules == ()
    assert book.for_claim(None, dt.date(2026, 1, 1)).rules == ()
    assert book.history_codes("MCR01") == {"G0438", "G0439"}
    assert len(book.history_codes("PPO01")) == 17  # a numeric range: 99388-99390 too


def test_the_demo_payers_files_load() -> None:
    files = sorted(DEMO.glob("*.csv"))
    assert [f.stem for f in files] == ["HDHP1", "MCD01", "MCR01", "PPO01"]
    for f in files:
        rules = parse(f.read_text(encoding="utf-8"))
        assert {r.payer_id for r in rules} == {f.stem}
