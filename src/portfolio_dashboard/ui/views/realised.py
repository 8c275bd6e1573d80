"""Realised gains: the broker's own realised figure of each trade (IB fifoPnlRealized), in its currency and in
GBP at the trade's own rate, per trade, per security and per UK tax year. Not HMRC share matching."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import streamlit as st

from portfolio_dashboard.domain.statement import tax_year_of
from portfolio_dashboard.services.statements.assemble import realised_gain
from portfolio_dashboard.ui import data, fmt, notices, state, tables
from portfolio_dashboard.ui.guard import guarded

ALL = "All tax years"


def render() -> None:
    notices.page_header("Realised gains")
    with guarded("the realised gains"):
        db = data.db_key()
        scope = state.scope()
        trades = [t for t in data.realised(db)
                  if (not scope.brokers or t.broker in scope.brokers)
                  and (not scope.accounts or (t.broker, t.account_id) in scope.accounts)]
        if not trades:
            st.info("No trade with a realised gain or loss is stored (IB Flex trades carry the broker's "
                    "realised P&L).", icon=":material/receipt_long:")
            return
        years = sorted({tax_year_of(t.day) for t in trades}, reverse=True)
        year = st.selectbox("UK tax year", [ALL, *years], key="realised_year")
        shown = [t for t in trades if year == ALL or tax_year_of(t.day) == year]
        rows: list[dict[str, object]] = []
        gbp: list[Decimal] = []
        for t in shown:
            g = realised_gain(t)
            if g is not None:
                gbp.append(g.gain_gbp)
            rows.append({
                "Date": t.day, "Tax year": tax_year_of(t.day), "Account": fmt.account_label(t.broker, t.account_id),
                "Security": t.security, "ISIN": t.isin or "", "Quantity": t.quantity, "Ccy": t.currency,
                "Proceeds (local)": t.amount_local, "Realised (local)": t.realised_local,
                "GBP per unit": g.fx_rate if g else None, "Realised (GBP)": g.gain_gbp if g else None,
                "Source SHA-256": t.source_sha256 or "",
            })
        exact = pd.DataFrame(rows)
        total = sum(gbp, Decimal(0))
        st.metric("Realised (GBP)", fmt.money(total, "GBP"), border=True,
                  help="The sum of the broker's realised figures, each at its trade's own GBP rate.")
        if len(gbp) < len(rows):
            st.warning(f"{len(rows) - len(gbp)} trade(s) have no GBP rate and are left out of the total.",
                       icon=":material/warning:")
        table = exact.copy()
        for column in ("Quantity", "Proceeds (local)", "Realised (local)", "GBP per unit", "Realised (GBP)"):
            table[column] = [data.as_float(v) for v in exact[column]]
        st.dataframe(table, hide_index=True, key="realised_table", height=tables.height(len(table), 480),
                     column_config={"Realised (GBP)": tables.money("Realised (GBP)", "GBP"),
                                    "Proceeds (local)": tables.number("Proceeds (local)"),
                                    "Realised (local)": tables.number("Realised (local)"),
                                    "GBP per unit": tables.number("GBP per unit", 6)})
        left, right = st.columns(2)
        with left:
            st.subheader("By security")
            by_security = exact.groupby("Security")["Realised (GBP)"].apply(
                lambda s: sum((v for v in s if v is not None), Decimal(0))).reset_index()
            by_security["Realised (GBP)"] = [data.as_float(v) for v in by_security["Realised (GBP)"]]
            st.dataframe(by_security, hide_index=True, column_config={
                "Realised (GBP)": tables.money("Realised (GBP)", "GBP")})
        with right:
            st.subheader("By tax year")
            by_year = exact.groupby("Tax year")["Realised (GBP)"].apply(
                lambda s: sum((v for v in s if v is not None), Decimal(0))).reset_index()
            by_year["Realised (GBP)"] = [data.as_float(v) for v in by_year["Realised (GBP)"]]
            st.dataframe(by_year, hide_index=True, column_config={
                "Realised (GBP)": tables.money("Realised (GBP)", "GBP")})
        st.download_button("Download CSV", exact.to_csv(index=False).encode("utf-8"),
                           file_name="realised-gains.csv", mime="text/csv", icon=":material/download:",
                           key="realised_csv")
        st.caption("The broker's own realised figure per trade (IB fifoPnlRealized), not HMRC's share matching.")


render()
