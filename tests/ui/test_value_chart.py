"""The Overview's value chart, drawn on the server: amounts on hover in the dashboard's number style, gaps,
stacking, the net money in line, round axes, the period buttons."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise

from portfolio_dashboard.ui import chart_axes, fmt, value_chart
from tests.ui import chart_markup


def _points(path: str) -> list[list[tuple[float, float]]]:
    """Each piece of a path (``M … L … Z``) as its (x, y) points."""
    return [[(float(x), float(y)) for x, y in re.findall(r"(-?[\d.]+),(-?[\d.]+)", piece)]
            for piece in path.split("M")[1:]]


def test_hover_shows_every_series_in_the_number_style_and_the_axis_fits_what_is_drawn() -> None:
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(3)]
    chart = chart_markup.read(value_chart.html(days, {"IB ••••0001": [Decimal("1000.5"), None, Decimal("1200")]},
                                               "GBP", stacked=False, invested=[900.0, 900.0, 950.0]))
    assert chart.tips == [
        f"01 Jan 2026\nIB ••••0001: {fmt.money(Decimal('1000.5'))}\n{value_chart.INVESTED}: £900.00",
        f"02 Jan 2026\nIB ••••0001: {fmt.DASH}\n{value_chart.INVESTED}: £900.00",
        f"03 Jan 2026\nIB ••••0001: £1,200.00\n{value_chart.INVESTED}: £950.00",
    ]
    assert list(chart.areas) == ["IB ••••0001"] and chart.invested
    assert len(_points(chart.areas["IB ••••0001"])) == 2  # a day without a value is a gap, not a zero
    # each day between gaps is a dot at its value, on an axis with 8% spare each side of what is drawn
    # (876 … 1,224) and round ticks inside it
    y = {v: round((1224 - v) / 348 * 1000, 1) for v in (1000.5, 1200)}
    assert [_points(dots) for dots in chart.dots] == [[[(0, y[1000.5])], [(1000, y[1200])]]]
    assert chart.value_ticks == ["£900", "£1,000", "£1,100", "£1,200"]
    assert chart.legend == ["IB ••••0001", value_chart.INVESTED]
    assert chart.date_ticks == ["1 Jan 2026", "2 Jan", "3 Jan"]
    assert chart.date_at == {"1 Jan 2026": 0, "2 Jan": 50, "3 Jan": 100}  # under the days they name
    assert chart.label == "Value over time from 01 Jan 2026 to 03 Jan 2026; on the last day £1,200.00"


def test_each_day_owns_the_band_halfway_to_its_neighbours() -> None:
    days = [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 5)]  # not evenly spaced: placed by date
    chart = chart_markup.read(value_chart.html(days, {value_chart.PORTFOLIO: [Decimal(1)] * 3}, "GBP",
                                               stacked=False))
    assert chart.bands == [(0.0, 12.5), (12.5, 50.0), (62.5, 37.5)]
    assert chart.legend == []  # one series: no legend


def test_a_single_day_is_a_dot_with_its_date_under_it() -> None:
    chart = chart_markup.read(value_chart.html([date(2026, 1, 1)], {value_chart.PORTFOLIO: [Decimal(5)]}, "GBP",
                                               stacked=False))
    assert [_points(dots) for dots in chart.dots] == [[[(500, 500)]]]  # in the middle, on a padded axis
    assert chart.date_at == {"1 Jan 2026": 50} and chart.bands == [(0.0, 100.0)]


def test_stacked_areas_sit_on_each_other_from_zero_with_a_total_on_hover() -> None:
    days = [date(2026, 1, 1), date(2026, 1, 2)]
    chart = chart_markup.read(value_chart.html(
        days, {"A": [Decimal(1), Decimal(2)], "B": [Decimal(3), None]}, "USD", stacked=True))
    assert chart.value_ticks[0] == "$0" and chart.value_ticks[-1] == "$4"  # from zero to a round top
    assert chart.legend == ["A", "B"] and chart.invested is None  # no invested line on stacked accounts
    (a,) = _points(chart.areas["A"])
    (b,) = _points(chart.areas["B"])
    y = {tick: 1000 - tick / 4 * 1000 for tick in range(5)}
    assert a == [(0, y[1]), (1000, y[2]), (1000, y[0]), (0, y[0])]  # A from zero up to its values
    assert b == [(0, y[4]), (0, y[1])]  # B on top of A, and only where it has a value
    assert chart.tips[0].endswith("Total: $4.00") and chart.tips[1].endswith(f"Total: {fmt.DASH}")


def test_an_account_in_debt_hangs_below_zero_and_the_others_stack_from_zero() -> None:
    days = [date(2026, 1, 1), date(2026, 1, 2)]
    chart = chart_markup.read(value_chart.html(
        days, {"A": [Decimal(-5), Decimal(3)], "B": [Decimal(10), Decimal(10)]}, "USD", stacked=True))
    assert chart.value_ticks == [f"{fmt.MINUS}$5", "$0", "$5", "$10", "$15"]
    y = {tick: (15 - tick) / 20 * 1000 for tick in (-5, 0, 3, 10, 13)}
    assert _points(chart.areas["A"]) == [[(0, y[-5]), (1000, y[3]), (1000, y[0]), (0, y[0])]]
    assert _points(chart.areas["B"]) == [[(0, y[10]), (1000, y[13]), (1000, y[3]), (0, y[0])]]


def test_net_money_in_steps_on_the_day_it_moves() -> None:
    days = [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)]
    chart = chart_markup.read(value_chart.html(days, {value_chart.PORTFOLIO: [Decimal(100)] * 3}, "GBP",
                                               stacked=False, invested=[50.0, 50.0, 80.0]))
    assert chart.invested is not None
    (line,) = _points(chart.invested)
    xs = [x for x, _ in line]
    ys = [y for _, y in line]
    assert xs == [0, 500, 500, 1000, 1000] and ys[0] == ys[1] == ys[2] == ys[3] > ys[4]


def test_names_are_escaped() -> None:
    markup = value_chart.html([date(2026, 1, 1), date(2026, 1, 2)], {'<b>"x"</b>': [Decimal(1), Decimal(2)]},
                              "GBP", stacked=True)
    assert "<b>" not in markup and list(chart_markup.read(markup).areas) == ['<b>"x"</b>']


def test_value_ticks_are_round_and_tell_small_steps_apart() -> None:
    axis = chart_axes.value_axis(187_400.0, 224_900.0, extend=False)
    assert axis.ticks == (190_000, 200_000, 210_000, 220_000) and axis.decimals == 0
    assert chart_axes.value_axis(0.0, 3.7, extend=True).high == 4.0
    small = chart_axes.value_axis(1.0, 1.2, extend=False)
    assert small.decimals == 2 and small.ticks[:2] == (1.0, 1.05)
    for low, high in ((10_000.0, 10_010.0), (0.0, 12.0), (1.0, 2.0), (0.3, 0.4)):  # every label its tick, exactly
        axis = chart_axes.value_axis(low, high, extend=True)
        labels = [fmt.money(Decimal(str(t)), "GBP", decimals=axis.decimals) for t in axis.ticks]
        assert [Decimal(label.lstrip("£").replace(",", "")) for label in labels] == [
            Decimal(str(t)) for t in axis.ticks], labels


def test_an_unstacked_account_in_debt_is_drawn_below_zero() -> None:
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(3)]
    chart = chart_markup.read(value_chart.html(days, {"A": [Decimal(-500), Decimal(-400), Decimal(-300)]}, "GBP",
                                               stacked=False))
    assert chart.value_ticks[0].startswith(f"{fmt.MINUS}£") and chart.value_ticks[-1].startswith(f"{fmt.MINUS}£")
    (area,) = _points(chart.areas["A"])
    assert all(0 <= y <= 1000 for _, y in area)  # inside the plot, filled up to the top edge (nearer zero)
    assert area[-1][1] == 0


def test_names_stay_on_one_line_inside_the_html() -> None:
    """A line break in a name would end Markdown's HTML block and have the rest read as Markdown."""
    name = "IB ••••0001\n\n**x** $a$"
    markup = value_chart.html([date(2026, 1, 1), date(2026, 1, 2)], {name: [Decimal(1), Decimal(2)]}, "GBP",
                              stacked=True, invested=[1.0, 1.0])
    assert "\n" not in markup.split("</style>", 1)[1]
    chart = chart_markup.read(markup)
    assert list(chart.areas) == ["IB ••••0001 **x** $a$"] and chart.legend[0] == "IB ••••0001 **x** $a$"
    assert chart.tips[0].splitlines()[1] == f"IB ••••0001 **x** $a$: {fmt.money(Decimal(1))}"


