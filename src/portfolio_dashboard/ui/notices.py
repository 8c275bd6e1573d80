"""Messages more than one page shows."""

from __future__ import annotations

import streamlit as st

from portfolio_dashboard.ui import data, state


def page_header(title: str) -> None:
    st.title(title)
    note = state.filter_note()
    if note:
        st.caption(f":material/filter_alt: {note}")


def empty_state() -> None:
    demo = not data.settings().brokers
    st.info(
        "**No snapshots yet.** Click **Save snapshot** in the sidebar to capture your accounts now."
        + (" With no broker configured it uses the demo source; **Load demo history** fills a year of charts "
           "at once." if demo else ""),
        icon=":material/photo_camera:",
    )


def nothing_in_filter(what: str = "account") -> None:
    st.info(f"No {what} matches the filter. Change or clear it in the sidebar.", icon=":material/filter_alt_off:")
