"""Connections: each source's state (reachable, signed in), the Schwab sign-in, and the database in use."""

from __future__ import annotations

from typing import Literal

import streamlit as st

from portfolio_dashboard.errors import PortfolioError
from portfolio_dashboard.services.connections import SourceState, schwab_begin, schwab_finish, schwab_login_left
from portfolio_dashboard.ui import data, fmt, notices, source_actions
from portfolio_dashboard.ui.guard import guarded

BadgeColor = Literal["green", "orange", "gray"]
BADGES: dict[str, tuple[str, BadgeColor]] = {
    "ok": ("Connected", "green"), "attention": ("Needs attention", "orange"), "off": ("Not configured", "gray"),
}
SCHWAB_WARN_DAYS = 1.0
LOGIN_KEY = "schwab_login"  # the pending login request between the two steps
LOGIN_ERROR_KEY = "schwab_login_error"


def _recheck() -> None:
    data.connection_states.clear()
    source_actions.restart_login_watch()


def _health_lines(s: SourceState) -> None:
    h = s.health
    if h is None:
        if s.state == "off":
            st.caption(s.problem or "")
        else:
            st.markdown(s.problem or "no status")
        return
    reach = "reachable" if h.reachable else "**not reachable**"
    auth = "signed in" if h.authenticated else "**not signed in**"
    st.markdown(f"{reach} · {auth}  \n{h.detail}")
    if h.accounts:
        st.caption("Accounts: " + ", ".join(fmt.mask_account(a) for a in h.accounts))
    if h.login_url and not h.authenticated:
        st.link_button("Open the gateway login page", h.login_url, icon=":material/login:")


def _schwab_tokens(s: SourceState) -> None:
    if not s.configured:
        return
    try:
        left = schwab_login_left(data.settings())
    except PortfolioError as exc:
        st.caption(exc.user_message())
        return
    if left is None:
        return
    seconds, sentence = left
    if seconds is None or seconds < SCHWAB_WARN_DAYS * 86400:
        st.warning(sentence + " — or sign in below.", icon=":material/key:")
    else:
        st.caption(f":material/key: {sentence}")


def _start_schwab_login() -> None:
    try:
        st.session_state[LOGIN_KEY] = schwab_begin(data.settings())
    except PortfolioError as exc:
        st.session_state[LOGIN_KEY] = None
        st.session_state[LOGIN_ERROR_KEY] = exc.user_message()


def schwab_sign_in(s: SourceState) -> None:
    settings = data.settings()
    with st.expander("Sign in to Schwab", expanded=s.configured and s.state != "ok", icon=":material/login:"):
        if not s.configured:
            st.markdown("Set `SCHWAB_CLIENT_ID` and `SCHWAB_CLIENT_SECRET` (your app at developer.schwab.com), "
                        "then reload this page.")
            return
        st.button("Start Schwab sign-in", on_click=_start_schwab_login, key="schwab_start", icon=":material/key:")
        problem = st.session_state.pop(LOGIN_ERROR_KEY, None)
        if problem:
            st.info(problem, icon=":material/info:")
        login = st.session_state.get(LOGIN_KEY)
        if login is None:
            st.caption("Schwab asks you to sign in again every 7 days.")
            return
        st.markdown("**1.** Open Schwab's page, sign in, choose your accounts and allow access. Your browser is "
                    f"then sent to `{login.redirect_uri}` — that page may not load; this is expected.")
        st.link_button("Open Schwab sign-in", login.url, icon=":material/open_in_new:")
        st.markdown("**2.** Within about 30 seconds, copy the whole address from the address bar (it contains "
                    "`?code=`) and paste it here.")
        with st.form("schwab_oauth", clear_on_submit=True, border=False):
            pasted = st.text_input("Redirected address", placeholder=f"{login.redirect_uri}/?code=…",
                                   type="password")
            if st.form_submit_button("Connect Schwab", type="primary"):
                try:
                    message = schwab_finish(settings, login, pasted)
                except PortfolioError as exc:
                    st.error(exc.user_message(), icon=":material/error:")
                else:
                    st.session_state[LOGIN_KEY] = None
                    st.success(message, icon=":material/check_circle:")
                    _recheck()


def source_card(s: SourceState) -> None:
    with st.container(border=True, key=f"source-{s.name}"):
        label, color = BADGES[s.state]
        head, badge = st.columns([4, 1], vertical_alignment="center")
        head.markdown(f"**{s.label}**  \n`{s.name}`" + (" · used by Save Snapshot" if s.enabled else ""))
        badge.badge(label, color=color)
        _health_lines(s)
        source_actions.ib_login_watch(s)
        if s.name == "schwab":
            _schwab_tokens(s)
            schwab_sign_in(s)
        if s.configured:  # an unconfigured source has nothing to capture or disconnect
            actions = st.columns([1, 1, 2])
            with actions[0]:
                source_actions.capture_button(s)
            if s.name == "schwab":
                with actions[1]:
                    source_actions.schwab_disconnect(s)


def render() -> None:
    notices.page_header("Connections")
    with guarded("the connections"):
        top, button = st.columns([4, 1], vertical_alignment="bottom")
        top.caption("Each source's state right now (checked when this page opens, at most once a minute).")
        button.button("Re-check", icon=":material/refresh:", on_click=_recheck, key="recheck", width="stretch")
        states = data.connection_states(data.db_url_key())
        for s in states:
            source_card(s)
        with st.container(border=True, key="database"):
            st.markdown("**Database**")
            st.markdown(data.database_in_use())
            st.caption("The password is never shown. `portfolio-dashboard db url` prints the connection URL.")


render()
