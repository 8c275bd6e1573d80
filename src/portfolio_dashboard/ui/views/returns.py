"""Returns: time- and money-weighted returns per account, broker, wrapper and in total, against a benchmark.

A figure that cannot be right (unknown flows, a gap in the valuations, no valuation to start from) shows as
"unavailable" with its reason, never as 0%. Definitions: docs/returns.md.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import streamlit as st

from portfolio_dashboard.domain.returns import ReturnResult
from portfolio_dashboard.domain.returns.periods import add_years
from portfolio_dashboard.services.returns import PreparedReturns, ReturnsReport
from portfolio_dashboard.ui import asof, data, fmt, notices, returns_charts, returns_data, returns_headline, state
from portfolio_dashboard.ui.guard import guarded

PERIODS = {"1M": "1m", "3M": "3m", "6M": "6m", "YTD": "ytd", "Tax year": "tax-year",
           "Last tax year": "prev-tax-year", "1Y": "1y", "3Y": "3y", "5Y": "5y", "All": "all", "Custom": "custom"}
PERIOD_KEY = "returns_period"
WRAPPER_KEY = "returns_wrappers"
BENCHMARK_KEY = "returns_benchmark"
UNAVAILABLE = "unavailable"
NO_BENCHMARK = "None"


def over_a_year(start: date, end: date) -> bool:
    """Periods longer than a year are shown annualised (the rule of docs/returns.md), available or not."""
    return end > add_years(start - timedelta(days=1), 1)


def pct_or_reason(value: Decimal | None, result: ReturnResult) -> str:
    return fmt.pct(value) if value is not None else (UNAVAILABLE if result.unavailable else fmt.DASH)


def money_or_reason(value: Decimal | None, result: ReturnResult, *, decimals: int = 2) -> str:
    return fmt.money(value, "GBP", signed=True, decimals=decimals) if value is not None else (
        UNAVAILABLE if result.unavailable else fmt.DASH)


def _default_label() -> str:
    chosen = returns_headline.chosen_period()
    return next(label for label, name in PERIODS.items() if name == chosen)


def choose_period(prepared: PreparedReturns) -> tuple[str | None, date | None, date | None]:
    label = st.segmented_control("Period", list(PERIODS), default=_default_label(), key=PERIOD_KEY) or "YTD"
    if PERIODS[label] != "custom":
        st.session_state[returns_headline.CHOSEN_KEY] = PERIODS[label]  # the Overview's headline follows it
    choices = returns_data.wrappers(data.db_key())
    if len(choices) > 1:  # one wrapper (or none assigned yet) has nothing to choose
        st.columns([2, 3])[0].multiselect("Wrapper", choices, key=WRAPPER_KEY, placeholder="All wrappers")
    if PERIODS[label] != "custom":
        return PERIODS[label], None, None
    first_day = prepared.inception or prepared.today
    a, b, _ = st.columns([1, 1, 3])
    start = a.date_input("From", value=max(first_day, prepared.today - timedelta(days=90)), key="returns_from")
    end = b.date_input("To", value=prepared.today, key="returns_to",
                       help="Defaults to the time machine's date (or today); nothing stored after it is read.")
    return None, start if isinstance(start, date) else None, end if isinstance(end, date) else None


def headline(report: ReturnsReport) -> None:
    total = report.total
    cols = st.columns(4)
    annualised = over_a_year(report.start, report.end)
    twr_value = total.twr_annualised if annualised else total.twr
    with cols[0]:
        st.metric("TWR" + (" (annualised)" if annualised else ""), pct_or_reason(twr_value, total), border=True,
                  delta=f"{fmt.pct(total.twr)} over the period" if annualised else None, delta_color="off",
                  help="Time-weighted: the return of the investments, whatever money was added or taken out.")
    with cols[1]:
        st.metric("MWR" + (" (annual)" if annualised else ""), pct_or_reason(total.mwr, total), border=True,
                  help="Money-weighted (XIRR): your own return, counting when you added or took out money.")
    with cols[2]:
        # whole pounds on the cards (four to a row): the table below has the pence
        st.metric("Gain", money_or_reason(total.gain, total, decimals=0), border=True,
                  help="End value − start value − money in (net of money out).")
    with cols[3]:
        st.metric("Net money in", money_or_reason(total.net_flows, total, decimals=0), border=True,
                  help="Deposits and transfers in, less withdrawals and transfers out.")
    st.caption(f"{report.start:%d %b %Y} – {report.end:%d %b %Y} · from {fmt.money(total.start_value)} "
               f"to {fmt.money(total.end_value)} · in GBP")
    for reason in total.unavailable:
        st.warning(f"Unavailable: {reason}", icon=":material/block:")


def table(report: ReturnsReport) -> None:
    rows: list[tuple[str, str, ReturnResult, Decimal | None, Decimal | None]] = []
    for a in report.accounts:
        rows.append(("Account", fmt.account_label(a.broker, a.broker_account_id, a.name), a.gbp, a.broker_twr,
                     a.comparison.difference_pp if a.comparison else None))
    if len(report.brokers) > 1:
        rows += [("Broker", fmt.broker_label(b), r, None, None) for b, r in report.brokers.items()]
    if len(report.wrappers) > 1:
        rows += [("Wrapper", w, r, None, None) for w, r in report.wrappers.items()]
    rows.append(("Total", "All in the filter", report.total, None, None))
    frame = pd.DataFrame({
        "Level": [r[0] for r in rows],
        "Scope": [r[1] for r in rows],
        "Start value": [fmt.money(r[2].start_value) for r in rows],
        "End value": [fmt.money(r[2].end_value) for r in rows],
        "Net flows": [money_or_reason(r[2].net_flows, r[2]) for r in rows],
        "Gain": [money_or_reason(r[2].gain, r[2]) for r in rows],
        "TWR": [pct_or_reason(r[2].twr, r[2]) for r in rows],
        "TWR p.a.": [fmt.pct(r[2].twr_annualised) if r[2].twr_annualised is not None else "" for r in rows],
        "MWR": [pct_or_reason(r[2].mwr, r[2]) for r in rows],
        "IBKR TWR": [fmt.pct(r[3]) if r[3] is not None else "" for r in rows],
        "Δ vs IBKR": [f"{r[4]:+.3f} pp" if r[4] is not None else "" for r in rows],
        "Why unavailable": ["; ".join(r[2].unavailable) for r in rows],
    })
    if not any(frame["IBKR TWR"]):
        frame = frame.drop(columns=["IBKR TWR", "Δ vs IBKR"])
    if not any(frame["Why unavailable"]):
        frame = frame.drop(columns=["Why unavailable"])
    if not any(frame["TWR p.a."]):
        frame = frame.drop(columns=["TWR p.a."])
    st.dataframe(frame, hide_index=True, key="returns_table")


def benchmark_chart(db: str, prepared: PreparedReturns, report: ReturnsReport) -> None:
    head, pick = st.columns([3, 2], vertical_alignment="bottom")
    head.subheader("Cumulative return")
    names = returns_data.benchmark_names(db)
    choice = pick.selectbox("Benchmark", [NO_BENCHMARK, *names], key=BENCHMARK_KEY)
    ours = prepared.cumulative(report.start, report.end)
    versus = None
    if choice and choice != NO_BENCHMARK:
        versus = returns_data.benchmark(db, choice, report.start, report.end, report.total.twr)
    if len(ours) < 2:
        st.caption("The chart appears once the period has valuations on two different days.")
        return
    st.plotly_chart(returns_charts.cumulative(ours, versus.cumulative if versus else [], choice),
                    key="returns_chart")
    if versus is not None:
        if versus.unavailable:
            st.caption(f"{choice}: unavailable ({versus.unavailable}).")
        else:
            st.caption(f"{choice} ({'our own prices' if versus.kind == 'held' else 'imported'}): "
                       f"{fmt.pct(versus.twr)} · portfolio minus {choice}: "
                       f"{fmt.pct(versus.difference) if versus.difference is not None else UNAVAILABLE}")
    if not names:
        st.caption("Import a benchmark with `portfolio-dashboard benchmark import NAME FILE.csv`.")


def heatmap(prepared: PreparedReturns) -> None:
    st.subheader("Monthly returns")
    months = prepared.monthly()
    if not months:
        st.caption("No valuations yet.")
        return
    st.plotly_chart(returns_charts.monthly_heatmap(months), key="returns_heatmap")
    if any(m.twr is None for m in months):
        st.caption("n/a: a month whose return is unavailable (hover for the month; the table above gives reasons).")


def render() -> None:
    notices.page_header("Returns")
    with guarded("returns"):
        db = data.db_key()
        if not data.has_snapshots(db):
            notices.empty_state()
            return
        wrappers = tuple(st.session_state.get(WRAPPER_KEY) or ())
        flt = returns_data.returns_filter(state.scope(), wrappers)
        prepared = returns_data.prepared_asof(db, flt)
        if not prepared.histories:
            notices.nothing_in_filter()
            return
        at = asof.current()
        if at is not None:  # periods end on that day, from what was stored by then
            asof.banner(data.summary(db, state.scope(), "GBP", at).accounts)
        period, start, end = choose_period(prepared)
        if period is None and (start is None or end is None or start > end):
            st.info("Choose a first day on or before the last day.")
            return
        report = prepared.report(period, start, end)
        headline(report)
        table(report)
        benchmark_chart(db, prepared, report)
        heatmap(prepared)


render()
