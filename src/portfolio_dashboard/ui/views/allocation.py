"""Allocation: where the money is, by instrument, asset class, currency, broker and account."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from portfolio_dashboard.storage.reads.classes import ClassLevel
from portfolio_dashboard.storage.reads.portfolio import AllocationSlice, Dimension
from portfolio_dashboard.ui import asof, charts, data, fmt, notices, settings_data, state, tables
from portfolio_dashboard.ui.guard import guarded

DIMENSIONS: dict[str, Dimension] = {
    "Instrument": "instrument", "Asset class": "asset_class", "Currency": "currency", "Broker": "broker",
    "Account": "account",
}
# The user's own classes (Instruments page, `classes set`): grouped from the per-instrument slices
CLASS_LEVELS: dict[str, ClassLevel] = {"Your class": "class", "Class · sub-class": "subclass"}
ASSET_CLASSES = {"etf": "ETF", "cfd": "CFD", "fx": "FX"}
DONUT_SLICES = 10  # beyond this a donut is unreadable: the rest is one "Other" slice (the table has all)


def _label(dimension: Dimension, s: AllocationSlice) -> str:
    if dimension == "account":
        broker, _, account = s.label.partition("/")
        return fmt.account_label(broker, account)
    if dimension == "broker":
        return fmt.broker_label(s.label)
    if dimension == "asset_class":
        if s.label[:1].isupper():  # already a display name (the user's classes)
            return s.label
        return ASSET_CLASSES.get(s.label, s.label.replace("_", " ").capitalize())
    return s.label


def chart(dimension: Dimension, labels: list[str], values: list[float], currency: str) -> None:
    if dimension == "instrument":
        fig = charts.treemap(labels, [""] * len(labels), values, currency)
    else:
        if len(labels) > DONUT_SLICES:
            labels = [*labels[: DONUT_SLICES - 1], "Other"]
            values = [*values[: DONUT_SLICES - 1], sum(values[DONUT_SLICES - 1 :])]
        fig = charts.donut(labels, values, currency)
    st.plotly_chart(fig, config=charts.CHART_CONFIG, key=f"allocation_{dimension}")


def render() -> None:
    notices.page_header("Allocation")
    with guarded("the allocation"):
        db = data.db_key()
        if not data.has_snapshots(db):
            notices.empty_state()
            return
        currency = state.currency()
        st.session_state.setdefault("allocation_by", "Asset class")
        at = asof.current()
        by = (st.segmented_control("Group by", [*DIMENSIONS, *CLASS_LEVELS], key="allocation_by")
              or "Asset class")
        if by in CLASS_LEVELS:
            dimension: Dimension = "asset_class"  # labels are the user's class names, shown as they are
            slices = settings_data.class_allocation(db, state.scope(), CLASS_LEVELS[by], currency, at)
        else:
            dimension = DIMENSIONS[by]
            slices = data.allocation(db, state.scope(), dimension, currency, at)
        if not slices:
            notices.nothing_in_filter("position")
            return
        if at is not None:  # the latest view reads no summary here
            asof.banner(data.summary(db, state.scope(), currency, at).accounts)
        missing = sum(s.holdings_without_value for s in slices)
        if missing:
            st.warning(f"{missing} holding(s) have no GBP value (no FX rate) and are left out of the weights.",
                       icon=":material/warning:")
        labels = [_label(dimension, s) for s in slices]
        positive = [(lab, float(s.value)) for lab, s in zip(labels, slices, strict=True)
                    if s.value is not None and s.value > 0]
        left, right = st.columns([3, 2])
        with left:
            if positive:
                chart(dimension, [p[0] for p in positive], [p[1] for p in positive], currency)
            else:
                st.caption("Nothing to chart: no holding has a positive value in this currency.")
        with right:
            frame = pd.DataFrame({
                by: labels,
                "Value": [data.as_float(s.value) for s in slices],
                "Weight": [data.as_float(s.weight) for s in slices],
                "Holdings": [s.holdings for s in slices],
            })
            st.dataframe(frame, hide_index=True, key="allocation_table",
                         height=tables.height(len(frame), 460),
                         column_config={"Value": tables.money("Value", currency), "Weight": tables.percent("Weight")})
            exact = pd.DataFrame({by: labels, "value_gbp": [s.value_gbp for s in slices],
                                  f"value_{currency.lower()}": [s.value for s in slices],
                                  "weight": [s.weight for s in slices], "holdings": [s.holdings for s in slices]})
            st.download_button("Download CSV", exact.to_csv(index=False).encode("utf-8"),
                               file_name=f"allocation-{dimension}.csv", mime="text/csv", icon=":material/download:",
                               key="allocation_csv")
            total = sum((s.value for s in slices if s.value is not None), start=0)
            which = "the latest snapshot" if at is None else "the newest stored snapshot at that moment"
            st.caption(f"Total {fmt.money(total, currency)} over {which} of each account. Negative "
                       "holdings (short positions, borrowed cash) count in the table, not in the chart.")


render()
