"""Tables and CSVs of money in and out, shared by the Income and Runs pages."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from portfolio_dashboard.storage.reads.flows import FlowLine
from portfolio_dashboard.ui import data, fmt, tables

KIND_LABELS = {
    "deposit": "Deposit", "withdrawal": "Withdrawal", "transfer_in": "Transfer in", "transfer_out": "Transfer out",
    "dividend": "Dividend", "payment_in_lieu": "Payment in lieu", "interest": "Interest",
    "withholding_tax": "Withholding tax", "fee": "Fee", "fx_conversion": "FX conversion", "other": "Other",
}


def frame(lines: list[FlowLine]) -> pd.DataFrame:
    """For display: masked accounts, floats (tables only)."""
    return pd.DataFrame({
        "Date": [x.day for x in lines],
        "Account": [fmt.account_label(x.broker, x.broker_account_id) for x in lines],
        "Kind": [KIND_LABELS.get(x.kind, x.kind) for x in lines],
        "Security": [x.symbol or "" for x in lines],
        "Amount": [data.as_float(x.amount_local) for x in lines],
        "Ccy": [x.currency for x in lines],
        "GBP": [data.as_float(x.amount_gbp) for x in lines],
        "Description": [x.description or "" for x in lines],
    })


def csv(lines: list[FlowLine]) -> bytes:
    """For download: every column, amounts as the exact decimal strings stored (never floats)."""
    out = pd.DataFrame({
        "date": [x.day.isoformat() for x in lines],
        "flow_ts": [x.flow_ts.isoformat() for x in lines],
        "broker": [x.broker for x in lines],
        "broker_account_id": [x.broker_account_id for x in lines],
        "broker_flow_id": [x.broker_flow_id for x in lines],
        "kind": [x.kind for x in lines],
        "symbol": [x.symbol or "" for x in lines],
        "isin": [x.isin or "" for x in lines],
        "currency": [x.currency for x in lines],
        "amount_local": [str(x.amount_local) for x in lines],
        "amount_gbp": ["" if x.amount_gbp is None else str(x.amount_gbp) for x in lines],
        "quantity": ["" if x.quantity is None else str(x.quantity) for x in lines],
        "description": [x.description or "" for x in lines],
    })
    return out.to_csv(index=False).encode()


def show(lines: list[FlowLine], key: str, *, most: int = 420) -> None:
    st.dataframe(frame(lines), hide_index=True, key=key, height=tables.height(len(lines), most), column_config={
        "Amount": tables.number("Amount"), "GBP": tables.money("GBP", "GBP"),
        "Description": tables.text("Description", width="large")})
