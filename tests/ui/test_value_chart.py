"""The Overview's value chart spec: amounts on hover in the dashboard's number style, the period buttons."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise

from portfolio_dashboard.ui import fmt, value_chart


def test_hover_shows_every_series_in_the_number_style_and_the_axis_fits_what_is_drawn() -> None:
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(3)]
    spec = value_chart.spec(days, {"IB ••••0001": [Decimal("1000.5"), None, Decimal("1200")]}, "GBP",
                            stacked=False, invested=[900.0, 900.0, 950.0])
    hover = spec["datasets"]["hover"]
    assert list(hover["when"]) == ["01 Jan 2026", "02 Jan 2026", "03 Jan 2026"]
    assert list(hover["t0"]) == [fmt.money(Decimal("1000.5")), fmt.DASH, fmt.money(Decimal("1200"))]
    assert list(hover["tin"]) == ["£900.00", "£900.00", "£950.00"]
    titles = [t["title"] for t in spec["layer"][-1]["encoding"]["tooltip"]]
    assert titles == ["Day", "IB ••••0001", value_chart.INVESTED]
    lines, invested = spec["datasets"]["lines"], spec["datasets"]["invested"]
    assert list(lines["series"]) == ["IB ••••0001"] * 3 and list(invested["series"]) == [value_chart.INVESTED] * 3
    assert list(invested["value"]) == [900.0, 900.0, 950.0]
    assert lines["value"].isna().sum() == 1  # a day without a value is a gap, not a zero
    # each layer draws its own dataset: no per-row filter for the browser to evaluate
    assert [layer["data"]["name"] for layer in spec["layer"]] == ["lines", "invested", "hover"]
    assert not any("transform" in layer for layer in spec["layer"])
    low, high = spec["layer"][0]["encoding"]["y"]["scale"]["domain"]
    assert low == 900 - 300 * 0.08 and high == 1200 + 300 * 0.08


def test_stacked_areas_have_a_legend_and_start_at_zero() -> None:
    days = [date(2026, 1, 1), date(2026, 1, 2)]
    spec = value_chart.spec(days, {"A": [Decimal(1), Decimal(2)], "B": [Decimal(3), Decimal(4)]}, "USD",
                            stacked=True)
    area = spec["layer"][0]
    assert area["encoding"]["y"]["stack"] == "zero" and "scale" not in area["encoding"]["y"]
    assert area["encoding"]["color"]["scale"]["domain"] == ["A", "B"]
    assert "'$'" in area["encoding"]["y"]["axis"]["labelExpr"]
    assert len(spec["layer"]) == 2  # the areas and the hover rule: no invested line on stacked accounts


def test_period_buttons_end_on_the_newest_day_charted() -> None:
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(500)]
    newest = days[-1]  # 15 May 2026
    assert value_chart.first_day(days, "All") is None
    assert value_chart.first_day(days, "1M") == date(2026, 4, 16)
    assert value_chart.first_day(days, "YTD") == date(newest.year, 1, 1)
    assert value_chart.first_day(days, "1Y") == date(2025, 5, 16)


def test_a_long_history_is_thinned_to_evenly_spaced_days_with_the_newest() -> None:
    days = [date(2016, 7, 1) + timedelta(days=i) for i in range(3650)]
    kept = value_chart.thin(days)
    assert len(kept) <= value_chart.MOST_DAYS + 1 and kept[0] == days[0] and kept[-1] == days[-1]
    assert len({b - a for a, b in pairwise(kept[:-1])}) == 1  # evenly spaced (the newest day added last)
    assert value_chart.thin(days[:30]) == days[:30]  # a short period keeps every day
