"""The Overview's "Return (TWR)" for the period chosen on the Returns page (YTD until one is chosen)."""

from __future__ import annotations

import streamlit as st

from portfolio_dashboard.ui import data, fmt, returns_data, state

CHOSEN_KEY = "returns_chosen_period"  # not a widget key: it survives switching pages
LABELS = {"1m": "1M", "3m": "3M", "6m": "6M", "ytd": "YTD", "tax-year": "tax year", "prev-tax-year": "last tax year",
          "1y": "1Y", "3y": "3Y", "5y": "5Y", "all": "since inception"}


def chosen_period() -> str:
    value = st.session_state.get(CHOSEN_KEY)
    return value if value in LABELS else "ytd"


def metric() -> None:
    """One metric card; a withheld return reads "unavailable" with the reason in its help, never 0%."""
    period = chosen_period()
    db = data.db_key()
    prepared = returns_data.prepared_asof(db, returns_data.returns_filter(state.scope()), period)
    total = prepared.total(period)
    annual = total.twr_annualised is not None
    value = total.twr_annualised if annual else total.twr
    label = f"Return (TWR, {LABELS[period]}{', p.a.' if annual else ''})"
    if value is None:
        st.metric(label, "unavailable", border=True, height="stretch",
                  help="; ".join(total.unavailable) or "not enough history yet")
        return
    st.metric(label, fmt.pct(value), border=True, height="stretch",
              delta=f"gain {fmt.money(total.gain, 'GBP', signed=True)}" if total.gain is not None else None,
              delta_color="off", delta_arrow="off",
              help="Time-weighted return of the filter in GBP: deposits and withdrawals are not counted as "
                   "performance. Choose the period on the Returns page.")
