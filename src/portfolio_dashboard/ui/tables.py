"""Column formats for ``st.dataframe``: numbers stay numbers (so columns sort), shown like ``fmt`` shows them."""

from __future__ import annotations

from typing import Any

import streamlit as st

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
