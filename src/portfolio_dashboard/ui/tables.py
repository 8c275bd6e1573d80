"""Column formats for ``st.dataframe``: numbers stay numbers (so columns sort), shown like ``fmt`` shows them."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from portfolio_dashboard.ui import fmt
from portfolio_dashboard.ui.fmt import SYMBOLS


def height(rows: int, most: int = 640) -> int:
    """A table tall enough for its rows (Streamlit rows are 35 px, plus the header), capped at ``most``."""
    return min((rows + 1) * 35 + 3, most)


def money(label: str, currency: str | None = None, **kwargs: Any) -> Any:
    prefix = SYMBOLS.get(currency or "", "")
    return st.column_config.NumberColumn(label, format=f"{prefix}%,.2f", **kwargs)


def number(label: str, decimals: int = 2, **kwargs: Any) -> Any:
    return st.column_config.NumberColumn(label, format=f"%,.{decimals}f", **kwargs)


def percent(label: str, **kwargs: Any) -> Any:
    return st.column_config.NumberColumn(label, format="percent", **kwargs)


def text(label: str, **kwargs: Any) -> Any:
    return st.column_config.TextColumn(label, **kwargs)


def when(label: str, **kwargs: Any) -> Any:
    return st.column_config.DatetimeColumn(label, format="D MMM YYYY HH:mm", **kwargs)


# Streamlit draws a null cell as a grey "None" unless the styler gives it a display text: a no-break space
# shows as the empty cell a reader expects where a value does not apply.
EMPTY = "\u00a0"
GAIN = "color: #137333"  # green and red readable on white and in dark mode's grey
LOSS = "color: #c5221f"


def _blank_or(render: Callable[[Any], str]) -> Callable[[Any], str]:
    """An empty cell where a value does not apply (None or NaN), ``render`` otherwise."""

    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return EMPTY
        return render(value)

    return cell


def _money_in(currency: str) -> Callable[[Any], str]:
    return lambda value: fmt.money(value, currency)


def _pnl_colour(value: Any) -> str:
    if not isinstance(value, int | float) or (isinstance(value, float) and math.isnan(value)):
        return ""
    return GAIN if value > 0 else LOSS if value < 0 else ""


def styled(frame: pd.DataFrame, *, money_cols: dict[str, str] | None = None, pnl_cols: dict[str, str] | None = None,
           pct_cols: tuple[str, ...] = (), pnl_pct_cols: tuple[str, ...] = (), qty_cols: tuple[str, ...] = (),
           rate_cols: tuple[str, ...] = ()) -> Any:
    """``frame`` shown in the dashboard's number style (``fmt``): numbers stay numbers, so columns still sort.

    ``money_cols``/``pnl_cols`` map a column to its currency; P&L columns (money or percent) are green/red.
    """
    money_cols, pnl_cols = money_cols or {}, pnl_cols or {}
    formats: dict[str, Callable[[Any], str]] = {}
    for col, ccy in {**money_cols, **pnl_cols}.items():
        formats[col] = _blank_or(_money_in(ccy))
    for col in pct_cols:
        formats[col] = _blank_or(lambda v: fmt.pct(v, signed=False))
    for col in pnl_pct_cols:
        formats[col] = _blank_or(lambda v: fmt.pct(v))
    for col in qty_cols:
        formats[col] = _blank_or(fmt.quantity)
    for col in rate_cols:
        formats[col] = _blank_or(fmt.rate)
    present = {c: f for c, f in formats.items() if c in frame.columns}
    styler = frame.style.format(present, na_rep=EMPTY)  # type: ignore[arg-type]
    coloured = [c for c in (*pnl_cols, *pnl_pct_cols) if c in frame.columns]
    if coloured:
        styler = styler.map(_pnl_colour, subset=pd.Index(coloured))
    return styler
