"""Per-source actions on the Connections page: capture one source, disconnect Schwab, follow the IB login.

"Capture now" runs the same ``capture()`` as `portfolio-dashboard capture --source NAME`, as the process-wide
background job (one at a time, like Save snapshot); the sidebar shows its progress and outcome.
"""

from __future__ import annotations

import time

import streamlit as st

from portfolio_dashboard.bootstrap import get_app
from portfolio_dashboard.domain import TriggerContext, TriggerType
from portfolio_dashboard.errors import PortfolioError
from portfolio_dashboard.services.connections import SourceState, schwab_logout, source_state
from portfolio_dashboard.ui import data, jobs
from portfolio_dashboard.ui.jobs import Progress

LOGIN_POLL_S = 3.0  # how often the page asks the gateway whether the user has signed in
LOGIN_POLL_LIMIT_S = 300.0  # then it stops asking; "Re-check" (or reopening the page) starts again
POLL_START_KEY = "ib_login_poll_started"
DISCONNECTED_KEY = "schwab_disconnected"


def _start_capture(name: str) -> None:
    app = get_app()
    trigger = TriggerContext(trigger_type=TriggerType.MANUAL, triggered_by="dashboard", sources=(name,))

    def run(progress: Progress) -> object:
        from portfolio_dashboard.services.capture import capture

        return capture(trigger, app=app, progress=progress)

    if not jobs.JOB.start("capture", f"Capturing {name}", run, [name]):
        st.session_state["job_refused"] = True


def capture_button(s: SourceState) -> None:
    """"Capture now" for one source; shown when the source is configured (demo always is)."""
    if not s.configured:
        return
    st.button(f"Capture {s.name} now", key=f"capture-{s.name}", icon=":material/photo_camera:",
              disabled=jobs.JOB.view().running, on_click=_start_capture, args=(s.name,),
              help=f"Save a snapshot of this source only (`portfolio-dashboard capture --source {s.name}`). "
                   "Progress and the outcome show in the sidebar.")


def _disconnect() -> None:
    try:
        st.session_state[DISCONNECTED_KEY] = schwab_logout(data.settings())
    except PortfolioError as exc:
        st.session_state[DISCONNECTED_KEY] = exc.user_message()
    data.connection_states.clear()


def schwab_disconnect(s: SourceState) -> None:
    if not s.configured:
        return
    st.button("Disconnect Schwab", key="schwab_logout", icon=":material/link_off:", on_click=_disconnect,
              help="Delete the saved Schwab login on this machine (`portfolio-dashboard auth schwab --logout`). "
                   "Captures of Schwab then fail until you sign in again.")
    said = st.session_state.pop(DISCONNECTED_KEY, None)
    if said:
        st.info(said, icon=":material/link_off:")


def _ib_login_status() -> None:
    started = st.session_state.setdefault(POLL_START_KEY, time.monotonic())
    s = source_state("ib_gateway", data.settings())
    h = s.health
    if h is not None and h.reachable and h.authenticated:
        st.session_state.pop(POLL_START_KEY, None)
        data.connection_states.clear()
        st.rerun(scope="app")  # the whole page then shows the gateway as connected
    left = LOGIN_POLL_LIMIT_S - (time.monotonic() - started)
    state = "not reachable" if h is None or not h.reachable else "waiting for you to sign in"
    if left > 0:
        st.caption(f":material/sync: Gateway: {state} — checking every {LOGIN_POLL_S:g} s "
                   f"({int(left // 60)}:{int(left % 60):02d} left).")
    else:
        st.caption(f":material/pause_circle: Gateway: {state}. Stopped checking after "
                   f"{LOGIN_POLL_LIMIT_S / 60:g} minutes; press Re-check after signing in.")


def ib_login_watch(s: SourceState) -> None:
    """While the gateway is configured but not signed in: its status, re-checked every few seconds."""
    if s.name != "ib_gateway" or not s.configured or s.state == "ok":
        return
    started = st.session_state.get(POLL_START_KEY)
    polling = started is None or time.monotonic() - started < LOGIN_POLL_LIMIT_S
    st.fragment(_ib_login_status, run_every=LOGIN_POLL_S if polling else None)()


def restart_login_watch() -> None:
    st.session_state.pop(POLL_START_KEY, None)
