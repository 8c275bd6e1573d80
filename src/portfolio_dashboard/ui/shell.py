"""The frame around every page: page config, styling, the database check, the sidebar and the navigation."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from portfolio_dashboard.logs import setup_logging
from portfolio_dashboard.ui import data, sidebar

VIEWS = Path(__file__).parent / "views"
HEADLINE_FIRST = "overview"  # the page that draws the sidebar itself, after its headline
PAGES = [
    ("overview.py", "Overview", ":material/dashboard:", "overview"),
    ("positions.py", "Positions", ":material/table_rows:", "positions"),
    ("allocation.py", "Allocation", ":material/donut_large:", "allocation"),
    ("realised.py", "Realised gains", ":material/receipt_long:", "realised"),
    ("reconciliation.py", "Reconciliation", ":material/balance:", "reconciliation"),
    ("runs.py", "Runs", ":material/history:", "runs"),
    ("connections.py", "Connections", ":material/power:", "connections"),
    ("instruments.py", "Instruments", ":material/category:", "instruments"),
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
    pages = {path: st.Page(VIEWS / file, title=title, icon=icon, url_path=path, default=(path == "overview"))
             for file, title, icon, path in PAGES}
    nav = st.navigation(list(pages.values()), position="sidebar")
    problem = data.database_problem(_safe_db_key())
    if problem:
        st.title("Portfolio Dashboard")
        st.error(f"**The database is not available.** {problem}", icon=":material/database:")
        st.caption(f"Database: {_safe_db_where()}")
        return
    sidebar.prepare()
    if nav is not pages[HEADLINE_FIRST]:
        sidebar.draw()
    nav.run()
    sidebar.follow(sidebar.draw())


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
