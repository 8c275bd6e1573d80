"""The Positions table: key columns first (visible at 1280 px), the rest in groups the user opens; and its CSV.

Amounts are in GBP and USD side by side (and the display currency when it is neither); each row has its
rate to GBP and to USD. The table shows ``fmt``'s number style; the CSV keeps exact decimals, real account ids
and says each column's currency in its header.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

from portfolio_dashboard.storage.reads.holdings import Holding
from portfolio_dashboard.ui import data, fmt, tables, trace

GROUPS_KEY = "positions_groups"
GROUPS = {
    "Details": ["Name", "Wrapper", "Class", "Source"],
    "Holding": ["Quantity", "Price", "Value (local)", "Cost basis", "P&L (local)"],
    "FX": ["Ccy", "FX → GBP", "FX → USD"],
}
PHONE_KEY = ["Symbol", "Value (GBP)", "P&L (GBP)"]  # what a 390 px screen shows without scrolling
# Pixel widths of the key columns: together they fit the main area at 1280 px with the sidebar open (~900 px).
WIDTHS = {"Symbol": 80, "Value (GBP)": 110, "P&L (GBP)": 105, "P&L %": 80, "Value (USD)": 110, "P&L (USD)": 105,
          "Broker": 70, "Account": 80, "Weight": 70}


def key_columns(currency: str) -> list[str]:
    extra = [f"Value ({currency})", f"P&L ({currency})"] if currency not in ("GBP", "USD") else []
    return ["Symbol", "Value (GBP)", "P&L (GBP)", "P&L %", "Value (USD)", "P&L (USD)", *extra,
            "Broker", "Account", "Weight"]


def frame(lines: list[Holding], currency: str) -> pd.DataFrame:
    """Every column there is (floats for the grid; the CSV is built from the Decimals)."""
    f = data.as_float
    rows = []
    for h in lines:
        ccy = h.currency or ""
        rows.append({
            "Symbol": h.symbol or "", "Name": h.name or "", "Broker": fmt.BROKER_SHORT.get(h.broker, h.broker),
            "Account": fmt.account_label(h.broker, h.broker_account_id).split(" ", 1)[-1],
            "Wrapper": fmt.wrapper_label(h.wrapper), "Class": h.asset_class or "", "Ccy": ccy,
            "Quantity": f(h.quantity), "Price": fmt.price(h.price_local, ccy) if h.price_local is not None else "",
            "Value (local)": fmt.money(h.value_local, ccy),
            "Cost basis": fmt.money(h.cost_basis, ccy) if h.cost_basis is not None else "",
            "P&L (local)": fmt.money(h.pnl_local, ccy) if h.pnl_local is not None else "",
            "FX → GBP": f(h.fx_gbp), "FX → USD": f(h.fx_usd),
            "Value (GBP)": f(h.value_gbp), "P&L (GBP)": f(h.pnl_gbp), "P&L %": f(h.pnl_pct),
            "Value (USD)": f(h.value_usd), "P&L (USD)": f(h.pnl_usd),
            f"Value ({currency})": f(h.value), f"P&L ({currency})": f(h.pnl), "Weight": f(h.weight),
            "Source": trace.snapshot_link(h.snapshot_id),  # the snapshot, and from it the raw response
        })
    return pd.DataFrame(rows)


def chosen_columns(currency: str) -> list[str]:
    groups = st.pills("More columns", list(GROUPS), selection_mode="multi", key=GROUPS_KEY,
                      help="The key columns always show; open a group to add its columns.")
    columns = key_columns(currency)
    for group in groups or []:
        columns += [c for c in GROUPS[group] if c not in columns]
    return columns


def show(lines: list[Holding], currency: str, query: str = "") -> pd.DataFrame:
    columns = chosen_columns(currency)
    full = frame(lines, currency)
    if query:
        keep = full["Symbol"].str.lower().str.contains(query, regex=False) | \
            full["Name"].str.lower().str.contains(query, regex=False)
        full = full[keep]
    shown = full[columns]
    money_cols = {c: c[c.index("(") + 1:-1] for c in columns if c.startswith("Value (") and c != "Value (local)"}
    pnl_cols = {c: c[c.index("(") + 1:-1] for c in columns if c.startswith("P&L (") and c != "P&L (local)"}
    config: dict[str, Any] = {c: st.column_config.Column(c, width=w) for c, w in WIDTHS.items()}
    config["Symbol"] = tables.text("Symbol", pinned=True, width=WIDTHS["Symbol"])
    config["Source"] = st.column_config.LinkColumn(
        "Source", display_text="snapshot", help="The stored snapshot this row comes from, and the raw broker "
        "response (with its SHA-256) it was read from, on the Runs page")
    st.dataframe(
        tables.styled(shown, money_cols=money_cols, pnl_cols=pnl_cols, pct_cols=("Weight",),
                      pnl_pct_cols=("P&L %",), qty_cols=("Quantity",), rate_cols=("FX → GBP", "FX → USD")),
        hide_index=True, column_config=config, key="positions_table", placeholder="",
        height=tables.height(len(shown), 640),
    )
    return full


def csv_bytes(lines: list[Holding]) -> bytes:
    """The user's own file: exact decimals, their real account ids, each amount's currency in its header."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Broker", "Account ID", "Wrapper", "Symbol", "Name", "Asset class", "Currency", "Quantity",
                     "Price (local)", "Value (local)", "Cost basis (local)", "Unrealised P&L (local)",
                     "FX rate to GBP", "FX rate to USD", "Value (GBP)", "Value (USD)", "Unrealised P&L (GBP)",
                     "Unrealised P&L (USD)", "P&L (% of cost)", "Weight (%)", "As of (UTC)"])
    a = fmt.csv_amount
    for h in lines:
        writer.writerow([
            h.broker, h.broker_account_id, h.wrapper or "", h.symbol or "", h.name or "", h.asset_class or "",
            h.currency or "", a(h.quantity), a(h.price_local), a(h.value_local), a(h.cost_basis), a(h.pnl_local),
            a(_rate(h.fx_gbp)), a(_rate(h.fx_usd)), a(h.value_gbp), a(h.value_usd), a(h.pnl_gbp), a(h.pnl_usd),
            fmt.csv_pct(h.pnl_pct), fmt.csv_pct(h.weight), h.asof_ts.isoformat(),
        ])
    return out.getvalue().encode("utf-8")


def _rate(value: Decimal | None) -> Decimal | None:
    """A rate derived by division has ~20 digits; 10 places reproduce every stored amount to the penny."""
    return None if value is None else round(value, 10).normalize()
