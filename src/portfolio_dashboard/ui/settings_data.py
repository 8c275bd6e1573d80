"""Cached reads for the pages added with issue 19: account settings, asset classes, the data explorer.

Kept beside ``data.py`` (same cache keys: the database and its data version) so each page's reads stay in one
short module; a setting saved from a page clears every cache, like a capture does.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from portfolio_dashboard.bootstrap import get_app
from portfolio_dashboard.storage.reads import explorer as read_explorer
from portfolio_dashboard.storage.reads.accounts import AccountSetting, account_settings
from portfolio_dashboard.storage.reads.classes import (
    ClassLevel,
    InstrumentClass,
    allocation_by_class,
    instrument_classes,
)
from portfolio_dashboard.storage.reads.portfolio import AllocationSlice
from portfolio_dashboard.storage.reads.scope import Scope
from portfolio_dashboard.ui import data

TTL_S = 600
EXPLORER_TTL_S = 10  # the explorer shows the database as it is: a short cache only absorbs reruns


@st.cache_data(ttl=TTL_S, show_spinner=False)
def accounts(db: str) -> list[AccountSetting]:
    with get_app().engine.connect() as conn:
        return account_settings(conn)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def classes(db: str) -> list[InstrumentClass]:
    with get_app().engine.connect() as conn:
        return instrument_classes(conn)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def class_allocation(db: str, scope: Scope, level: ClassLevel, currency: str,
                     asof: datetime | None = None) -> list[AllocationSlice]:
    with get_app().engine.connect() as conn:
        return allocation_by_class(conn, scope, level, currency, data.settings().base_currency, asof)


@st.cache_data(ttl=EXPLORER_TTL_S, show_spinner=False)
def relations(db: str) -> list[read_explorer.Relation]:
    with get_app().engine.connect() as conn:
        return read_explorer.relations(conn)


@st.cache_data(ttl=EXPLORER_TTL_S, show_spinner=False)
def relation_rows(db: str, relation: str, limit: int, include_raw: bool) -> read_explorer.RelationRows:
    with get_app().engine.connect() as conn:
        return read_explorer.newest_rows(conn, relation, limit, include_raw=include_raw)
