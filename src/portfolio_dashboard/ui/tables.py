"""Tables in the dashboard's number style (``fmt``): column formats for ``st.dataframe`` (numbers stay numbers, so
columns sort), and ``static`` HTML tables for a summary of a few rows."""

from __future__ import annotations

import html
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


def _missing(value: Any) -> bool:
    """A value that does not apply (None or NaN): its cell is empty."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _blank_or(render: Callable[[Any], str]) -> Callable[[Any], str]:
    """An empty cell where a value does not apply, ``render`` otherwise."""

    def cell(value: Any) -> str:
        return EMPTY if _missing(value) else render(value)

    return cell


def _money_in(currency: str) -> Callable[[Any], str]:
    return lambda value: fmt.money(value, currency)


def _pnl_colour(value: Any) -> str:
    if not isinstance(value, int | float) or (isinstance(value, float) and math.isnan(value)):
        return ""
    return GAIN if value > 0 else LOSS if value < 0 else ""


def _formats(money_cols: dict[str, str], pct_cols: tuple[str, ...]) -> dict[str, Callable[[Any], str]]:
    """Column -> how its value reads: amounts in their currency, shares of a whole as unsigned percentages."""
    formats: dict[str, Callable[[Any], str]] = {c: _money_in(ccy) for c, ccy in money_cols.items()}
    formats.update({c: lambda v: fmt.pct(v, signed=False) for c in pct_cols})
    return formats


def styled(frame: pd.DataFrame, *, money_cols: dict[str, str] | None = None, pnl_cols: dict[str, str] | None = None,
           pct_cols: tuple[str, ...] = (), pnl_pct_cols: tuple[str, ...] = (), qty_cols: tuple[str, ...] = (),
           rate_cols: tuple[str, ...] = ()) -> Any:
    """``frame`` shown in the dashboard's number style (``fmt``): numbers stay numbers, so columns still sort.

    ``money_cols``/``pnl_cols`` map a column to its currency; P&L columns (money or percent) are green/red.
    """
    money_cols, pnl_cols = money_cols or {}, pnl_cols or {}
    formats = _formats({**money_cols, **pnl_cols}, pct_cols)
    formats.update({col: lambda v: fmt.pct(v) for col in pnl_pct_cols})
    formats.update({col: fmt.quantity for col in qty_cols})
    formats.update({col: fmt.rate for col in rate_cols})
    present = {c: _blank_or(f) for c, f in formats.items() if c in frame.columns}
    styler = frame.style.format(present, na_rep=EMPTY)  # type: ignore[arg-type]
    coloured = [c for c in (*pnl_cols, *pnl_pct_cols) if c in frame.columns]
    if coloured:
        styler = styler.map(_pnl_colour, subset=pd.Index(coloured))
    return styler


def _counts(column: pd.Series) -> bool:
    """A column of whole numbers (counts), right-aligned like the amounts."""
    values = [v for v in column if v is not None]
    return bool(values) and all(isinstance(v, int) and not isinstance(v, bool) for v in values)


_PAD = "padding:0.375rem 0.5rem"  # a little tighter than Streamlit's, so a nine-column table fits a laptop


def static(frame: pd.DataFrame, *, money_cols: dict[str, str] | None = None, pct_cols: tuple[str, ...] = (),
           links: dict[str, str] | None = None) -> str:
    """``frame`` as an HTML table in the dashboard's number style, for ``st.markdown(..., unsafe_allow_html=True)``
    (every text escaped): amounts, percentages and counts right-aligned, an empty cell where a value does not
    apply, cells on one line in the data grid's font size, the table scrolling sideways on a narrower screen;
    ``links`` maps a column of URLs to the text each link shows. Streamlit's Markdown styles it as its own
    tables, in either theme.

    Why not ``st.dataframe`` for a summary of a few rows: the data grid is lazily loaded script (about 1.2 MB with
    its formatting code) that a fresh browser must fetch and run before the page shows anything; on the Overview
    it held the total and the value chart back by 0.3-0.45 s (docs/benchmarks.md). Why not a Markdown table:
    Streamlit does not let one scroll sideways, so on a phone its right-hand columns were out of reach. A plain
    table also reads as text: selectable, copyable, read out by a screen reader.
    """
    links = links or {}
    formats = _formats(money_cols or {}, pct_cols)
    right = set(formats) | {c for c in frame.columns if _counts(frame[c])}

    def cell(column: str, value: Any) -> str:
        side = f' style="{_PAD}{";text-align:right" if column in right else ""}"'
        if _missing(value) or value == "":
            return f"<td{side}></td>"
        if column in links:
            return f'<td{side}><a href="{html.escape(str(value))}">{html.escape(links[column])}</a></td>'
        return f"<td{side}>{html.escape(formats[column](value) if column in formats else str(value))}</td>"

    head = "".join(f'<th style="{_PAD};text-align:{"right" if c in right else "left"}">{html.escape(str(c))}</th>'
                   for c in frame.columns)
    rows = "".join("<tr>" + "".join(cell(c, v) for c, v in zip(frame.columns, row, strict=True)) + "</tr>"
                   for row in frame.itertuples(index=False, name=None))
    # one line: Markdown ends an HTML block at a blank line
    return (f'<div style="overflow-x:auto"><table style="white-space:nowrap;font-size:0.875rem">'
            f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>")
