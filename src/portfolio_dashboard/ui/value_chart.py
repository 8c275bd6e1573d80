"""The Overview's value chart as a Vega-Lite spec (``st.vega_lite_chart``), not Plotly.

Why: a fresh browser must fetch and parse Plotly's 4.7 MB script before it can draw anything (about 2 s of
main-thread work on the development machine, several seconds under load); Vega-Lite's is 0.8 MB. The chart
keeps what a reader used: the value over time (or one stacked area per account), the net money put in as a
dotted step line, a date axis, one hover box per day listing every series in the dashboard's number style
(``fmt.money``), and the period buttons (1M … All), which here also fit the value axis to the period.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd

from portfolio_dashboard.domain.returns.periods import resolve_period
from portfolio_dashboard.ui import fmt
from portfolio_dashboard.ui.charts import FONT, PALETTE

RANGES = {"1M": "1m", "3M": "3m", "YTD": "ytd", "1Y": "1y", "All": "all"}
INVESTED = "Net money in"
PORTFOLIO = "Portfolio"
HEIGHT = 380
# Days drawn at most: Vega's render time grows with the rows (ten years of days took over 1 s of the browser's
# main thread, on every visit; 500 days ~430 ms, 250 ~260 ms in a fresh browser on the bench history), while on
# a ~900 px chart 250 days are a point every 3-4 px, a line no eye tells from every day's.
MOST_DAYS = 250


def first_day(days: Sequence[date], choice: str) -> date | None:
    """The first day the period button ``choice`` shows (the periods end on the newest day charted)."""
    if not days or RANGES.get(choice, "all") == "all":
        return None
    return resolve_period(RANGES[choice], max(days))[0]


def thin(days: Sequence[date], most: int = MOST_DAYS) -> list[date]:
    """At most about ``most`` of ``days``, evenly spaced, always with the first and the newest (exact values of
    the days kept, never averages; the CSV download has every day)."""
    step = -(-len(days) // most)  # ceiling division
    kept = list(days[::step])
    if days and kept[-1] != days[-1]:
        kept.append(days[-1])
    return kept


def spec(
    days: Sequence[date],
    series: dict[str, Sequence[Decimal | None]],
    currency: str,
    *,
    stacked: bool,
    invested: Sequence[float | None] | None = None,
) -> dict[str, Any]:
    """``series``: label → one value per day (None where there is none); ``invested``: the net money in line."""
    labels = list(series)
    names = [*labels, INVESTED] if invested else labels
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(labels))] + ([PALETTE[1]] if invested else [])
    when = pd.to_datetime(pd.Series(list(days)))
    # One dataset per layer rather than one long table filtered per layer: Streamlit's Vega runs filters through
    # its expression interpreter, row by row, in the browser.
    long = pd.DataFrame(
        {
            "day": pd.concat([when] * len(labels), ignore_index=True),
            "series": [name for name in labels for _ in days],
            "value": [None if v is None else float(v) for name in labels for v in series[name]],
        }
    )
    money_in = pd.DataFrame({"day": when, "series": INVESTED, "value": list(invested or [])}) if invested else None
    # one row per day for the hover box: every series' amount, formatted once here by the one formatter
    hover: dict[str, Any] = {"day": when, "when": [d.strftime("%d %b %Y") for d in days], **_bands(when)}
    for i, name in enumerate(labels):
        hover[f"t{i}"] = [fmt.money(v, currency) for v in series[name]]
    if invested:
        hover["tin"] = [fmt.money(v, currency) for v in invested]
    tooltip = [{"field": "when", "title": "Day"}] + [{"field": f"t{i}", "title": n} for i, n in enumerate(labels)]
    if invested:
        tooltip.append({"field": "tin", "title": INVESTED})
    x = {
        "field": "day",
        "type": "temporal",
        "title": None,
        "scale": {"type": "utc"},
        "axis": {"grid": False, "labelFontSize": 12, "tickCount": 8, "labelOverlap": True},
    }
    y: dict[str, Any] = {
        "field": "value",
        "type": "quantitative",
        "title": None,
        "axis": {
            "labelExpr": f"'{fmt.symbol(currency)}' + format(datum.value, ',.0f')",
            "gridColor": "#eef0f3",
            "labelFontSize": 12,
            "tickCount": 6,
        },
    }
    if stacked:
        y["stack"] = "zero"
    else:
        y["stack"] = None
        y["scale"] = {"domain": _padded(series, invested)}
    colour = {
        "field": "series",
        "type": "nominal",
        "title": None,
        "sort": names,
        "scale": {"domain": names, "range": colours},
        "legend": {"orient": "bottom", "direction": "horizontal", "labelFontSize": 13, "symbolType": "stroke"}
        if len(names) > 1
        else None,
    }
    area = {
        "type": "area",
        "clip": True,  # a day without a value breaks the path (Vega-Lite 6's default for lines and areas)
        "interpolate": "linear",
        "line": {"strokeWidth": 0.8 if stacked else 2},
        "fillOpacity": 0.5 if stacked else 0.08,
    }
    layers: list[dict[str, Any]] = [
        {
            "data": {"name": "lines"},
            "mark": area,
            "encoding": {"x": x, "y": y, "color": colour, "order": {"field": "series", "sort": "ascending"}},
        }
    ]
    if invested:
        layers.append(
            {
                "data": {"name": "invested"},
                "mark": {
                    "type": "line",
                    "clip": True,
                    "interpolate": "step-after",
                    "strokeDash": [2, 3],
                    "strokeWidth": 1.6,
                },
                "encoding": {"x": x, "y": {**y, "stack": None}, "color": colour},
            }
        )
    layers.append(
        {  # the day under the pointer: one box with every series. Each drawn day owns an invisible band halfway
            # to its neighbours, so the pointer anywhere on the chart is over exactly one day. No selection (a
            # "nearest" rule, a highlighted band) to evaluate per day: that cost a fresh page ~0.1 s of Vega.
            "data": {"name": "hover"},
            "mark": {"type": "rect", "opacity": 0},
            "encoding": {"x": {**x, "field": "from"}, "x2": {"field": "to"}, "tooltip": tooltip},
        }
    )
    return {
        "height": HEIGHT,
        "datasets": {"lines": long, "hover": pd.DataFrame(hover),
                     **({"invested": money_in} if money_in is not None else {})},
        "layer": layers,
        "config": {"font": FONT, "view": {"stroke": None}, "axis": {"domainColor": "#d0d4da"}},
    }


def _bands(when: pd.Series) -> dict[str, pd.Series]:
    """Each day's hover band: from halfway after the previous drawn day to halfway before the next one (the first
    and last days reach as far out as inward)."""
    if len(when) < 2:
        one = pd.Timedelta(hours=12)
        return {"from": when - one, "to": when + one}
    half = when.diff() / 2
    before = half.fillna(half.iloc[1])
    after = half.shift(-1).fillna(half.iloc[-1])
    return {"from": when - before, "to": when + after}


def _padded(series: dict[str, Sequence[Decimal | None]], invested: Sequence[float | None] | None) -> list[float]:
    """The value axis fitted to what is drawn, 8% spare each side, never below zero."""
    values = [float(v) for s in series.values() for v in s if v is not None]
    values += [v for v in invested or [] if v is not None and v == v]  # v == v: not NaN
    if not values:
        return [0.0, 1.0]
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or abs(high) * 0.05 or 1.0
    return [max(0.0, low - pad), high + pad]
