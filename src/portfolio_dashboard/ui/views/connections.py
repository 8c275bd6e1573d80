"""Connections: each source's state (reachable, signed in), the Schwab sign-in, and the database in use."""

from __future__ import annotations

from typing import Literal

import streamlit as st

from portfolio_dashboard.connections import SourceState, schwab_authorize_url, schwab_complete
from portfolio_dashboard.errors import PortfolioError
from portfolio_dashboard.ui import data, fmt, notices
from portfolio_dashboard.ui.guard import guarded

BadgeColor = Literal["green", "orange", "gray"]
BADGES: dict[str, tuple[str, BadgeColor]] = {
    "ok": ("Connected", "green"), "attention": ("Needs attention", "orange"), "off": ("Not configured", "gray"),
}
SCHWAB_WARN_DAYS = 2.0


def _recheck() -> None:
    data.connection_states.clear()


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
    h = s.health
    if h is None or h.credential_expires_in_s is None:
        return
    days = h.credential_expires_in_s / 86400
    text = f"Refresh token: {days:.1f} day(s) left (Schwab asks you to sign in again every 7 days)."
    if days < SCHWAB_WARN_DAYS:
        st.warning(text + " Sign in again below.", icon=":material/key:")
    else:
        st.caption(f":material/key: {text}")


def schwab_sign_in(s: SourceState) -> None:
    settings = data.settings()
    with st.expander("Sign in to Schwab", expanded=s.configured and s.state != "ok", icon=":material/login:"):
        if not s.configured:
            st.markdown("Set `SCHWAB_CLIENT_ID` and `SCHWAB_CLIENT_SECRET` (from developer.schwab.com), then "
                        "reload this page.")
            return
        try:
            url = schwab_authorize_url(settings)
        except PortfolioError as exc:
            st.info(exc.user_message(), icon=":material/info:")
            return
        st.markdown("**1.** Open Schwab's page, sign in and approve access. Your browser is then sent to "
                    f"`{settings.schwab_redirect_uri}` (the page may not load — that is expected).")
        st.link_button("Open Schwab sign-in", url, icon=":material/open_in_new:")
        st.markdown("**2.** Copy the full address from the browser's address bar and paste it here.")
        with st.form("schwab_oauth", clear_on_submit=True, border=False):
            pasted = st.text_input("Redirected address", placeholder=f"{settings.schwab_redirect_uri}/?code=…",
                                   type="password")
            if st.form_submit_button("Connect Schwab", type="primary"):
                try:
                    message = schwab_complete(settings, pasted)
                except PortfolioError as exc:
                    st.error(exc.user_message(), icon=":material/error:")
                else:
                    st.success(message, icon=":material/check_circle:")
                    _recheck()


def source_card(s: SourceState) -> None:
    with st.container(border=True, key=f"source-{s.name}"):
        label, color = BADGES[s.state]
        head, badge = st.columns([4, 1], vertical_alignment="center")
        head.markdown(f"**{s.label}**  \n`{s.name}`" + (" · used by Save Snapshot" if s.enabled else ""))
        badge.badge(label, color=color)
        _health_lines(s)
        if s.name == "schwab":
            _schwab_tokens(s)
            schwab_sign_in(s)


def render() -> None:
    notices.page_header("Connections")
    with guarded("the connections"):
        top, button = st.columns([4, 1], vertical_alignment="bottom")
        top.caption("Each source's state right now (checked when this page opens, at most once a minute).")
        button.button("Re-check", icon=":material/refresh:", on_click=_recheck, key="recheck", width="stretch")
        states = data.connection_states(data.db_key())
        for s in states:
            source_card(s)
        with st.container(border=True, key="database"):
            st.markdown("**Database**")
            st.markdown(data.database_in_use())
            st.caption("The password is never shown. `portfolio-dashboard db url` prints the connection URL.")


render()
