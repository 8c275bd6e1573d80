"""The Instruments page's "Asset classes" tab: each global instrument's class and sub-class, editable.

A class set here is the user's (kept by every capture and reprocess); an instrument nobody classified shows
the default read from the brokers' data. Same call as `portfolio-dashboard classes set`.
"""

from __future__ import annotations

import uuid

import pandas as pd
import streamlit as st

from portfolio_dashboard.bootstrap import get_app
from portfolio_dashboard.domain.asset_classes import CLASSES
from portfolio_dashboard.errors import PortfolioError
from portfolio_dashboard.services.user_settings import update_class
from portfolio_dashboard.storage.reads.classes import InstrumentClass
from portfolio_dashboard.ui import data, tables

SAVED_KEY = "class_saved"


def classes_table(rows: list[InstrumentClass]) -> None:
    frame = pd.DataFrame({
        "Symbol": [c.symbol or "" for c in rows], "Name": [c.name or "" for c in rows],
        "Class": [c.effective_class for c in rows], "Sub-class": [c.effective_subclass or "" for c in rows],
        "Set by": ["you" if c.is_user else "default" for c in rows],
        "Broker labels": [", ".join(c.broker_labels) for c in rows], "ISIN": [c.isin or "" for c in rows],
    })
    st.dataframe(frame, hide_index=True, key="classes_table", height=tables.height(len(frame), 460))


def _save(global_id: uuid.UUID, cls: str | None, sub: str, reset: bool) -> None:
    try:
        after = update_class(get_app().engine, global_id, None if reset else cls, None if reset else sub)
    except PortfolioError as exc:
        st.error(exc.user_message(), icon=":material/error:")
        return
    data.clear()
    sub_text = f" · {after.effective_subclass}" if after.effective_subclass else ""
    st.session_state[SAVED_KEY] = (f"Saved: {after.symbol} is {after.effective_class}{sub_text}"
                                   f"{' (default)' if not after.is_user else ''}.")
    st.rerun()  # the table above the form then shows the change


def class_form(rows: list[InstrumentClass]) -> None:
    st.subheader("Set an instrument's class")
    by_id = {c.id: c for c in rows}
    chosen = st.selectbox("Instrument", list(by_id), key="class_pick", index=None,
                          placeholder="Choose an instrument",
                          format_func=lambda i: f"{by_id[i].symbol or '?'} · {by_id[i].name or ''} "
                                                f"({by_id[i].effective_class})")
    if chosen is None:
        return
    current = by_id[chosen]
    known = sorted({*CLASSES, *(c.effective_class for c in rows)})
    saved = st.session_state.pop(SAVED_KEY, None)
    if saved:
        st.success(saved, icon=":material/check_circle:")
    with st.form("class_settings", border=True):
        cls = st.selectbox("Class", known, index=known.index(current.effective_class), accept_new_options=True,
                           key=f"class_{chosen}", help="Pick one or type your own.")
        sub = st.text_input("Sub-class", value=current.effective_subclass or "", key=f"subclass_{chosen}",
                            placeholder="e.g. US large cap, Gold, Short gilts")
        save, reset = st.columns(2)
        if save.form_submit_button("Save", type="primary"):
            _save(chosen, cls, sub, reset=False)
        if reset.form_submit_button("Back to default"):
            _save(chosen, None, "", reset=True)
