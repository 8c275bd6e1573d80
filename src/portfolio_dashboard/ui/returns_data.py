"""The Returns page's reads, cached: the filter's series are prepared once per data version and reused for
every period, chart and heat-map (see services.returns)."""

from __future__ import annotations

from datetime import date, datetime

import streamlit as st

from portfolio_dashboard.bootstrap import get_app
from portfolio_dashboard.services import benchmarks as bench_service
from portfolio_dashboard.services import returns as service
from portfolio_dashboard.storage.reads import returns as read_returns
from portfolio_dashboard.storage.reads.scope import Scope
from portfolio_dashboard.ui import asof, data

TTL_S = 600


def returns_filter(scope: Scope, wrappers: tuple[str, ...] = ()) -> service.ReturnsFilter:
    return service.ReturnsFilter(accounts=scope.accounts, brokers=scope.brokers, wrappers=wrappers)


@st.cache_resource(ttl=TTL_S, max_entries=16, show_spinner=False)
def prepared(db: str, flt: service.ReturnsFilter, today: date, until: datetime | None = None,
             period: str | None = None) -> service.PreparedReturns:
    """Shared, not copied: the prepared series are only read after this (``db`` carries the data version).
    ``until``: the time machine's moment (what was stored by then; periods end on its day). ``period``: only
    what that one named period needs (the Overview's headline: a short period of a long history reads only its
    own days); the whole history without one (the Returns page: every period, the chart and the heat-map)."""
    with get_app().engine.connect() as conn:
        if period is None:
            return service.prepare(conn, flt, today=today, until=until)
        return service.prepare_period(conn, flt, period=period, today=today, until=until)


def today() -> date:
    with get_app().engine.connect() as conn:
        return service.local_today(conn)


def prepared_asof(db: str, flt: service.ReturnsFilter, period: str | None = None) -> service.PreparedReturns:
    """The filter's returns at the time machine's moment (the latest view without one), for ``period`` only
    when one is named."""
    at = asof.current()
    if at is None:
        return prepared(db, flt, today(), period=period)
    return prepared(db, flt, at.astimezone(data.settings().timezone).date(), at, period)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def wrappers(db: str) -> list[str]:
    with get_app().engine.connect() as conn:
        return read_returns.wrappers(conn)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def benchmark_names(db: str) -> list[str]:
    with get_app().engine.connect() as conn:
        return bench_service.benchmark_names(conn)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def benchmark(db: str, name: str, start: date, end: date, ours: object) -> bench_service.BenchmarkComparison:
    from decimal import Decimal

    with get_app().engine.connect() as conn:
        return bench_service.compare_benchmark(conn, name, start, end, ours if isinstance(ours, Decimal) else None)
