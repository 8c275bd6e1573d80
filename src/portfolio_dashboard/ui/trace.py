"""Traceability on the Runs page: ``/runs?snapshot=ID`` opens the snapshot a figure comes from, with the raw
broker responses it was read from and their SHA-256; ``/runs?raw=ID`` opens one stored response.

Every headline number and position row elsewhere links here (``snapshot_link``).
"""

from __future__ import annotations

import uuid

import streamlit as st

from portfolio_dashboard.ui import data, fmt

SNAPSHOT_PARAM = "snapshot"
RAW_PARAM = "raw"
VIEWER_LIMIT = 400_000


def snapshot_link(snapshot_id: uuid.UUID | None) -> str | None:
    """The Runs page URL opening a snapshot (relative, so it works behind any host name)."""
    return None if snapshot_id is None else f"/runs?{SNAPSHOT_PARAM}={snapshot_id}"


def raw_link(payload_id: uuid.UUID | None) -> str | None:
    """The Runs page URL opening one stored response."""
    return None if payload_id is None else f"/runs?{RAW_PARAM}={payload_id}"


def _param(name: str) -> uuid.UUID | None:
    value = st.query_params.get(name)
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _body(db: str, payload_id: uuid.UUID) -> None:
    payload = data.raw_payload(db, payload_id)
    if payload is None:
        st.caption("That response is no longer stored.")
        return
    m = payload.meta
    st.markdown(f"**Raw response** `{m.endpoint}` · HTTP {m.status_code or '-'} · {fmt.size(m.size)}  \n"
                f"SHA-256 `{m.content_sha256}`")
    language, body = fmt.pretty_body(payload.text_body, payload.json_body, m.content_type)
    st.code(body[:VIEWER_LIMIT], language=language, line_numbers=False, height=360)


def panel(db: str) -> uuid.UUID | None:
    """The source a link asked for, above the run list; returns the run to open below (None: no link)."""
    snapshot_id, raw_id = _param(SNAPSHOT_PARAM), _param(RAW_PARAM)
    if snapshot_id is None and raw_id is None:
        return None
    with st.container(border=True, key="trace_panel"):
        if raw_id is not None:
            st.subheader("Source response")
            _body(db, raw_id)
            return data.payload_run(db, raw_id)
        assert snapshot_id is not None
        trace = data.snapshot_trace(db, snapshot_id)
        if trace is None:
            st.warning(f"Snapshot `{snapshot_id}` is not stored (it may have been reprocessed).")
            return None
        tz = data.settings().timezone
        st.subheader("Source snapshot")
        st.markdown(
            f"**{fmt.account_label(trace.broker, trace.broker_account_id)}** · as of "
            f"{fmt.when(trace.asof_ts, tz, seconds=True)} ({trace.asof_source or 'unknown'}) · "
            f"{trace.positions} position(s) · source {trace.source or '-'} · parser {trace.parser_version or '-'}  \n"
            f"Total {fmt.money(trace.total_value_local, trace.account_currency or 'GBP')} · "
            f"{fmt.money(trace.total_value_gbp, 'GBP')} · broker's own total "
            f"{fmt.money(trace.reported_total_gbp, 'GBP')}  \nsnapshot `{trace.snapshot_id}` · run `{trace.run_id}`")
        for w in trace.warnings:
            st.caption(f":material/warning: {w}")
        if not trace.payloads:
            st.caption("Its run kept no raw response.")
            return trace.run_id
        own = trace.source_payload
        if own is not None:
            st.markdown(f":material/link: **Read from** [`{own[1]}`]({raw_link(own[0])}) · received "
                        f"{fmt.when(own[3], tz, seconds=True)} · SHA-256 `{own[2]}`")
        else:
            st.caption("This snapshot was stored before snapshots recorded their response: its run's responses "
                       "from this broker follow, nearest in time first (`portfolio-dashboard reprocess` records it).")
        labels = {p[0]: ("read from · " if own is not None and p[0] == own[0] else "")
                  + f"{p[1]} · {fmt.when(p[3], tz, seconds=True)} · sha256 {p[2][:16]}…" for p in trace.payloads}
        title = ("The response it was read from, then its run's others from this broker" if own is not None
                 else "Responses of its run from this broker, nearest in time first")
        choice = st.selectbox(title, list(labels), format_func=lambda i: labels[i], key=f"trace_{snapshot_id}")
        if choice is not None:
            _body(db, choice)
        return trace.run_id
