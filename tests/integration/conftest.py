"""Storage-test fixtures: one migrated database per test module, one rolled-back transaction per test.

Cloning the template database costs ~0.1-1 s per test on a busy machine; tests that only need isolation
from each other (not a pristine server) share a module database and undo their work by rolling back.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine

from portfolio_dashboard.storage.embedded import sqlalchemy_url
from portfolio_dashboard.storage.engine import make_engine
from tests.conftest import _drop_database, _new_database


@pytest.fixture(scope="module")
def module_engine(pg_admin_uri: str) -> Iterator[Engine]:
    """An engine (portfolio.timezone Europe/London) on a migrated database shared by one test module."""
    name = _new_database(pg_admin_uri)
    engine = make_engine(sqlalchemy_url(pg_admin_uri, name), timezone="Europe/London")
    yield engine
    engine.dispose()
    _drop_database(pg_admin_uri, name)


@pytest.fixture
def conn(module_engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test, whatever it did."""
    with module_engine.connect() as connection:
        tx = connection.begin()
        try:
            yield connection
        finally:
            if tx.is_active:
                tx.rollback()
