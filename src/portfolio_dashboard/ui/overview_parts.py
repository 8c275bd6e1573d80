"""Overview pieces added for a UK investor's reading: position headlines, the account table in GBP and USD with
wrapper and share of the total, the two change cards without a repeated figure, and a note when the display
currency turns a change's sign. Each is one function the Overview calls, so other additions merge beside them.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import streamlit as st

from portfolio_dashboard.storage.reads.portfolio import Change, Summary
from portfolio_dashboard.storage.reads.reconciliation import Residual
from portfolio_dashboard.ui import asof, data, fmt, state, tables, trace

SAME_AS_DAY = "Same as since previous day"


def same_change(a: Change | None, b: Change | None) -> bool:
    """True when the two cards would show one figure twice (the previous snapshot is the previous day's)."""
    return a is not None and b is not None and round(a.amount, 2) == round(b.amount, 2)


def snapshot_metric(s: Summary) -> bool:
    """Draws "Since previous snapshot" as a pointer when it equals the day's change; True if it did."""
    if not same_change(s.change_day, s.change_snapshot):
        return False
    st.metric("Since previous snapshot", fmt.DASH, delta=SAME_AS_DAY, delta_color="off", delta_arrow="off",
              border=True, height="stretch",
              help="The previous snapshot is also the last one before today, so the change is the one beside.")
    return True


def currency_flip_note(db: str, s: Summary) -> None:
    """When a change has one sign in the display currency and the other in GBP, say that the currency moved."""
    if s.currency == "GBP":
        return
    gbp = data.summary(db, state.scope(), "GBP")
    for label, shown, base in (("previous day", s.change_day, gbp.change_day),
                               ("previous snapshot", s.change_snapshot, gbp.change_snapshot)):
        if shown is None or base is None or shown.amount * base.amount >= 0:
            continue
        st.caption(
            f":material/currency_exchange: Since the {label} the portfolio is "
            f"{fmt.money(shown.amount, s.currency, signed=True)} in {s.currency} but "
            f"{fmt.money(base.amount, 'GBP', signed=True)} in GBP: the sign differs because GBP→{s.currency} moved "
            "between the two dates, not the holdings.")


def position_headlines(db: str, currency: str) -> None:
    """Number of positions, average position size, total unrealised P&L (display currency)."""
    h = data.holding_stats(db, state.scope(), currency, asof.current())
    cols = st.columns(3)
    with cols[0], st.container(key="positions-count"):
        st.metric("Positions", f"{h.positions:,}", border=True, height="stretch",
                  help="Holdings in the latest snapshot of every account in the filter (cash not counted).")
    with cols[1]:
        st.metric("Average position", fmt.money(h.average, currency), border=True, height="stretch",
                  help="The value of the positions divided by their number.")
    with cols[2]:
        pnl = h.unrealised_pnl
        note = f"{h.without_pnl} without a cost basis" if h.without_pnl else None
        st.metric("Unrealised P&L", fmt.money(pnl, currency, signed=True), border=True, height="stretch",
                  delta=note, delta_color="off", delta_arrow="off",
                  help="The brokers' unrealised profit and loss (or value minus cost basis), added up.")


def account_table(db: str, s: Summary) -> None:
    """Every account: wrapper, value in GBP and USD side by side (and the display currency), % of total."""
    tz = data.settings().timezone
    lines = data.account_lines(db, state.scope(), asof.current())
    display = {(a.broker, a.broker_account_id): a.value for a in s.accounts}
    snapshots = {(a.broker, a.broker_account_id): a.snapshot_id for a in s.accounts}
    residuals = data.residuals(data.db_key())
    frame = pd.DataFrame({
        # what identifies an account and what it is worth first: a phone shows these before scrolling sideways
        "Account": [fmt.account_label(a.broker, a.broker_account_id) for a in lines],
        "Wrapper": [fmt.wrapper_label(a.wrapper) for a in lines],
        "Value (GBP)": [a.value_gbp for a in lines],
        "Value (USD)": [a.value_usd for a in lines],
        **({f"Value ({s.currency})": [display.get((a.broker, a.broker_account_id)) for a in lines]}
           if s.currency not in ("GBP", "USD") else {}),
        "% of total": [a.weight for a in lines],
        "Name": [a.name or "" for a in lines],
        "As of": [fmt.when(a.asof_ts, tz) for a in lines],
        # how far positions + cash + the broker's accruals are from the broker's own total (newest snapshot)
        "Unreconciled": [_residual(residuals.get((a.broker, a.broker_account_id))) for a in lines],
        "Source": [trace.snapshot_link(snapshots.get((a.broker, a.broker_account_id))) for a in lines],
    }, dtype=object)
    money_cols = {c: c[7:-1] for c in frame.columns if c.startswith("Value (")}
    with st.container(key="accounts_table"):  # the key names the table for tests
        st.markdown(tables.static(frame, money_cols=money_cols, pct_cols=("% of total", "Unreconciled"),
                                  links={"Source": "snapshot"}), unsafe_allow_html=True)


def _residual(line: Residual | None) -> Decimal | None:
    return None if line is None or line.residual_pct is None else line.residual_pct / 100
