"""The sidebar's choices, read by every page: the broker/account filter and the display currency."""

from __future__ import annotations

import streamlit as st

from portfolio_dashboard.storage.reads.scope import Scope

CURRENCIES = ("GBP", "USD", "EUR")
DEFAULT_CURRENCY = CURRENCIES[0]
BROKERS_KEY = "filter_brokers"
ACCOUNTS_KEY = "filter_accounts"
CURRENCY_KEY = "display_currency"


def scope() -> Scope:
    brokers = tuple(sorted(st.session_state.get(BROKERS_KEY) or ()))
    accounts = tuple(sorted(tuple(key.split("/", 1)) for key in st.session_state.get(ACCOUNTS_KEY) or ()))
    return Scope(brokers, accounts)


def currency() -> str:
    value = st.session_state.get(CURRENCY_KEY) or DEFAULT_CURRENCY
    return value if value in CURRENCIES else DEFAULT_CURRENCY


def filter_note() -> str | None:
    """A short reminder that a filter is on (every page shows it under its title)."""
    s = scope()
    if not s.brokers and not s.accounts:
        return None
    parts = []
    if s.brokers:
        parts.append(f"{len(s.brokers)} broker(s)")
    if s.accounts:
        parts.append(f"{len(s.accounts)} account(s)")
    return "Filtered: " + ", ".join(parts) + " — change it in the sidebar."
