"""Fixtures for the dashboard tests: a database with demo history and the page runner."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import portfolio_dashboard.ui as ui_package
from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.config import load_settings
from portfolio_dashboard.domain import TriggerContext
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.services.demo_history import seed
from portfolio_dashboard.storage.embedded import sqlalchemy_url
from portfolio_dashboard.ui import jobs
from tests.conftest import TEMPLATE, clone_database, drop_database

APP_FILE = str(Path(ui_package.__file__).parent / "app.py")  # not imported: it is a page script


@pytest.fixture(autouse=True)
def _fresh_ui_state() -> Iterator[None]:
    """Caches and the background job are process-wide: every test starts from nothing."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    jobs.JOB = jobs.Job()
    yield
    jobs.JOB.wait(30)
    st.cache_data.clear()
    st.cache_resource.clear()


SEEDED_TEMPLATE = "pd_seeded"


@pytest.fixture(scope="session")
def seeded_template(pg_admin_uri: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database holding 40 days of demo history plus one live capture, made once per session (per worker).

    Seeding costs one to three seconds; ~60 page tests need the same history, so each clones this database
    (``db_url`` below) instead of seeding its own.
    """
    clone_database(pg_admin_uri, SEEDED_TEMPLATE, template=TEMPLATE)
    settings = load_settings(
        database_url=sqlalchemy_url(pg_admin_uri, SEEDED_TEMPLATE),
        portfolio_data_dir=tmp_path_factory.mktemp("seeded") / "data",
        _env_file=None,
    )
    application = App(settings)
    try:
        seed(application, 40)
        capture(TriggerContext(sources=("demo",)), app=application)
    finally:
        application.dispose()  # a template must have no open connection when it is cloned
    return SEEDED_TEMPLATE


@pytest.fixture
def db_url(request: pytest.FixtureRequest, pg_admin_uri: str) -> Iterator[str]:
    """A fresh database for this test: a clone of the seeded history when the test asks for ``seeded``."""
    template = request.getfixturevalue("seeded_template") if "seeded" in request.fixturenames else TEMPLATE
    name = clone_database(pg_admin_uri, f"t_{uuid.uuid4().hex[:12]}", template=template)
    yield sqlalchemy_url(pg_admin_uri, name)
    drop_database(pg_admin_uri, name)


@pytest.fixture
def seeded(app: App) -> App:
    """40 days of demo history plus one live capture (cloned from ``seeded_template`` by ``db_url``)."""
    return app


def run_page(page: str | None = None, timeout: float = 60) -> AppTest:
    at = AppTest.from_file(APP_FILE, default_timeout=timeout)
    at.run()
    if page:
        at.switch_page(f"views/{page}.py")
        at.run()
    return at
