"""Plotly figures, styled alike: light, quiet axes, money on hover, usable on a phone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from portfolio_dashboard.ui.fmt import symbol

PALETTE = ["#2f5d8a", "#e07a2f", "#3a9a6b", "#b5475c", "#7a5ea8", "#c9a227", "#4aa3b5", "#8c8c8c",
           "#5b8c2a", "#d46fa0", "#6b4f3a", "#2a6f6f"]
FONT = "Source Sans Pro, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"
RANGES = [
    {"count": 1, "label": "1M", "step": "month", "stepmode": "backward"},
    {"count": 3, "label": "3M", "step": "month", "stepmode": "backward"},
    {"count": 1, "label": "YTD", "step": "year", "stepmode": "todate"},
    {"count": 1, "label": "1Y", "step": "year", "stepmode": "backward"},
    {"label": "All", "step": "all"},
]


def _layout(fig: go.Figure, *, height: int, currency: str | None, legend: bool) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 8, "r": 8, "t": 8, "b": 8},
        font={"family": FONT, "size": 13},
        plot_bgcolor="white",
        paper_bgcolor="white",
        hovermode="x unified",
        showlegend=legend,
        legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0},
        colorway=PALETTE,
    )
    fig.update_xaxes(showgrid=False, linecolor="#d0d4da")
    fig.update_yaxes(gridcolor="#eef0f3", zeroline=False,
                     tickprefix=symbol(currency) if currency else None, tickformat=",.0f" if currency else None)
    return fig


def value_over_time(frame: pd.DataFrame, currency: str, *, stacked: bool) -> go.Figure:
    """``frame``: day, value and, when ``stacked``, account (one stacked area per account)."""
    fig = go.Figure()
    hover = f"{symbol(currency)}%{{y:,.2f}}"
    if stacked:
        for i, (account, part) in enumerate(frame.groupby("account", sort=True)):
            fig.add_trace(go.Scatter(
                x=part["day"], y=part["value"], name=str(account), stackgroup="accounts", mode="lines",
                line={"width": 0.8, "color": PALETTE[i % len(PALETTE)]}, hovertemplate=hover,
            ))
    else:
        fig.add_trace(go.Scatter(
            x=frame["day"], y=frame["value"], name="Portfolio", mode="lines",
            line={"width": 2, "color": PALETTE[0]}, fill="tozeroy", fillcolor="rgba(47,93,138,0.08)",
            hovertemplate=hover,
        ))
    _layout(fig, height=380, currency=currency, legend=stacked)
    fig.update_xaxes(
        rangeselector={"buttons": RANGES, "x": 0, "y": 1.02, "yanchor": "bottom",
                       "bgcolor": "#f0f2f6", "activecolor": "#d5dae3", "font": {"size": 12}},
        type="date",
    )
    fig.update_layout(margin={"t": 40})
    if not stacked:
        low, high = frame["value"].min(), frame["value"].max()
        if pd.notna(low) and pd.notna(high) and high > low:
            pad = (high - low) * 0.08
            fig.update_yaxes(range=[max(0.0, low - pad), high + pad])
    return fig


def donut(labels: Sequence[str], values: Sequence[float], currency: str) -> go.Figure:
    fig = go.Figure(go.Pie(
        labels=list(labels), values=list(values), hole=0.58, sort=False, direction="clockwise",
        textinfo="percent", textposition="inside", insidetextorientation="horizontal",
        hovertemplate=f"%{{label}}<br>{symbol(currency)}%{{value:,.2f}} (%{{percent}})<extra></extra>",
        marker={"colors": PALETTE * (len(labels) // len(PALETTE) + 1), "line": {"color": "white", "width": 1}},
    ))
    _layout(fig, height=340, currency=None, legend=True)
    fig.update_layout(hovermode="closest", legend={"orientation": "v", "y": 0.5, "yanchor": "middle", "x": 1.02})
    return fig


def treemap(labels: Sequence[str], parents: Sequence[str], values: Sequence[float], currency: str) -> go.Figure:
    fig = go.Figure(go.Treemap(
        labels=list(labels), parents=list(parents), values=list(values), branchvalues="total",
        texttemplate="%{label}<br>%{percentRoot:.1%}", textfont={"size": 13},
        hovertemplate=f"%{{label}}<br>{symbol(currency)}%{{value:,.2f}} (%{{percentRoot:.1%}})<extra></extra>",
        marker={"colors": [PALETTE[i % len(PALETTE)] for i in range(len(labels))]},
        tiling={"pad": 2},
    ))
    _layout(fig, height=420, currency=None, legend=False)
    return fig


def holding_history(frame: pd.DataFrame, column: str, currency: str | None, title: str) -> go.Figure:
    """One line per account over time (quantity or value)."""
    fig = go.Figure()
    hover = f"{symbol(currency)}%{{y:,.2f}}" if currency else "%{y:,.4~f}"
    for i, (account, part) in enumerate(frame.groupby("account", sort=True)):
        fig.add_trace(go.Scatter(x=part["asof"], y=part[column], name=str(account), mode="lines",
                                 line={"width": 1.6, "color": PALETTE[i % len(PALETTE)], "shape": "hv"},
                                 hovertemplate=hover))
    _layout(fig, height=280, currency=currency, legend=True)
    fig.update_layout(title={"text": title, "font": {"size": 14}, "x": 0, "y": 0.98}, margin={"t": 36})
    return fig


INCOME_COLOURS = {"Dividends": PALETTE[0], "Interest": PALETTE[2], "Withholding tax": PALETTE[3]}


def income_by_month(frame: pd.DataFrame) -> go.Figure:
    """``frame``: month, kind (Dividends, Interest, Withholding tax) and gbp; bars stacked, tax below zero."""
    fig = go.Figure()
    for kind, colour in INCOME_COLOURS.items():
        part = frame[frame["kind"] == kind]
        if part.empty:
            continue
        fig.add_trace(go.Bar(x=part["month"], y=part["gbp"], name=kind, marker={"color": colour},
                             hovertemplate="£%{y:,.2f}"))
    _layout(fig, height=340, currency="GBP", legend=True)
    fig.update_layout(barmode="relative", bargap=0.25)
    fig.update_xaxes(type="date", tickformat="%b %Y", dtick="M1" if frame["month"].nunique() <= 18 else "M3")
    return fig


def with_contributions(fig: go.Figure, days: Sequence[object], cumulative: Sequence[float | None],
                       currency: str) -> go.Figure:
    """The value chart plus the cumulative net money put in (deposits less withdrawals): the gap is the gain."""
    fig.add_trace(go.Scatter(x=list(days), y=list(cumulative), name="Net money in", mode="lines",
                             line={"width": 1.6, "color": PALETTE[1], "dash": "dot", "shape": "hv"},
                             hovertemplate=f"{symbol(currency)}%{{y:,.2f}}"))
    fig.update_layout(showlegend=True)
    values = [float(v) for trace in fig.data if trace.y is not None for v in trace.y
              if v is not None and v == v]  # v == v: not NaN
    if values:
        low, high = min(values), max(values)
        pad = (high - low) * 0.08 or abs(high) * 0.05 or 1.0
        fig.update_yaxes(range=[max(0.0, low - pad), high + pad])
    return fig


CHART_CONFIG: dict[str, Any] = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"],
                                "responsive": True}
