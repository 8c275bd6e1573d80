"""Positions: every holding of the latest snapshots, sortable and downloadable, and one holding's history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from portfolio_dashboard.storage.reads.portfolio import PositionLine
from portfolio_dashboard.ui import asof, charts, data, fmt, notices, state, tables, trace
from portfolio_dashboard.ui.guard import guarded


def _rows(lines: list[PositionLine], currency: str) -> list[dict[str, object]]:
    """One dict per position with Decimal amounts (the CSV keeps them exact; the table shows floats)."""
    rows: list[dict[str, object]] = []
    for p in lines:
        row: dict[str, object] = {
            "Symbol": p.symbol or "", "Name": p.name or "",
            "Account": fmt.account_label(p.broker, p.broker_account_id),
            "Class": p.asset_class or "", "Ccy": p.currency or "",
            "Quantity": p.quantity, "Price": p.price_local, "Value (local)": p.value_local,
            "Value (GBP)": p.value_gbp,
        }
        if currency != "GBP":
            row[f"Value ({currency})"] = p.value
        row.update({"Cost basis": p.cost_basis, "Unrealised P&L": p.pnl_local, "P&L (GBP)": p.pnl_gbp,
                    "P&L %": p.pnl_pct, "Weight": p.weight})
        rows.append(row)
    return rows


def table(lines: list[PositionLine], currency: str) -> None:
    rows = _rows(lines, currency)
    exact = pd.DataFrame(rows)
    shown = exact.copy()
    for column in shown.columns:
        if column not in ("Symbol", "Name", "Account", "Class", "Ccy"):
            shown[column] = [data.as_float(v) for v in exact[column]]
    shown["Source"] = [trace.snapshot_link(p.snapshot_id) for p in lines]  # the snapshot and its raw response
    query = st.text_input("Find", placeholder="Symbol or name", key="positions_find",
                          label_visibility="collapsed").strip().lower()
    if query:
        keep = shown["Symbol"].str.lower().str.contains(query, regex=False) | \
            shown["Name"].str.lower().str.contains(query, regex=False)
        shown, exact = shown[keep], exact[keep]
    config = {
        "Symbol": tables.text("Symbol", pinned=True), "Quantity": tables.number("Quantity", 4),
        "Price": tables.number("Price", 4), "Value (local)": tables.number("Value (local)"),
        "Value (GBP)": tables.money("Value (GBP)", "GBP"),
        f"Value ({currency})": tables.money(f"Value ({currency})", currency),
        "Cost basis": tables.number("Cost basis"), "Unrealised P&L": tables.number("Unrealised P&L"),
        "P&L (GBP)": tables.money("P&L (GBP)", "GBP"), "P&L %": tables.percent("P&L %"),
        "Weight": tables.percent("Weight"),
        "Source": st.column_config.LinkColumn("Source", display_text="snapshot",
                                              help="The stored snapshot and the raw broker response (Runs page)"),
    }
    st.dataframe(shown, hide_index=True, column_config=config, key="positions_table",
                 height=tables.height(len(shown), 640))
    total = sum((p.value for p in lines if p.value is not None), start=0)
    st.caption(f"{len(lines)} position(s) · {fmt.money(total, currency)} · amounts in local currency unless "
               "labelled · P&L is the broker's unrealised figure, or value minus cost basis")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    st.download_button("Download CSV", exact.to_csv(index=False).encode("utf-8"), file_name=f"positions-{stamp}.csv",
                       mime="text/csv", icon=":material/download:", key="positions_csv")


def history(db: str, lines: list[PositionLine]) -> None:
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
        lines = data.positions(db, state.scope(), currency, at)
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
