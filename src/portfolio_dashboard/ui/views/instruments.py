"""Instruments: global identities, how each broker instrument maps to one, and the manual override."""

from __future__ import annotations

import uuid

import pandas as pd
import streamlit as st

from portfolio_dashboard.bootstrap import get_app
from portfolio_dashboard.errors import PortfolioError
from portfolio_dashboard.services.mapping import map_instrument
from portfolio_dashboard.storage.reads.mappings import GlobalInstrumentLine, MappingRow
from portfolio_dashboard.storage.reads.scope import Scope
from portfolio_dashboard.ui import class_editor, data, fmt, notices, settings_data, state, tables
from portfolio_dashboard.ui.guard import guarded


def globals_table(rows: list[GlobalInstrumentLine]) -> None:
    frame = pd.DataFrame({
        "Symbol": [g.symbol or "" for g in rows], "Name": [g.name or "" for g in rows],
        "Class": [g.asset_class or "" for g in rows], "Ccy": [g.currency or "" for g in rows],
        "ISIN": [g.isin or "" for g in rows], "Broker instruments": [g.mapped for g in rows],
        "Brokers": [", ".join(fmt.BROKER_SHORT.get(b, b) for b in g.brokers) for g in rows],
    })
    st.dataframe(frame, hide_index=True, key="globals_table", height=tables.height(len(frame), 520))


def mappings_table(rows: list[MappingRow]) -> None:
    frame = pd.DataFrame({
        "Broker": [fmt.BROKER_SHORT.get(m.broker, m.broker) for m in rows],
        "Symbol": [m.symbol or "" for m in rows], "Name": [m.name or "" for m in rows],
        "Broker id": [m.broker_instrument_id for m in rows], "ISIN": [m.isin or "" for m in rows],
        "Ccy": [m.currency or "" for m in rows],
        "Global": [f"{m.global_symbol or ''} · {m.global_name or ''}" if m.global_instrument_id else "unmapped"
                   for m in rows],
        "Mapping": [m.mapping_source or "" for m in rows],
        "Why": [m.evidence or "" for m in rows],
        "Confidence": [data.as_float(m.confidence) for m in rows],
    })
    st.dataframe(frame, hide_index=True, key="mappings_table", height=tables.height(len(frame), 520),
                 column_config={"Confidence": tables.number("Confidence", 2)})


def override_form(mapping_rows: list[MappingRow], global_rows: list[GlobalInstrumentLine]) -> None:
    st.subheader("Manual override")
    st.caption("Map a broker instrument to a different global instrument, e.g. the same fund listed on two "
               "exchanges. A manual mapping is never changed by a capture.")
    instruments = {m.instrument_id: m for m in mapping_rows}
    targets = {g.id: g for g in global_rows}
    with st.form("mapping_override", border=True):
        chosen = st.selectbox(
            "Broker instrument", list(instruments), index=None, placeholder="Choose a broker instrument",
            format_func=lambda i: (f"{instruments[i].symbol or '?'} · {fmt.BROKER_SHORT.get(instruments[i].broker, '')}"
                                   f" · {instruments[i].name or ''} → {instruments[i].global_symbol or 'unmapped'}"),
        )
        target = st.selectbox(
            "Maps to global instrument", list(targets), index=None, placeholder="Choose the global instrument",
            format_func=lambda g: (f"{targets[g].symbol or '?'} · {targets[g].name or ''} "
                                   f"({targets[g].isin or 'no ISIN'})"),
        )
        if st.form_submit_button("Save mapping", type="primary"):
            _save(chosen, target, instruments)


def _save(chosen: uuid.UUID | None, target: uuid.UUID | None, instruments: dict[uuid.UUID, MappingRow]) -> None:
    if chosen is None or target is None:
        st.warning("Choose both a broker instrument and a global instrument.")
        return
    if instruments[chosen].global_instrument_id == target:
        st.info("That instrument already maps there.")
        return
    try:
        map_instrument(get_app(), chosen, target)
    except PortfolioError as exc:
        st.error(exc.user_message())
        return
    data.clear()
    st.success(f"Saved: {instruments[chosen].symbol} now counts as one holding with the chosen instrument "
               "in positions and allocation.", icon=":material/check_circle:")


def render() -> None:
    notices.page_header("Instruments")
    with guarded("the instruments"):
        db = data.db_key()
        scope = state.scope()
        mapping_rows = data.mappings(db, scope)
        global_rows = data.global_instruments(db, scope)
        if not mapping_rows:
            if data.has_snapshots(db):
                notices.nothing_in_filter("instrument")
            else:
                notices.empty_state()
            return
        tab_global, tab_map, tab_classes = st.tabs([f"Global instruments ({len(global_rows)})",
                                                    f"Broker instruments ({len(mapping_rows)})", "Asset classes"])
        with tab_global:
            globals_table(global_rows)
        with tab_map:
            mappings_table(mapping_rows)
        with tab_classes:
            shown = {g.id for g in global_rows}
            class_rows = [c for c in settings_data.classes(db) if c.id in shown]
            class_editor.classes_table(class_rows)
            class_editor.class_form(class_rows)
        all_globals = data.global_instruments(db, Scope()) if scope.brokers or scope.accounts else global_rows
        override_form(mapping_rows, all_globals)


render()
