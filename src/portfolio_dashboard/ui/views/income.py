"""Income: dividends and interest as the brokers paid them, the tax withheld, by month, security, account and UK
tax year, the trailing twelve months, and dividends announced but not yet paid. Always in GBP at each
payment's own date's rate (what a tax return asks for)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import streamlit as st

from portfolio_dashboard.domain.cgt.tax_years import tax_year_of
from portfolio_dashboard.domain.income import IncomeSummary, summarise
from portfolio_dashboard.domain.returns.periods import add_months
from portfolio_dashboard.storage.reads.flows import FlowLine
from portfolio_dashboard.ui import asof, charts, data, flow_data, flow_tables, fmt, notices, state, tables
from portfolio_dashboard.ui.guard import guarded

CHART_KIND = {"dividend": "Dividends", "payment_in_lieu": "Dividends", "interest": "Interest",
              "withholding_tax": "Withholding tax"}
TRAILING = "Trailing 12 months"
ALL = "All time"


def _periods(lines: list[FlowLine], today: date) -> dict[str, tuple[date | None, date | None]]:
    years = {tax_year_of(x.day) for x in lines} | {tax_year_of(today)}
    out: dict[str, tuple[date | None, date | None]] = {}
    for year in sorted(years, reverse=True):
        out[f"Tax year {year.label}"] = (year.start, year.end)
    out[TRAILING] = (add_months(today, -12) + timedelta(days=1), today)
    out[ALL] = (None, None)
    return out


def _within(lines: list[FlowLine], start: date | None, end: date | None) -> list[FlowLine]:
    return [x for x in lines if (start is None or x.day >= start) and (end is None or x.day <= end)]


def _until(lines: list[FlowLine], at: datetime | None) -> list[FlowLine]:
    """What had been received by the time machine's moment (everything without one)."""
    return lines if at is None else [x for x in lines if x.flow_ts <= at]


def headline(s: IncomeSummary, trailing: IncomeSummary) -> None:
    cols = st.columns(4)
    cols[0].metric("Income received", fmt.money(s.gross_gbp), border=True,
                   help="Dividends, payments in lieu and interest, before tax withheld")
    cols[1].metric("Withholding tax", fmt.money(s.withholding_gbp), border=True,
                   help="Tax the paying country kept (often reclaimable or creditable)")
    cols[2].metric("Net income", fmt.money(s.total_gbp), border=True, help="What reached the accounts")
    cols[3].metric("Last 12 months, net", fmt.money(trailing.total_gbp), border=True,
                   help="The twelve months to today (or to the time machine's date), whatever period is chosen")


def monthly_chart(s: IncomeSummary) -> None:
    st.subheader("By month")
    rows = [{"month": m, "kind": CHART_KIND[k], "gbp": data.as_float(v)} for (m, k), v in s.by_month_kind.items()]
    if not rows:
        st.caption("No income in this period.")
        return
    grouped = pd.DataFrame(rows).groupby(["month", "kind"], as_index=False).agg(gbp=("gbp", "sum"))
    st.plotly_chart(charts.income_by_month(grouped), config=charts.CHART_CONFIG, key="income_chart")


def breakdowns(s: IncomeSummary, by_year: IncomeSummary) -> None:
    left, right = st.columns([3, 2])
    with left:
        st.subheader("By security")
        sec = pd.DataFrame({
            "Security": [x.symbol or "Interest (no security)" for x in s.by_security],
            "ISIN": [x.isin or "" for x in s.by_security],
            "Received": [data.as_float(x.gross_gbp) for x in s.by_security],
            "Withheld": [data.as_float(x.withholding_gbp) for x in s.by_security],
            "Net": [data.as_float(x.net_gbp) for x in s.by_security],
        })
        st.dataframe(sec, hide_index=True, key="income_by_security", height=tables.height(len(sec), 420),
                     column_config={c: tables.money(c, "GBP") for c in ("Received", "Withheld", "Net")})
    with right:
        st.subheader("By account")
        acc = pd.DataFrame({
            "Account": [fmt.account_label(b, a) for b, a in s.by_account],
            "Net": [data.as_float(v) for v in s.by_account.values()],
        })
        st.dataframe(acc, hide_index=True, key="income_by_account",
                     column_config={"Net": tables.money("Net", "GBP")})
        st.subheader("By UK tax year")
        years = pd.DataFrame({
            "Tax year": list(by_year.by_tax_year),
            "Net": [data.as_float(v) for v in by_year.by_tax_year.values()],
        }).sort_values("Tax year", ascending=False)
        st.dataframe(years, hide_index=True, key="income_by_tax_year",
                     column_config={"Net": tables.money("Net", "GBP")})


def announced(db: str, at: datetime | None) -> None:
    st.subheader("Announced, not yet paid")
    lines = flow_data.accruals(db, state.scope(), at)
    if not lines:
        st.caption("No announced dividend is waiting to be paid (IBKR lists them in the Flex query's "
                   "*Open Dividend Accruals* section).")
        return
    st.dataframe(pd.DataFrame({
        "Security": [x.symbol or "" for x in lines],
        "Account": [fmt.account_label(x.broker, x.broker_account_id) for x in lines],
        "Ex-date": [x.ex_date for x in lines],
        "Pay date": [x.pay_date for x in lines],
        "Gross": [data.as_float(x.gross_amount) for x in lines],
        "Tax": [data.as_float(x.tax) for x in lines],
        "Net": [data.as_float(x.net_amount) for x in lines],
        "Ccy": [x.currency for x in lines],
    }), hide_index=True, key="income_accruals",
        column_config={c: tables.number(c) for c in ("Gross", "Tax", "Net")})


def render() -> None:
    notices.page_header("Income")
    with guarded("the income"):
        db = data.db_key()
        scope = state.scope()
        at = asof.current()
        # with the time machine, "today" is its day: periods end there and nothing paid later is read
        today = date.today() if at is None else at.astimezone(data.settings().timezone).date()
        every = _until(flow_data.income_lines(db, scope, end=None if at is None else today), at)
        if at is not None:
            asof.banner(data.summary(db, scope, "GBP", at).accounts)
        periods = _periods(every, today)
        current = f"Tax year {tax_year_of(today).label}"
        choice = st.segmented_control("Period", list(periods), default=current, key="income_period")
        start, end = periods[choice or current]
        lines = _within(every, start, end)
        s = summarise(lines, start, end)
        trailing = summarise(_within(every, *periods[TRAILING]))
        headline(s, trailing)
        st.caption("In GBP at the rate of each payment's date · UK tax years run 6 April to 5 April"
                   + (f" · {s.unvalued} payment(s) have no GBP rate and are left out" if s.unvalued else ""))
        if not every:
            st.info("No dividends or interest are stored yet. They arrive with the brokers' transactions: the IB "
                    "Flex query's *Cash Transactions* section, Schwab's transactions, or the demo's history.",
                    icon=":material/payments:")
        monthly_chart(s)
        breakdowns(s, summarise(every))
        announced(db, at)
        st.subheader("Payments")
        flow_tables.show(list(reversed(lines)), "income_lines")
        label = (choice or current).lower().replace(" ", "-")
        left, right = st.columns(2)
        left.download_button("Income in this period (CSV)", flow_tables.csv(lines), file_name=f"income-{label}.csv",
                             mime="text/csv", icon=":material/download:", key="income_csv")
        right.download_button("Every flow, all time (CSV)" if at is None else f"Every flow to {today:%d %b %Y} (CSV)",
                              flow_tables.csv(_until(flow_data.flows(db, scope), at)), file_name="flows.csv",
                              mime="text/csv", icon=":material/download:", key="flows_csv")


render()
