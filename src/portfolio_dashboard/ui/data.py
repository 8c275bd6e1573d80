"""The dashboard's only door to the database: the read queries, cached.

Every function is ``st.cache_data`` with a TTL so a page render after the first is served from memory (the
chart's ``series`` is ``st.cache_resource``: shared, not copied, see there); the caches are cleared whenever the
dashboard itself changes the data (a capture, demo history, a mapping override). Every cache key holds the
database URL (without password) and its data version (the newest run), so two databases never share entries
and a capture by the CLI or the scheduler shows within seconds. Values stay Decimal here; pages convert to
float only to hand numbers to tables and charts.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import streamlit as st
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from portfolio_dashboard.bootstrap import get_app
from portfolio_dashboard.config import Settings
from portfolio_dashboard.errors import DatabaseError
from portfolio_dashboard.services.connections import SourceState, database_description, source_states
from portfolio_dashboard.services.database import check_connection
from portfolio_dashboard.storage.reads import audit as read_audit
from portfolio_dashboard.storage.reads import holdings as read_holdings
from portfolio_dashboard.storage.reads import mappings as read_mappings
from portfolio_dashboard.storage.reads import portfolio as read_portfolio
from portfolio_dashboard.storage.reads import reconcile as read_reconcile
from portfolio_dashboard.storage.reads import reconciliation as read_reconciliation
from portfolio_dashboard.storage.reads import statement as read_statement
from portfolio_dashboard.storage.reads import status as status_reads
from portfolio_dashboard.storage.reads import trace as read_trace
from portfolio_dashboard.storage.reads import views as read_views
from portfolio_dashboard.storage.reads.scope import Scope

TTL_S = 600


def settings() -> Settings:
    return get_app().settings


def db_url_key() -> str:
    """The database, for cache keys (never the password)."""
    return get_app().engine.url.render_as_string(hide_password=True)


@st.cache_data(ttl=5, show_spinner=False)
def data_version(db: str) -> str:
    """Changes whenever a run starts or ends (the dashboard's, the CLI's, the scheduler's, a reprocess)."""
    with _conn() as conn:
        return status_reads.data_version(conn)


def db_key() -> str:
    """The cache key every read takes: the database and its data version, so a capture made anywhere shows
    within seconds while unchanged data is served from memory."""
    url = db_url_key()
    return f"{url}#{data_version(url)}"


def _conn() -> Connection:
    return get_app().engine.connect()


def clear() -> None:
    """Forget every cached read (after the dashboard changed the data), the shared ones too: the chart's points
    and the Returns page's prepared series (``returns_data.prepared``), whose wrapper filter an account's new
    wrapper changes without a new run."""
    st.cache_data.clear()
    st.cache_resource.clear()


@st.cache_data(ttl=5, show_spinner=False)
def database_problem(db: str) -> str | None:
    """None when the database answers and has the schema; otherwise what to tell the user."""
    app = get_app()
    try:
        check_connection(app.engine)
        with _conn() as conn:
            if not status_reads.has_schema(conn):
                return "The database has no schema yet. Run `portfolio-dashboard migrate`, then reload this page."
    except DatabaseError as exc:
        return exc.user_message()
    except SQLAlchemyError as exc:
        return f"The database did not answer ({type(exc).__name__}). Check that PostgreSQL is running."
    return None


@st.cache_data(ttl=TTL_S, show_spinner=False)
def accounts(db: str) -> list[read_portfolio.AccountInfo]:
    with _conn() as conn:
        return read_portfolio.accounts(conn)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def has_snapshots(db: str) -> bool:
    with _conn() as conn:
        return read_portfolio.has_snapshots(conn)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def summary(db: str, scope: Scope, currency: str, asof: datetime | None = None) -> read_portfolio.Summary:
    with _conn() as conn:
        return read_portfolio.portfolio_summary(conn, scope, currency, settings().base_currency, asof)


@st.cache_resource(ttl=TTL_S, max_entries=16, show_spinner=False)
def series(db: str, scope: Scope, currency: str, by_account: bool,
           asof_day: date | None = None) -> tuple[read_portfolio.SeriesPoint, ...]:
    """Shared, not copied (as ``returns_data.prepared``): the points are frozen and only read. Copying ten years
    of them out of ``st.cache_data`` (unpickling ~3,650 objects) cost 25-30 ms of every Overview visit, ahead of
    the chart. Held as objects, an entry is larger than its pickle (ten years: 1.2 MB for the total, 4.9 MB by
    account, against 0.25 and 0.9 MB), hence the bound on entries. ``clear`` forgets these too."""
    with _conn() as conn:
        return tuple(read_portfolio.portfolio_series(conn, scope, currency, by_account=by_account,
                                                     base=settings().base_currency, asof_day=asof_day))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def positions(db: str, scope: Scope, currency: str,
              asof: datetime | None = None) -> list[read_portfolio.PositionLine]:
    with _conn() as conn:
        return read_portfolio.latest_positions(conn, scope, currency, settings().base_currency, asof)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def history(db: str, scope: Scope, global_instrument_id: uuid.UUID) -> list[read_portfolio.HistoryPoint]:
    with _conn() as conn:
        return read_portfolio.instrument_history(conn, scope, global_instrument_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def allocation(db: str, scope: Scope, dimension: read_portfolio.Dimension,
               currency: str, asof: datetime | None = None) -> list[read_portfolio.AllocationSlice]:
    with _conn() as conn:
        return read_portfolio.allocation(conn, scope, dimension, currency, settings().base_currency, asof)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def runs(db: str, scope: Scope, limit: int) -> list[read_audit.RunLine]:
    with _conn() as conn:
        return read_audit.runs(conn, scope, limit)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def run_payloads(db: str, run_id: uuid.UUID) -> list[read_audit.PayloadMeta]:
    with _conn() as conn:
        return read_audit.run_payloads(conn, run_id)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=20)
def raw_payload(db: str, payload_id: uuid.UUID) -> read_audit.Payload | None:
    with _conn() as conn:
        return read_audit.raw_payload(conn, payload_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def residuals(db: str) -> dict[tuple[str, str], read_reconciliation.Residual]:
    with _conn() as conn:
        return read_reconciliation.latest_residuals(conn)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def run_snapshots(db: str, run_id: uuid.UUID, scope: Scope) -> tuple[list[read_audit.RunSnapshot], int]:
    with _conn() as conn:
        return read_audit.run_snapshots(conn, run_id, scope)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def mappings(db: str, scope: Scope) -> list[read_mappings.MappingRow]:
    with _conn() as conn:
        return read_mappings.list_mappings(conn, scope=scope, by_symbol=True)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def global_instruments(db: str, scope: Scope) -> list[read_mappings.GlobalInstrumentLine]:
    with _conn() as conn:
        return read_mappings.global_instruments(conn, scope)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def account_tags(db: str) -> list[read_views.AccountTag]:
    with _conn() as conn:
        return read_views.account_tags(conn)


@st.cache_data(ttl=30, show_spinner=False)
def saved_views(db: str) -> dict[str, str]:
    """Saved view name -> its URL query. Not keyed by the data version (a save is not a run): cleared on save."""
    with _conn() as conn:
        return {v.name: v.query for v in read_views.saved_views(conn)}


def clear_views() -> None:
    saved_views.clear()


@st.cache_data(ttl=TTL_S, show_spinner=False)
def holdings(db: str, scope: Scope, currency: str, asof: datetime | None = None) -> list[read_holdings.Holding]:
    with _conn() as conn:
        return read_holdings.holdings(conn, scope, currency, settings().base_currency, asof)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def holding_stats(db: str, scope: Scope, currency: str, asof: datetime | None = None) -> read_holdings.HoldingStats:
    """The Overview's position headlines: four numbers, where copying every holding out of the cache cost each
    visit ~20 ms."""
    return read_holdings.stats(holdings(db, scope, currency, asof))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def account_lines(db: str, scope: Scope, asof: datetime | None = None) -> list[read_holdings.AccountLine]:
    with _conn() as conn:
        return read_holdings.account_lines(conn, scope, settings().base_currency, asof)


@st.cache_data(ttl=60, show_spinner="Checking connections…")
def connection_states(db: str) -> list[SourceState]:
    return source_states(settings())


def database_in_use() -> str:
    app = get_app()
    return database_description(app.engine.url.render_as_string(hide_password=True),
                                embedded=app.settings.uses_embedded_db)


def as_float(value: Any) -> float | None:
    """For tables and charts only (numbers are stored and computed as Decimal)."""
    return None if value is None else float(value)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=50)
def snapshot_trace(db: str, snapshot_id: uuid.UUID) -> read_trace.SnapshotTrace | None:
    with _conn() as conn:
        return read_trace.snapshot_trace(conn, snapshot_id)


@st.cache_data(ttl=TTL_S, show_spinner=False, max_entries=50)
def payload_run(db: str, payload_id: uuid.UUID) -> uuid.UUID | None:
    with _conn() as conn:
        return read_trace.payload_run(conn, payload_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def realised(db: str) -> list[read_statement.RealisedTrade]:
    with _conn() as conn:
        return read_statement.realised_trades(conn)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def reconciliation(db: str, scope: Scope, since: datetime, until: datetime) -> list[read_reconcile.ReconRow]:
    with _conn() as conn:
        return read_reconcile.reconciliation(conn, scope, since, until)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def nav_bridges(db: str, scope: Scope) -> list[read_reconcile.NavBridge]:
    with _conn() as conn:
        return read_reconcile.nav_bridges(conn, scope)
