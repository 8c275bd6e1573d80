"""Cached reads for money in and out (the Income page, the Overview's bridge, the Runs page's flows).

Kept beside ``data.py`` with the same rules: every function takes the ``db`` key (database + data version), so
a capture anywhere shows within seconds; values stay Decimal until a table or chart needs floats.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import streamlit as st
from sqlalchemy import Connection

from portfolio_dashboard.bootstrap import get_app
from portfolio_dashboard.storage.reads import flows as read_flows
from portfolio_dashboard.storage.reads.scope import Scope
from portfolio_dashboard.ui.data import TTL_S


def _conn() -> Connection:
    return get_app().engine.connect()


@st.cache_data(ttl=TTL_S, show_spinner=False)
def flows(db: str, scope: Scope, run_id: uuid.UUID | None = None) -> list[read_flows.FlowLine]:
    with _conn() as conn:
        return read_flows.flows(conn, scope, run_id=run_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def income_lines(db: str, scope: Scope, start: date | None = None,
                 end: date | None = None) -> list[read_flows.FlowLine]:
    with _conn() as conn:
        return read_flows.income_lines(conn, scope, start=start, end=end)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def accruals(db: str, scope: Scope, asof: datetime | None = None) -> list[read_flows.AccrualLine]:
    with _conn() as conn:
        return read_flows.open_accruals(conn, scope, asof)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def bridge(db: str, scope: Scope, start: datetime | None) -> read_flows.Bridge:
    with _conn() as conn:
        return read_flows.bridge(conn, scope, start)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def money_in(db: str, scope: Scope, after: datetime | None, until: datetime) -> read_flows.MoneyIn:
    with _conn() as conn:
        return read_flows.money_in(conn, scope, after, until)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def daily_flows(db: str, scope: Scope) -> list[read_flows.DailyFlow]:
    with _conn() as conn:
        return read_flows.daily_flows(conn, scope)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def flows_unknown(db: str, scope: Scope) -> list[tuple[str, str]]:
    with _conn() as conn:
        return read_flows.flows_unknown(conn, scope)
