"""Overview: the total now, how it moved, where it sits, and how it got here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import streamlit as st

from portfolio_dashboard.storage.reads.portfolio import Change, SeriesPoint, Summary
from portfolio_dashboard.ui import (
    asof,
    data,
    fmt,
    notices,
    overview_flows,
    overview_parts,
    returns_headline,
    sidebar,
    state,
    tables,
    trace,
)
from portfolio_dashboard.ui import value_chart as value_chart_spec
from portfolio_dashboard.ui.guard import guarded

STALE_AFTER = timedelta(hours=26)


def _change_metric(label: str, change: Change | None, currency: str, help_text: str) -> None:
    if change is None:
        st.metric(label, fmt.DASH, help=help_text + " (not enough history yet)", border=True, height="stretch")
        return
    since = fmt.when(change.since, data.settings().timezone)
    st.metric(label, fmt.money(change.amount, currency, signed=True),
              delta=fmt.pct(change.pct, minus="-") if change.pct is not None else None,
              help=f"{help_text} (compared with {since})", border=True, height="stretch")


def metrics(s: Summary, db: str = "") -> None:
    ccy = s.currency
    cols = st.columns(3)
    with cols[0], st.container(key="total-value"):
        count = len(s.accounts)
        st.metric("Total value", fmt.money(s.total, ccy), border=True, height="stretch",
                  delta=f"{count} account{'s' if count != 1 else ''} · {s.currency}", delta_color="off",
                  delta_arrow="off", help="The newest snapshot of every account in the filter, added up.")
    with cols[1]:
        overview_flows.since_previous_day(db, state.scope(), s)  # the market's move, the day's flows beside it
    with cols[2]:
        if not overview_parts.snapshot_metric(s):
            _change_metric("Since previous snapshot", s.change_snapshot, ccy,
                           "The sum over accounts of the newest snapshot minus the one before it")
    # its own row: a fourth card would cut the total value short on a laptop screen
    with st.columns(3)[0], guarded("the return"):
        returns_headline.metric()


def notes(s: Summary) -> None:
    tz = data.settings().timezone
    rate = ""
    if s.currency != "GBP" and s.rate is not None:
        rate = f" · £1 = {fmt.symbol(s.currency)}{s.rate:.4f} (stored rate)"
    st.caption(f"As of {fmt.when(s.asof, tz)} · {len(s.accounts)} account(s) · values in {s.currency}{rate}")
    sources = " · ".join(f"[{fmt.account_label(a.broker, a.broker_account_id)}]({trace.snapshot_link(a.snapshot_id)})"
                         for a in s.accounts if a.snapshot_id is not None)
    st.caption(f":material/link: Sources of these figures (snapshot and raw response): {sources}")
    if s.rate_missing:
        st.warning(f"No GBP→{s.currency} rate is stored yet, so values cannot be shown in {s.currency}. "
                   "Choose GBP in the sidebar, or capture an account that holds this currency.",
                   icon=":material/currency_exchange:")
    elif s.accounts_without_value:
        st.warning(f"{s.accounts_without_value} account(s) have no GBP value (no FX rate for their currency), "
                   "so the total and the changes cannot be shown. See the Runs page for the warning.",
                   icon=":material/warning:")
    if s.at is None and s.asof and s.oldest_asof and s.asof - s.oldest_asof > STALE_AFTER:
        stale = [fmt.account_label(a.broker, a.broker_account_id) for a in s.accounts
                 if s.asof - a.asof_ts > STALE_AFTER]
        st.caption(f":material/schedule: Older snapshots in the total: {', '.join(stale)} "
                   f"(last captured {fmt.ago(s.oldest_asof, datetime.now(UTC))}).")


def value_chart(db: str, currency: str) -> None:
    head, pick, toggle = st.columns([2, 2, 1], vertical_alignment="bottom")
    head.subheader("Value over time")
    period = pick.segmented_control("Chart period", list(value_chart_spec.RANGES), default="All",
                                    key="value_chart_period", label_visibility="collapsed") or "All"
    stacked = toggle.toggle("Stack by account", key="stack_by_account")
    at = asof.current()
    points = data.series(db, state.scope(), currency, stacked,
                         at.astimezone(data.settings().timezone).date() if at else None)
    if sum(p.value is not None for p in points) < 2:
        st.caption("The chart appears once there are snapshots on two different days.")
        return
    invested: dict[object, float | None] = {}  # day -> the net money in line (not drawn on stacked accounts)
    if not stacked:
        flow_days, line = overview_flows.invested_line(db, state.scope(), points)
        if any(v is not None for v in line):
            invested = dict(zip(flow_days, line, strict=True))
    days = sorted({p.day for p in points})
    series: dict[str, dict[date, Decimal | None]] = {}
    for p in points:
        label = (fmt.account_label(p.broker, p.broker_account_id) if stacked and p.broker and p.broker_account_id
                 else value_chart_spec.PORTFOLIO)
        series.setdefault(label, {})[p.day] = p.value
    start = value_chart_spec.first_day(days, period)
    shown = value_chart_spec.thin([d for d in days if start is None or d >= start])
    with st.container(key="value_chart"):  # the key names the chart for tests and the bench
        st.markdown(
            value_chart_spec.html(shown, {k: [v.get(d) for d in shown] for k, v in sorted(series.items())},
                                  currency, stacked=stacked,
                                  invested=[invested.get(d) for d in shown] if invested else None),
            unsafe_allow_html=True)
    if len(shown) == 1:
        st.caption(f"Only one day of the period {period} has a value (a dot): choose a longer period for a line.")
    if any(p.value is None for p in points):
        st.caption("Gaps are days on which an account had no value in this currency (a missing FX rate).")
    # made when the button is clicked, not on every visit (Streamlit runs the callable then, off the script)
    st.download_button("Download daily values (CSV)", lambda: daily_csv(points, currency),
                       file_name="daily-values.csv", mime="text/csv", icon=":material/download:", key="series_csv",
                       help="Exact decimals. Every column, with sources: `portfolio-dashboard export daily-values`.")


def daily_csv(points: Sequence[SeriesPoint], currency: str) -> bytes:
    """Every charted day (not only the drawn ones), exact decimals, GBP and the display currency."""
    exact = pd.DataFrame({"day": [p.day for p in points], "broker": [p.broker or "" for p in points],
                          "account_id": [p.broker_account_id or "" for p in points],
                          "value_gbp": [p.value_gbp for p in points],
                          f"value_{currency.lower()}": [p.value for p in points]})
    return exact.to_csv(index=False).encode("utf-8")


def breakdown(db: str, s: Summary) -> None:
    """The accounts across the page (their table is wide), then the brokers."""
    st.subheader("By account")
    overview_parts.account_table(db, s)
    total = s.total or 0
    brokers = pd.DataFrame({
        "Broker": [fmt.broker_label(b.broker) for b in s.brokers],
        "Accounts": [b.accounts for b in s.brokers],
        "Value": [b.value for b in s.brokers],
        "Weight": [b.value / total if b.value is not None and total else None for b in s.brokers],
    }, dtype=object)
    st.subheader("By broker")
    with st.container(key="brokers_table"):
        st.markdown(tables.static(brokers, money_cols={"Value": s.currency}, pct_cols=("Weight",)),
                    unsafe_allow_html=True)


def summary(db: str) -> Summary | None:
    """The filter's summary, or None after saying why there is nothing to show."""
    if not data.has_snapshots(db):
        notices.empty_state()
        return None
    s = data.summary(db, state.scope(), state.currency(), asof.current())
    if not s.accounts:
        notices.nothing_in_filter()
        return None
    return s


def headline(db: str, s: Summary) -> None:
    """The time machine's banner, the notes and the headline numbers."""
    asof.banner(s.accounts)
    notes(s)
    metrics(s, db)


def render() -> None:
    notices.page_header("Overview")
    db, s = "", None
    with guarded("the overview"):
        db = data.db_key()
        s = summary(db)
    if s is None:
        return
    top, middle, chart, bottom = st.container(), st.container(), st.container(), st.container()
    # Sent first, drawn third: the chart is the page's largest part, so sending it before the rest is computed
    # shows the whole page sooner on a page switch; the numbers follow and still come first
    # (bench/ui_warm_render.py, docs/benchmarks.md).
    with chart, guarded("the overview"):
        value_chart(db, s.currency)
    with top, guarded("the overview"):
        headline(db, s)
    sidebar.draw()
    with middle, guarded("the overview"):
        overview_flows.unknown_flows(db, state.scope())
        overview_flows.bridge(db, state.scope(), s)
        overview_parts.currency_flip_note(db, s)
        overview_parts.position_headlines(db, s.currency)
    with bottom, guarded("the overview"):
        breakdown(db, s)


render()