def test_date_ticks_are_calendar_steps_with_the_year_where_a_reader_needs_it() -> None:
    labels = [t.label for t in chart_axes.date_ticks(date(2025, 12, 6), date(2026, 12, 5))]
    assert labels == ["2026", "Mar", "May", "Jul", "Sep", "Nov"]  # every other month, the year on January
    labels = [t.label for t in chart_axes.date_ticks(date(2026, 3, 10), date(2026, 9, 5))]
    assert labels == ["Apr 2026", "May", "Jun", "Jul", "Aug", "Sep"]
    years = chart_axes.date_ticks(date(2016, 7, 1), date(2026, 6, 30))
    assert [t.label for t in years] == ["2018", "2020", "2022", "2024", "2026"]
    weeks = chart_axes.date_ticks(date(2026, 11, 5), date(2026, 12, 5))
    assert [t.day.weekday() for t in weeks] == [0] * len(weeks) and len(weeks) <= 8  # Mondays
    assert weeks[0].label == "9 Nov 2026"
    new_year = [t.label for t in chart_axes.date_ticks(date(2025, 12, 20), date(2026, 1, 20))]
    assert new_year == ["22 Dec 2025", "29 Dec", "5 Jan 2026", "12 Jan", "19 Jan"]  # the year where it starts


def test_a_phone_gets_its_own_fewer_date_ticks_with_the_year_where_it_starts() -> None:
    days = [date(2025, 6, 15) + timedelta(days=i) for i in range(0, 397, 3)]
    chart = chart_markup.read(value_chart.html(days, {"P": [Decimal(1)] * len(days)}, "GBP", stacked=False))
    assert chart.date_ticks == ["Jul 2025", "Sep", "Nov", "2026", "Mar", "May", "Jul"]
    assert chart.phone_date_ticks == ["Jul 2025", "2026", "Jul"]


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
