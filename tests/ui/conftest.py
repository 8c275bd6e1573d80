"""Fixtures for the dashboard tests: a database with demo history and the page runner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import portfolio_dashboard.ui as ui_package
from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.domain import TriggerContext
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.services.demo_history import seed
from portfolio_dashboard.ui import jobs

APP_FILE = str(Path(ui_package.__file__).parent / "app.py")  # not imported: it is a page script


@pytest.fixture(autouse=True)
def _fresh_ui_state() -> Iterator[None]:
    """Caches and the background job are process-wide: every test starts from nothing."""
    import streamlit as st

    st.cache_data.clear()
    jobs.JOB = jobs.Job()
    yield
    jobs.JOB.wait(30)
    st.cache_data.clear()


@pytest.fixture
def seeded(app: App) -> App:
    """40 days of demo history plus one live capture."""
    seed(app, 40)
    capture(TriggerContext(sources=("demo",)), app=app)
    return app


def run_page(page: str | None = None, timeout: float = 60) -> AppTest:
    at = AppTest.from_file(APP_FILE, default_timeout=timeout)
    at.run()
    if page:
        at.switch_page(f"views/{page}.py")
        at.run()
    return at
