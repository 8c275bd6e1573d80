"""Positions: every holding of the latest snapshots, sortable and downloadable, and one holding's history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import streamlit as st

from portfolio_dashboard.storage.reads.holdings import Holding
from portfolio_dashboard.ui import asof, charts, data, fmt, notices, positions_table, state
from portfolio_dashboard.ui.guard import guarded


def table(lines: list[Holding], currency: str) -> None:
    query = st.text_input("Find", placeholder="Symbol or name", key="positions_find",
                          label_visibility="collapsed").strip().lower()
    positions_table.show(lines, currency, query)
    total = sum((p.value for p in lines if p.value is not None), start=Decimal(0))
    st.caption(f"{len(lines)} position(s) · {fmt.money(total, currency)} · P&L is the broker's unrealised figure, "
               "or value minus cost basis · USD at the stored GBP→USD rate of each snapshot")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    st.download_button("Download CSV", positions_table.csv_bytes(lines), file_name=f"positions-{stamp}.csv",
                       mime="text/csv", icon=":material/download:", key="positions_csv",
                       help="Exact amounts, your full account numbers, each column's currency in its header.")


def history(db: str, lines: list[Holding]) -> None:
    st.subheader("Holding history")
    options: dict[uuid.UUID, str] = {}
    for p in lines:
        options.setdefault(p.global_instrument_id, f"{p.symbol or '?'} · {p.name or ''}")
    choice = st.selectbox("Instrument", list(options), index=None, format_func=lambda g: options.get(g, str(g)),
                          placeholder="Choose an instrument to see its quantity and value over time",
                          key="history_instrument")
    if choice is None:
        return
    points = data.history(db, state.scope(), choice)
    if not points:
        st.caption("No stored history for this instrument in the filter.")
        return
    tz = data.settings().timezone
    frame = pd.DataFrame({
        "asof": [p.asof_ts.astimezone(tz).replace(tzinfo=None) for p in points],
        "account": [fmt.account_label(p.broker, p.broker_account_id) for p in points],
        "quantity": [float(p.quantity) for p in points],
        "value": [data.as_float(p.value_gbp) for p in points],
    })
    left, right = st.columns(2)
    left.plotly_chart(charts.holding_history(frame, "quantity", None, "Quantity"), config=charts.CHART_CONFIG,
                      key="history_quantity")
    right.plotly_chart(charts.holding_history(frame, "value", "GBP", "Value (GBP)"), config=charts.CHART_CONFIG,
                       key="history_value")
    st.caption(f"{len(points)} stored position(s) from {fmt.when(points[0].asof_ts, tz)} "
               f"to {fmt.when(points[-1].asof_ts, tz)}.")


def render() -> None:
    notices.page_header("Positions")
    with guarded("positions"):
        db = data.db_key()
        if not data.has_snapshots(db):
            notices.empty_state()
            return
        currency = state.currency()
        at = asof.current()
        lines = data.holdings(db, state.scope(), currency, at)
        if not lines:
            notices.nothing_in_filter("position")
            return
        if at is not None:  # the latest view reads no summary here
            asof.banner(data.summary(db, state.scope(), currency, at).accounts)
        newest = fmt.when(max(p.asof_ts for p in lines), data.settings().timezone)
        which = "The latest snapshot" if at is None else "The newest stored snapshot at that moment"
        st.caption(f"{which} of each account · newest {newest}")
        table(lines, currency)
        history(db, lines)


render()
