"""The Returns page's figures: cumulative TWR against a benchmark, and monthly returns as a year x month map."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import plotly.graph_objects as go

from portfolio_dashboard.domain.returns import MonthlyReturn
from portfolio_dashboard.ui.charts import FONT, PALETTE

MONTHS = [calendar.month_abbr[m] for m in range(1, 13)]


def _pct(value: Decimal | None) -> float | None:
    return None if value is None else float(value) * 100


def cumulative(ours: Sequence[tuple[datetime, Decimal | None]], benchmark: Sequence[tuple[datetime, Decimal]],
               benchmark_name: str | None) -> go.Figure:
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[ts for ts, _ in ours], y=[_pct(v) for _, v in ours], name="Portfolio (TWR)",
                             mode="lines", line={"width": 2, "color": PALETTE[0]}, connectgaps=False,
                             hovertemplate="%{y:+.2f}%"))
    if benchmark:
        fig.add_trace(go.Scatter(x=[ts for ts, _ in benchmark], y=[_pct(v) for _, v in benchmark],
                                 name=benchmark_name or "Benchmark", mode="lines",
                                 line={"width": 1.6, "color": PALETTE[1], "dash": "dot"},
                                 hovertemplate="%{y:+.2f}%"))
    fig.update_layout(height=360, margin={"l": 8, "r": 8, "t": 8, "b": 8}, font={"family": FONT, "size": 13},
                      plot_bgcolor="white", paper_bgcolor="white", hovermode="x unified",
                      legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0})
    fig.update_xaxes(showgrid=False, linecolor="#d0d4da")
    fig.update_yaxes(gridcolor="#eef0f3", zeroline=True, zerolinecolor="#c4c9d0", ticksuffix="%",
                     tickformat="+.1f")
    return fig


def monthly_heatmap(months: Sequence[MonthlyReturn]) -> go.Figure:
    """Years down, months across; a withheld month is blank with "n/a", never a 0."""
    years = sorted({m.year for m in months}, reverse=True)
    grid: dict[tuple[int, int], MonthlyReturn] = {(m.year, m.month): m for m in months}
    z: list[list[float | None]] = []
    labels: list[list[str]] = []
    for year in years:
        z.append([_pct(grid[(year, m)].twr) if (year, m) in grid else None for m in range(1, 13)])
        labels.append([
            ("" if (year, m) not in grid else "n/a" if grid[(year, m)].twr is None
             else f"{_pct(grid[(year, m)].twr):+.1f}%")
            for m in range(1, 13)
        ])
    values = [abs(v) for row in z for v in row if v is not None]
    bound = max(values) if values else 1.0
    fig = go.Figure(go.Heatmap(
        z=z, x=MONTHS, y=[str(y) for y in years], text=labels, texttemplate="%{text}", zmin=-bound, zmax=bound,
        colorscale=[[0, "#b5475c"], [0.5, "#f7f7f7"], [1, "#3a9a6b"]], showscale=False, xgap=2, ygap=2,
        hovertemplate="%{y} %{x}: %{text}<extra></extra>",
    ))
    fig.update_layout(height=max(140, 44 * len(years) + 40), margin={"l": 8, "r": 8, "t": 8, "b": 8},
                      font={"family": FONT, "size": 12}, plot_bgcolor="white", paper_bgcolor="white")
    fig.update_xaxes(side="top", showgrid=False)
    fig.update_yaxes(showgrid=False, autorange="reversed", type="category")
    return fig
