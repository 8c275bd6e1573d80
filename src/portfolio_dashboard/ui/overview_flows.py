"""The Overview's money-in-and-out parts: "since previous day" as the market's movement with the day's flows
beside it, the period bridge (value now = value at start + money in + gain), the invested line on the value
chart, and the accounts whose flows are unknown. A deposit is money in, never a gain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from decimal import ROUND_HALF_UP, Decimal

import streamlit as st

from portfolio_dashboard.domain.returns.periods import resolve_period
from portfolio_dashboard.storage.reads.portfolio import SeriesPoint, Summary
from portfolio_dashboard.storage.reads.scope import Scope
from portfolio_dashboard.ui import data, flow_data, fmt

PERIODS = {"1M": "1m", "3M": "3m", "YTD": "ytd", "UK tax year": "tax-year", "1Y": "1y", "All": None}
PERIOD_KEY = "bridge_period"


def _display(amount_gbp: Decimal, s: Summary) -> Decimal | None:
    """A GBP amount in the display currency at the summary's rate (None when that rate is missing)."""
    return None if s.rate is None else amount_gbp * s.rate


def since_previous_day(db: str, scope: Scope, s: Summary) -> None:
    """The change since each account's last value before today, less the money that came in meanwhile."""
    change = s.change_day
    help_text = ("Now against each account's last value before today, less deposits and withdrawals since "
                 "then: what the market did")
    if change is None or s.asof is None:
        st.metric("Since previous day", fmt.DASH, help=help_text + " (not enough history yet)", border=True,
                  height="stretch")
        return
    moved = flow_data.money_in(db, scope, change.since, s.asof)
    flows = _display(moved.net_gbp, s) or Decimal(0)
    market = change.amount - flows
    before = s.total - change.amount if s.total is not None else None
    pct = market / before if before else None
    since = fmt.when(change.since, data.settings().timezone)
    delta = fmt.pct(pct, minus="-") if pct is not None else None
    if flows:
        delta = f"{delta or ''} · money in {fmt.money(flows, s.currency, signed=True)}".strip(" ·")
    with st.container(key="since-previous-day"):
        st.metric("Since previous day", fmt.money(market, s.currency, signed=True), delta=delta,
                  help=f"{help_text} (compared with {since})", border=True, height="stretch")


CENT = Decimal("0.01")


def bridge(db: str, scope: Scope, s: Summary) -> None:
    """value £X = start £A + money in £B + gain £C, for the chosen period, in GBP."""
    head, pick = st.columns([2, 3], vertical_alignment="bottom")
    head.subheader("Where the value came from")
    label = pick.segmented_control("Period", list(PERIODS), default="YTD", key=PERIOD_KEY,
                                   label_visibility="collapsed") or "YTD"
    tz = data.settings().timezone
    name = PERIODS[label]
    start = None
    if name is not None:
        first, _today = resolve_period(name, datetime.now(tz).date())
        start = datetime.combine(first, time(), tz)
    b = flow_data.bridge(db, scope, start)
    if b.value_now is None:
        st.caption("The value now has no GBP figure (a missing FX rate), so the period cannot be explained.")
        return
    # Each figure to the penny first, the gain as what is left of them: the sentence adds up exactly as printed
    # (the unrounded gain differs from it by less than a penny).
    value, begin, money = (None if x is None else x.quantize(CENT, ROUND_HALF_UP)
                           for x in (b.value_now, b.start_value, b.money_in))
    shown = (value - begin - money
             if b.gain is not None and value is not None and begin is not None and money is not None else None)
    gain = fmt.money(shown, signed=True) if shown is not None else fmt.DASH
    with st.container(key="bridge"):
        st.markdown(f"<div class='tabular' style='font-size:1.15rem'>Value <b>{fmt.money(value)}</b> = "
                    f"start {fmt.money(begin)} + money in <b>{fmt.money(money, signed=True)}</b> + "
                    f"gain <b>{gain}</b></div>", unsafe_allow_html=True)
    later = b.effective_start is not None and (start is None or b.effective_start > start)
    since = fmt.when(b.effective_start if later else start, tz)
    notes = [f"From {since} to {fmt.when(b.asof, tz)}, in GBP."]
    if later:
        notes.append("The records begin after the period's start, so it runs from each account's first snapshot.")
    notes.append("Money in is deposits and transfers in, less withdrawals and transfers out; dividends and "
                 "interest are part of the gain.")
    if b.unvalued_flows:
        notes.append(f"{b.unvalued_flows} deposit(s) or withdrawal(s) have no GBP rate, so the gain is not shown.")
    if b.start_value is None:
        notes.append("An account had no GBP value at the start (a missing FX rate).")
    st.caption(" ".join(notes))


def invested_line(db: str, scope: Scope, points: Sequence[SeriesPoint]) -> tuple[list[object], list[float | None]]:
    """The value on the first day plus the net money put in since, per chart day, in the chart's currency."""
    valued = [p for p in points if p.value is not None]
    if not valued:
        return [], []
    first = valued[0]
    flows = {f.day: f.net_external_gbp for f in flow_data.daily_flows(db, scope) if f.day > first.day}
    days: list[object] = []
    out: list[float | None] = []
    running_gbp = Decimal(0)
    pending = sorted(flows.items())
    i = 0
    base_gbp = first.value_gbp or Decimal(0)
    for p in points:
        while i < len(pending) and pending[i][0] <= p.day:
            running_gbp += pending[i][1]
            i += 1
        factor = (p.value / p.value_gbp) if p.value is not None and p.value_gbp else None
        days.append(p.day)
        out.append(None if factor is None else float((base_gbp + running_gbp) * factor))
    return days, out


def unknown_flows(db: str, scope: Scope) -> None:
    accounts = flow_data.flows_unknown(db, scope)
    if not accounts:
        return
    names = ", ".join(fmt.account_label(b, a) for b, a in accounts)
    st.warning(f"**Money in and out is unknown for {names}.** These accounts are captured through the IB Client "
               "Portal gateway only, which lists no deposits or dividends, so a deposit there shows as gain. Add "
               "the account's Flex query (IB_FLEX_TOKEN and IB_FLEX_QUERY_ID, with the Cash Transactions "
               "section) to record them.", icon=":material/help:")
