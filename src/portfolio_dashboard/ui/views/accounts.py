"""Accounts: each broker account's tax wrapper (ISA, GIA, SIPP, ...) and the name shown for it.

The wrapper comes from the broker's account type where the broker states it; a wrapper set here is the
user's and no capture or reprocess changes it (the same call as `portfolio-dashboard accounts set`).
"""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from portfolio_dashboard.bootstrap import get_app
from portfolio_dashboard.domain.accounts import WRAPPER_LABELS, WRAPPERS
from portfolio_dashboard.errors import PortfolioError
from portfolio_dashboard.services.user_settings import update_account
from portfolio_dashboard.storage.reads.accounts import AccountSetting
from portfolio_dashboard.ui import data, fmt, notices, settings_data, tables
from portfolio_dashboard.ui.guard import guarded

NO_WRAPPER = "(none)"
SAVED_KEY = "account_saved"
SOURCES = {"broker": "from the broker", "user": "set by you", None: ""}


def _slug(key: str) -> str:
    """A widget key usable as a CSS class (Streamlit adds ``st-key-<key>``): "demo:X-1" -> "demo_X-1"."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", key)


def accounts_table(rows: list[AccountSetting]) -> None:
    tz = data.settings().timezone
    frame = pd.DataFrame({
        "Broker": [fmt.BROKER_SHORT.get(a.broker, a.broker) for a in rows],
        "Account": [fmt.mask_account(a.broker_account_id) for a in rows],
        "Name": [a.label for a in rows],
        "Wrapper": [WRAPPER_LABELS.get(a.wrapper or "", "") for a in rows],
        "Set by": [SOURCES.get(a.wrapper_source, "") for a in rows],
        "Broker's type": [a.account_type or "" for a in rows],
        "Ccy": [a.base_currency or "" for a in rows],
        "Last snapshot": [fmt.when(a.last_asof, tz) if a.last_asof else "" for a in rows],
    })
    st.dataframe(frame, hide_index=True, key="accounts_table", height=tables.height(len(frame), 420))


def _save(key: str, wrapper: str, name: str, before: AccountSetting) -> None:
    clear = wrapper == NO_WRAPPER and before.wrapper is not None
    # choosing the broker's wrapper again makes it the user's: a later broker label will not change it
    new_wrapper = wrapper if wrapper != NO_WRAPPER and (wrapper != before.wrapper
                                                        or before.wrapper_source != "user") else None
    new_name = name if name.strip() != (before.display_name or "") else None
    if not clear and new_wrapper is None and new_name is None:
        st.info("Nothing changed.", icon=":material/info:")
        return
    try:
        after = update_account(get_app().engine, key, wrapper=new_wrapper, clear_wrapper=clear, name=new_name)
    except PortfolioError as exc:
        st.error(exc.user_message(), icon=":material/error:")
        return
    data.clear()
    st.session_state[SAVED_KEY] = (f"Saved: {after.label} is "
                                   f"{WRAPPER_LABELS.get(after.wrapper or '', 'without a wrapper')}. "
                                   "Captures keep this.")
    st.rerun()  # the table above the form then shows the change


def settings_form(rows: list[AccountSetting]) -> None:
    st.subheader("Set an account's wrapper and name")
    by_key = {a.key: a for a in rows}
    chosen = st.selectbox("Account", list(by_key), key="account_pick",
                          format_func=lambda k: f"{fmt.BROKER_SHORT.get(by_key[k].broker, by_key[k].broker)} · "
                                                f"{fmt.mask_account(by_key[k].broker_account_id)} · {by_key[k].label}")
    if chosen is None:
        return
    current = by_key[chosen]
    options = [NO_WRAPPER, *WRAPPERS]
    saved = st.session_state.pop(SAVED_KEY, None)
    if saved:
        st.success(saved, icon=":material/check_circle:")
    with st.form("account_settings", border=True):
        wrapper = st.selectbox("Wrapper", options, index=options.index(current.wrapper or NO_WRAPPER),
                               format_func=lambda w: WRAPPER_LABELS.get(w, w), key=f"wrapper_{_slug(chosen)}",
                               help="ISA, LISA and SIPP are sheltered from UK capital gains tax; GIA and US "
                                    "taxable accounts are not.")
        name = st.text_input("Name shown", value=current.display_name or "", placeholder=current.name or "",
                             key=f"name_{_slug(chosen)}", help="Empty: the broker's name.")
        if st.form_submit_button("Save", type="primary"):
            _save(chosen, wrapper, name, current)


def render() -> None:
    notices.page_header("Accounts")
    with guarded("the accounts"):
        rows = settings_data.accounts(data.db_key())
        if not rows:
            notices.empty_state()
            return
        st.caption("The wrapper decides how an account is read: ISA only views, and which gains are taxable. "
                   "It is taken from the broker's account type where the broker states it; what you set here "
                   "is kept by every later capture.")
        accounts_table(rows)
        settings_form(rows)


render()
