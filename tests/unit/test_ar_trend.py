"""Days in A/R, day by day: total A/R at the end of the day / average daily charges over
the period up to it (services/gateway/ar_trend.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from services.gateway.ar_trend import chart, trend

pytestmark = pytest.mark.unit

D = dt.date(2026, 11, 30)


def day(n: int) -> dt.date:
    return D + dt.timedelta(days=n)


def test_each_day_is_its_ar_over_the_periods_average_daily_charges() -> None:
    rows = [
        (day(-5), 3000, 3000),  # before the trend and its 3-day period: A/R only
        (day(0), 9000, 9000),  # $90 charged
        (day(1), -3000, 0),  # the payer paid $30
        (day(3), 1500, 1500),  # $15 charged
    ]
    got = trend(rows, day(3), points=4, period=3)
    assert [d.day for d in got] == [day(0), day(1), day(2), day(3)]
    assert [d.ar_cents for d in got] == [12000, 9000, 9000, 10500]
    assert [d.charges_cents for d in got] == [9000, 9000, 9000, 1500]
    # 120.00 / (90.00 / 3) = 4.0 days; 90 / 30 = 3.0; ...; 105 / (15 / 3) = 21.0
    assert [d.days_in_ar for d in got] == [
        Decimal("4.0"),
        Decimal("3.0"),
        Decimal("3.0"),
        Decimal("21.0"),
    ]


def test_a_day_without_charges_in_its_period_has_no_figure_and_breaks_the_line() -> None:
    rows = [(day(0), 6000, 6000), (day(1), -6000, 0)]
    got = trend(rows, day(4), points=5, period=2)
    assert [d.days_in_ar for d in got] == [Decimal("2.0"), Decimal("0.0"), None, None, None]
    drawn = chart(got)
    assert len(drawn["lines"]) == 1  # type: ignore[arg-type]
    assert drawn["first"] == "2026-11-30"
    assert drawn["last"] == "2026-12-04"
    assert drawn["ymax"] == 10
