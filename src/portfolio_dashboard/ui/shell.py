"""The frame around every page: page config, styling, the database check, the sidebar and the navigation."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from portfolio_dashboard.logs import setup_logging
from portfolio_dashboard.ui import data, sidebar, url_state

VIEWS = Path(__file__).parent / "views"
HEADLINE_FIRST = "overview"  # the page that draws the sidebar itself, after its headline
URL_PROBLEM_KEY = "_url_problem"  # a query parameter the page could not read, shown once
PAGES = [
    ("overview.py", "Overview", ":material/dashboard:", "overview"),
    ("returns.py", "Returns", ":material/trending_up:", "returns"),
    ("positions.py", "Positions", ":material/table_rows:", "positions"),
    ("allocation.py", "Allocation", ":material/donut_large:", "allocation"),
    ("income.py", "Income", ":material/payments:", "income"),
    ("capital_gains.py", "Capital gains", ":material/receipt_long:", "capital-gains"),
    ("realised.py", "Realised gains", ":material/sell:", "realised"),
    ("reconciliation.py", "Reconciliation", ":material/balance:", "reconciliation"),
    ("runs.py", "Runs", ":material/history:", "runs"),
    ("connections.py", "Connections", ":material/power:", "connections"),
    ("instruments.py", "Instruments", ":material/category:", "instruments"),
    ("accounts.py", "Accounts", ":material/account_balance:", "accounts"),
    ("explorer.py", "Data explorer", ":material/table_view:", "explorer"),
    ("help.py", "Help", ":material/help:", "help"),
]

CSS = """
<style>
  /* tabular figures so amounts line up; a little more air in metric cards */
  [data-testid="stMetricValue"], [data-testid="stDataFrame"], .tabular { font-variant-numeric: tabular-nums; }
  [data-testid="stMetricValue"] { font-size: 1.9rem; font-weight: 600; }
  [data-testid="stMetricLabel"] p { font-size: 0.9rem; color: #5a6270; }
  div[data-testid="stMetric"] { padding: 0.35rem 0.25rem; }
  .block-container { padding-top: 2.2rem; padding-bottom: 2rem; max-width: 1400px; }
  h1 { font-size: 1.85rem !important; font-weight: 650 !important; }
  h3 { font-size: 1.15rem !important; font-weight: 600 !important; }
  /* at laptop widths Streamlit's 5rem side padding costs a table column */
  @media (min-width: 641px) and (max-width: 1440px) {
    .block-container { padding-left: 2.5rem; padding-right: 2.5rem; }
  }
  @media (max-width: 640px) {
    .block-container { padding-left: 0.9rem; padding-right: 0.9rem; padding-top: 1.2rem; }
    [data-testid="stMetricValue"] { font-size: 1.5rem; }
    h1 { font-size: 1.5rem !important; }
  }
</style>
"""

_logging = {"done": False}


def logging_once() -> None:
    if not _logging["done"]:
        setup_logging(data.settings().log_format)
        _logging["done"] = True


def main() -> None:
    logging_once()
    st.markdown(CSS, unsafe_allow_html=True)
    pages = {path: st.Page(VIEWS / file, title=title, icon=icon, url_path=path) for file, title, icon, path in PAGES}
    # Streamlit serves the default page at "/" only; a hidden default that forwards to /overview (with the
    # query) lets every page, the Overview included, have an address that works when typed.
    home = st.Page(_home, title="Portfolio Dashboard", url_path="home", default=True, visibility="hidden")
    # every page listed (collapsed, Streamlit shows the first ten and hides the rest behind "View more")
    nav = st.navigation([home, *pages.values()], position="sidebar", expanded=True)
    problem = data.database_problem(_safe_db_key())
    if problem:
        st.title("Portfolio Dashboard")
        st.error(f"**The database is not available.** {problem}", icon=":material/database:")
        st.caption(f"Database: {_safe_db_where()}")
        return
    url_problem = url_state.adopt(_saved_views)
    if nav is home:
        if url_problem:
            st.session_state[URL_PROBLEM_KEY] = url_problem  # shown once the Overview runs
        st.switch_page(pages[HEADLINE_FIRST],
                       query_params={**url_state.others(), **url_state.flat(url_state.current())})
    sidebar.prepare()
    url_state.publish(_saved_views)
    url_problem = url_problem or st.session_state.pop(URL_PROBLEM_KEY, None)
    if url_problem:
        st.toast(url_problem, icon=":material/bookmark:")
    if nav is not pages[HEADLINE_FIRST]:
        sidebar.draw()
    nav.run()
    sidebar.follow(sidebar.draw())


def _home() -> None:
    """Never drawn: ``main`` forwards "/" to the Overview before any page runs."""


def _saved_views() -> dict[str, str]:
    return data.saved_views(data.db_key())


def _safe_db_key() -> str:
    """The cache key for the database; computing it must not fail even when the server is down."""
    try:
        return data.db_url_key()
    except Exception as exc:  # e.g. the embedded server cannot start: the check below reports it
        return f"unavailable:{type(exc).__name__}"


def _safe_db_where() -> str:
    try:
        return data.database_in_use()
    except Exception:
        return "unknown (see the server log)"
