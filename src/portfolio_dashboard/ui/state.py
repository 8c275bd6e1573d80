"""The sidebar's choices, read by every page: the broker/account/wrapper filter and the display currency.

They live in the session (so they survive a change of page) and in the page's URL (``ui.url_state``), so a
view can be bookmarked.
"""

from __future__ import annotations

import streamlit as st

from portfolio_dashboard.storage.reads.scope import Scope

CURRENCIES = ("GBP", "USD", "EUR")
DEFAULT_CURRENCY = CURRENCIES[0]
BROKERS_KEY = "filter_brokers"
ACCOUNTS_KEY = "filter_accounts"
WRAPPERS_KEY = "filter_wrappers"
CURRENCY_KEY = "display_currency"
VIEW_NAME_KEY = "active_view_name"  # the saved view the filter came from, while it still matches


def scope() -> Scope:
    brokers = tuple(sorted(st.session_state.get(BROKERS_KEY) or ()))
    accounts = tuple(sorted(tuple(key.split("/", 1)) for key in st.session_state.get(ACCOUNTS_KEY) or ()))
    wrappers = tuple(sorted(st.session_state.get(WRAPPERS_KEY) or ()))
    return Scope(brokers, accounts, wrappers)


def currency() -> str:
    value = st.session_state.get(CURRENCY_KEY) or DEFAULT_CURRENCY
    return value if value in CURRENCIES else DEFAULT_CURRENCY


def filter_note() -> str | None:
    """A short reminder that a filter is on (every page shows it under its title)."""
    s = scope()
    if not s.brokers and not s.accounts and not s.wrappers:
        return None
    parts = []
    if s.wrappers:
        parts.append(" / ".join(s.wrappers) + " only")
    if s.brokers:
        parts.append(f"{len(s.brokers)} broker(s)")
    if s.accounts:
        parts.append(f"{len(s.accounts)} account(s)")
    view = st.session_state.get(VIEW_NAME_KEY)
    named = f"View “{view}”: " if view else "Filtered: "
    return named + ", ".join(parts) + " — change it in the sidebar."
