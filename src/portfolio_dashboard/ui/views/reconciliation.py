"""Reconciliation and data quality.

A badge per account for each flag on its newest snapshot (capture warnings such as minor-unit prices corrected
or skipped rows, quantity x price not matching value, a missing FX rate, a residual over tolerance), each
linking to the snapshot; per account per day, our positions + cash against the broker's own total (residual in
£ and %, red beyond the capture's tolerance); and the broker's NAV bridge (IB Flex) beside our own figures.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

import pandas as pd
import streamlit as st

from portfolio_dashboard.storage.reads import reconcile as read_reconcile
from portfolio_dashboard.ui import asof, data, fmt, notices, state, tables, trace
from portfolio_dashboard.ui.guard import guarded

DAYS = 60


def _quality(rows: list[read_reconcile.ReconRow], tolerance: Decimal) -> None:
    """A badge per account and problem on its newest snapshot in the window, each linking to the evidence."""
    newest: dict[tuple[str, str], read_reconcile.ReconRow] = {}
    for r in rows:
        key = (r.broker, r.broker_account_id)
        if key not in newest or r.asof_ts > newest[key].asof_ts:
            newest[key] = r
    badges: list[str] = []
    for r in newest.values():
        label = fmt.account_label(r.broker, r.broker_account_id)
        link = trace.snapshot_link(r.snapshot_id)
        problems = []
        if r.warnings:
            problems.append(f"{len(r.warnings)} capture warning(s)")
        if r.off_value:
            problems.append(f"{r.off_value} position(s) where quantity × price ≠ value")
        if not r.fx_complete:
            problems.append("a position without an FX rate")
        if r.over(tolerance):
            problems.append("residual over tolerance")
        if problems:
            badges.extend(f"[:orange-badge[:material/report: {label}: {p}]]({link})" for p in problems)
        else:
            badges.append(f"[:green-badge[:material/check: {label}: no data-quality flag]]({link})")
    st.markdown(" ".join(badges))
    for r in newest.values():
        for w in r.warnings:
            st.caption(f":material/warning: {fmt.account_label(r.broker, r.broker_account_id)}: {w}")


def _residuals(db: str) -> None:
    tz = data.settings().timezone
    until = asof.current() or datetime.now(tz)
    since = datetime.combine(until.astimezone(tz).date() - timedelta(days=DAYS), time.min, tzinfo=tz)
    rows = data.reconciliation(db, state.scope(), since, until)
    st.subheader("Positions + cash against the broker's total")
    if not rows:
        st.caption(f"No snapshot in the {DAYS} days to {fmt.when(until, tz)}.")
        return
    tolerance = Decimal(data.settings().reconcile_tolerance)
    _quality(rows, tolerance)
    over = [r.over(tolerance) for r in rows]
    frame = pd.DataFrame({
        "Day": [r.day for r in rows],
        "Account": [fmt.account_label(r.broker, r.broker_account_id) for r in rows],
        "Positions": [r.positions for r in rows],
        "Ours (GBP)": [data.as_float(r.ours_gbp) for r in rows],
        "Broker (GBP)": [data.as_float(r.broker_gbp) for r in rows],
        "Residual (GBP)": [data.as_float(r.residual_gbp) for r in rows],
        "Residual %": [data.as_float(r.residual_pct) for r in rows],
        "Over tolerance": over,
        "Warnings": [len(r.warnings) for r in rows],
        "Qty × price ≠ value": [r.off_value for r in rows],
        "Source": [trace.snapshot_link(r.snapshot_id) for r in rows],
    })

    def red(row: pd.Series) -> list[str]:
        style = "color: #c0392b; font-weight: 600" if row["Over tolerance"] else ""
        return [style if c in ("Residual (GBP)", "Residual %", "Over tolerance") else "" for c in row.index]

    st.dataframe(frame.style.apply(red, axis=1), hide_index=True, key="recon_table",
                 height=tables.height(len(frame), 480), column_config={
                     "Ours (GBP)": tables.money("Ours (GBP)", "GBP"),
                     "Broker (GBP)": tables.money("Broker (GBP)", "GBP"),
                     "Residual (GBP)": tables.money("Residual (GBP)", "GBP"),
                     "Residual %": tables.percent("Residual %"),
                     "Source": st.column_config.LinkColumn("Source", display_text="snapshot")})
    flagged = sum(over)
    missing = sum(1 for r in rows if r.broker_gbp is None)
    st.caption(f"{len(rows)} account-day(s) · {flagged} over the tolerance ({tolerance:%} of the broker's total, "
               f"at least a penny per position) · {missing} without a broker total to compare (the broker "
               "gave none, or no rate was stored).")


def _bridges(db: str) -> None:
    st.subheader("The broker's NAV bridge (IB Flex)")
    bridges = data.nav_bridges(db, state.scope())
    if not bridges:
        st.caption("No Flex statement period stored (the bridge comes from IB Flex's ChangeInNAV section).")
        return
    frame = pd.DataFrame({
        "Account": [fmt.account_label(b.broker, b.broker_account_id) for b in bridges],
        "From": [b.from_date for b in bridges], "To": [b.to_date for b in bridges],
        "Ccy": [b.currency or "" for b in bridges],
        "Start": [data.as_float(b.starting_value) for b in bridges],
        "Start (ours)": [data.as_float(b.ours_start_local) for b in bridges],
        "Deposits/withdrawals": [data.as_float(b.deposits_withdrawals) for b in bridges],
        "Deposits (ours)": [data.as_float(b.ours_deposits_local) for b in bridges],
        "Dividends (net)": [data.as_float(b.dividends) for b in bridges],
        "Interest": [data.as_float(b.interest) for b in bridges],
        "Fees": [data.as_float(b.fees) for b in bridges],
        "Market move": [data.as_float(b.market_move) for b in bridges],
        "FX translation": [data.as_float(b.fx_translation) for b in bridges],
        "Other": [data.as_float(b.other) for b in bridges],
        "End": [data.as_float(b.ending_value) for b in bridges],
        "End (ours)": [data.as_float(b.ours_end_local) for b in bridges],
    })
    config = {c: tables.number(c) for c in frame.columns if c not in ("Account", "From", "To", "Ccy")}
    st.dataframe(frame, hide_index=True, key="nav_table", column_config=config)
    st.caption("Broker figures in the account's base currency, as stated; \"ours\" are our stored totals at the "
               "end of the day before the period and of its last day, and the deposits we stored for it. "
               "\"Other\" is what the broker lists beyond these (realised, transfers, accruals, …), so each row "
               "adds up to its end value.")


def render() -> None:
    notices.page_header("Reconciliation")
    with guarded("the reconciliation"):
        db = data.db_key()
        if not data.has_snapshots(db):
            notices.empty_state()
            return
        _residuals(db)
        _bridges(db)


render()
