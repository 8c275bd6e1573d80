"""Shared fixtures: ONE real embedded PostgreSQL per test session, a fresh database per test.

The schema is migrated once into a template database; each test gets ``CREATE DATABASE ... TEMPLATE`` (tens
of milliseconds), so tests are isolated without paying for migrations every time. Never SQLite, never mocks.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine

from portfolio_dashboard.bootstrap import App, get_app
from portfolio_dashboard.config import Settings, load_settings
from portfolio_dashboard.storage import migrate
from portfolio_dashboard.storage.embedded import sqlalchemy_url, start_embedded, stop_embedded
from portfolio_dashboard.storage.engine import make_engine

TEMPLATE = "pd_template"

# The processes the tests start (each CLI command, `serve`, Streamlit, the campaigns' captures) cache their
# bytecode as an installed program does. With PYTHONDONTWRITEBYTECODE=1 in the shell (this machine's and CI's)
# every one of them recompiled Streamlit, pandas, SQLAlchemy and Plotly from source: the suite took 456 s
# instead of ~335 s on a fresh clone (docs/benchmarks.md). Set here, before xdist starts its workers, so every
# process of the run inherits it; the files go to __pycache__ folders, which git ignores.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# Settings the developer's own shell or .env might carry: tests must not see them.
_ENV_PREFIXES = ("DATABASE_URL", "PORTFOLIO_", "BROKERS", "IB_", "SCHWAB_", "ECB_", "ALERT_", "BASE_CURRENCY",
                 "DASHBOARD_", "LOG_FORMAT", "FX_", "CAPTURE_", "RECONCILE_")


def pytest_cmdline_main(config: pytest.Config) -> None:
    """``-s`` asks to watch the tests' output (the chaos campaigns print their counts); xdist's workers cannot
    show it, so such a run stays in this one process. Runs after xdist's own hook (tryfirst) has read ``-n``."""
    if config.getoption("capture") == "no" and config.pluginmanager.hasplugin("xdist"):
        config.option.numprocesses = 0
        config.option.dist = "no"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.upper().startswith(_ENV_PREFIXES):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    monkeypatch.setenv("PORTFOLIO_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture(scope="session")
def pg_admin_uri() -> Iterator[str]:
    """libpq URI of the session's embedded server (database ``postgres``).

    Not under pytest's tmp_path: pytest resets its base temp folder to mode 0700 whenever another pytest
    session starts, which locks out the server's own system user when tests run as root.
    """
    parent = Path(tempfile.mkdtemp(prefix="pd-test-pg-"))
    pgdata = parent / "pgdata"
    url = start_embedded(pgdata, database=TEMPLATE, cleanup_mode="delete")
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url.replace("postgresql+psycopg://", "postgresql://").replace(f"/{TEMPLATE}?", "/postgres?")
    stop_embedded(pgdata)
    shutil.rmtree(parent, ignore_errors=True)


def clone_database(admin_uri: str, name: str, *, template: str) -> str:
    """``CREATE DATABASE name TEMPLATE template`` (a file copy: tens of milliseconds); returns ``name``."""
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            psycopg.sql.Identifier(name), psycopg.sql.Identifier(template)))
    return name


def drop_database(admin_uri: str, name: str) -> None:
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psycopg.sql.Identifier(name)))


def _new_database(admin_uri: str) -> str:
    return clone_database(admin_uri, f"t_{uuid.uuid4().hex[:12]}", template=TEMPLATE)


def _drop_database(admin_uri: str, name: str) -> None:
    drop_database(admin_uri, name)


@pytest.fixture
def db_url(pg_admin_uri: str) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, migrated database for this test only."""
    name = _new_database(pg_admin_uri)
    yield sqlalchemy_url(pg_admin_uri, name)
    _drop_database(pg_admin_uri, name)


@pytest.fixture
def empty_db_url(pg_admin_uri: str) -> Iterator[str]:
    """A fresh database with no schema at all (for migration tests)."""
    name = f"e_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_uri, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield sqlalchemy_url(pg_admin_uri, name)
    _drop_database(pg_admin_uri, name)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return load_settings(database_url=db_url, portfolio_data_dir=tmp_path / "data", _env_file=None)


@pytest.fixture
def app(settings: Settings) -> Iterator[App]:
    application = get_app(settings)
    yield application
    application.dispose()


@pytest.fixture
def engine(app: App) -> Engine:
    return app.engine


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    """Environment for running the real `portfolio-dashboard` CLI in a subprocess against this test's DB."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(_ENV_PREFIXES)}
    env["DATABASE_URL"] = db_url
    env["PORTFOLIO_DATA_DIR"] = str(tmp_path / "data")
    return env
