"""Runs: every capture, newest first, and a drill-down into one run's outcome, snapshots and raw payloads."""

from __future__ import annotations

import uuid
from typing import Any

import pandas as pd
import streamlit as st

from portfolio_dashboard.storage.reads.audit import RunLine
from portfolio_dashboard.ui import data, failures, flow_data, flow_tables, fmt, notices, state, tables, trace
from portfolio_dashboard.ui.coverage import coverage, skipped
from portfolio_dashboard.ui.guard import guarded

LIMIT = 200
STATUS = {"success": "success", "partial": "partial", "fail": "FAIL", "running": "running"}
RESIDUAL_HELP = ("Positions + cash + the broker's accruals, minus the broker's own total: near zero when "
                 "every row was captured (warned beyond RECONCILE_TOLERANCE, 0.1% by default)")
VIEWER_LIMIT = 400_000  # characters: a larger body is cut in the viewer (the database keeps it whole)


def runs_table(lines: list[RunLine]) -> None:
    tz = data.settings().timezone
    frame = pd.DataFrame({
        "Started": [r.started_at.astimezone(tz).replace(tzinfo=None) for r in lines],
        "Trigger": [r.trigger_type for r in lines],
        "Status": [STATUS.get(r.status, r.status) for r in lines],
        "Errors": [r.error_summary or "" for r in lines],
        "Duration (s)": [r.duration_s for r in lines],
        "Sources": [", ".join(r.sources) for r in lines],
        "Snapshots": [r.snapshots for r in lines],
        "Payloads": [r.raw_payloads for r in lines],
        "Warnings": [len(r.warnings) for r in lines],
    })
    st.dataframe(frame, hide_index=True, key="runs_table", height=tables.height(len(frame), 420),
                 column_config={"Started": st.column_config.DatetimeColumn("Started", format="D MMM YYYY HH:mm:ss"),
                                "Duration (s)": tables.number("Duration (s)", 1),
                                "Errors": tables.text("Errors", width="large")})
    recent_errors(lines)


def recent_errors(lines: list[RunLine], most: int = 5) -> None:
    """The newest errors in full (a table cell cuts long text): what went wrong, readable without a click."""
    failed = [r for r in lines if r.error_summary][:most]
    if not failed:
        return
    tz = data.settings().timezone
    with st.container(key="recent-errors"):
        st.caption(f"Newest error{'s' if len(failed) > 1 else ''} in full")
        for r in failed:
            st.markdown(f"**{fmt.when(r.started_at, tz)}** · {', '.join(r.sources)} · "
                        f"{STATUS.get(r.status, r.status)}  \n{r.error_summary}")


def _run_label(r: RunLine) -> str:
    tz = data.settings().timezone
    return f"{fmt.when(r.started_at, tz, seconds=True)} · {r.trigger_type} · {r.status} · {', '.join(r.sources)}"


def outcome(run: RunLine) -> None:
    color = {"success": "green", "partial": "orange", "fail": "red"}.get(run.status, "blue")
    with st.container(key="run-summary"):
        st.markdown(f":{color}-badge[{STATUS.get(run.status, run.status)}] · **{fmt.duration(run.duration_s)}** · "
                    f"{run.snapshots:,} snapshot(s) · {run.raw_payloads:,} raw payload(s) · {run.trigger_type}")
    st.caption(f"Triggered by {run.triggered_by or 'unknown'} · run id `{run.run_id}`")
    problems = [failures.Failure(str(o.get("source", "")), o.get("error_category"), o.get("error_message"))
                for o in run.outcome or [] if o.get("error_category")]
    if problems:
        with st.container(border=True):
            failures.show(problems)
        failures.details(problems)
    elif run.error_summary:
        st.error(run.error_summary, icon=":material/error:")
    if run.outcome:
        rows: list[dict[str, Any]] = []
        for o in run.outcome:
            rows.append({
                "Source": o.get("source", ""), "Status": STATUS.get(str(o.get("status")), str(o.get("status", ""))),
                "Error": f"{o.get('error_category')}: {o.get('error_message')}" if o.get("error_category") else "",
                "Accounts": ", ".join(fmt.mask_account(str(a)) for a in o.get("accounts") or []),
                "New snapshots": o.get("snapshots_written", 0), "Already stored": o.get("snapshots_existing", 0),
                "Positions": o.get("positions_written", 0), "Flows": o.get("flows_written", 0),
                "Skipped rows": skipped(o),
                "Retries": o.get("retries", 0),
                "Fetch (s)": o.get("fetch_seconds"), "Write (s)": o.get("write_seconds"),
            })
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="run_outcome",
                     column_config={"Error": tables.text("Error", width="large")})
    if run.warnings:
        with st.expander(f"{len(run.warnings)} warning(s)", icon=":material/warning:"):
            for w in run.warnings:
                st.markdown(f"- {w}")


def snapshots(db: str, run: RunLine) -> None:
    rows, total = data.run_snapshots(db, run.run_id, state.scope())
    if not rows:
        st.caption("This run stored no snapshot in the filter.")
        return
    tz = data.settings().timezone
    frame = pd.DataFrame({
        "Account": [fmt.account_label(s.broker, s.broker_account_id) for s in rows],
        "As of": [s.asof_ts.astimezone(tz).replace(tzinfo=None) for s in rows],
        "As-of source": [s.asof_source or "" for s in rows],
        "Total (local)": [data.as_float(s.total_value_local) for s in rows],
        "Ccy": [s.account_currency or "" for s in rows],
        "Total (GBP)": [data.as_float(s.total_value_gbp) for s in rows],
        "Broker total (GBP)": [data.as_float(s.reported_total_gbp) for s in rows],
        "Positions": [s.positions for s in rows],
        "FX complete": [s.fx_complete for s in rows],
        "Residual (GBP)": [data.as_float(s.residual_gbp) for s in rows],
        "Residual": [data.as_float(None if s.residual_pct is None else s.residual_pct / 100) for s in rows],
        "Warnings": ["; ".join(s.warnings) for s in rows],
    })
    st.dataframe(frame, hide_index=True, key="run_snapshots", column_config={
        "As of": tables.when("As of"), "Total (local)": tables.number("Total (local)"),
        "Total (GBP)": tables.money("Total (GBP)", "GBP"),
        "Broker total (GBP)": tables.money("Broker total (GBP)", "GBP"),
        "Residual (GBP)": tables.money("Residual (GBP)", "GBP", help=RESIDUAL_HELP),
        "Residual": tables.percent("Residual", help=RESIDUAL_HELP),
    })
    if total > len(rows):
        st.caption(f"Showing the newest {len(rows)} of {total:,} snapshots.")


def payloads(db: str, run: RunLine) -> None:
    metas = data.run_payloads(db, run.run_id)
    if not metas:
        st.caption("This run kept no raw payload.")
        return
    tz = data.settings().timezone
    labels = {m.id: f"{fmt.when(m.received_at, tz, seconds=True)} · {m.source or m.broker} · {m.endpoint} · "
                    f"{m.status_code or '-'} · {fmt.size(m.size)}" for m in metas}
    choice: uuid.UUID | None = st.selectbox("Raw payload", list(labels), format_func=lambda i: labels[i],
                                            key=f"payload_{run.run_id}")
    if choice is None:
        return
    payload = data.raw_payload(db, choice)
    if payload is None:
        st.caption("That payload is no longer stored.")
        return
    m = payload.meta
    st.caption(f"`{m.endpoint}` · HTTP {m.status_code or '-'} · {m.content_type or 'unknown type'} · "
               f"{fmt.size(m.size)} · parser {payload.parser_version or '-'} · sha256 `{m.content_sha256[:16]}…`")
    if payload.headers:
        st.caption(" · ".join(f"{k}: {v}" for k, v in payload.headers.items()))
    language, body = fmt.pretty_body(payload.text_body, payload.json_body, m.content_type)
    if len(body) > VIEWER_LIMIT:
        st.caption(f"Showing the first {VIEWER_LIMIT:,} of {len(body):,} characters.")
        body = body[:VIEWER_LIMIT]
    st.code(body, language=language, line_numbers=False, height=480)


def run_flows(db: str, run: RunLine) -> None:
    """The deposits, dividends, taxes... this run stored first (a flow stored earlier keeps its first run)."""
    lines = flow_data.flows(db, state.scope(), run.run_id)
    if not lines:
        st.caption("This run stored no new money-in-or-out row in the filter.")
        return
    flow_tables.show(lines, f"run_flows_{run.run_id}")
    st.download_button("Download these flows (CSV)", flow_tables.csv(lines), file_name=f"flows-{run.run_id}.csv",
                       mime="text/csv", icon=":material/download:", key=f"run_flows_csv_{run.run_id}")


def render() -> None:
    notices.page_header("Runs")
    with guarded("the runs"):
        db = data.db_key()
        lines = data.runs(db, state.scope(), LIMIT)
        if not lines:
            st.info("No capture has run yet. **Save snapshot** in the sidebar starts one.", icon=":material/history:")
            return
        focus = trace.panel(db)
        runs_table(lines)
        st.subheader("Run details")
        by_id = {r.run_id: r for r in lines}
        if focus in by_id and st.session_state.get("run_focus") != focus:  # open a link's run once
            st.session_state["run_focus"] = st.session_state["run_choice"] = focus
        chosen = st.selectbox("Run", list(by_id), format_func=lambda i: _run_label(by_id[i]), key="run_choice")
        if chosen is None:
            return
        run = by_id[chosen]
        outcome(run)
        tab_snaps, tab_flows, tab_raw, tab_coverage = st.tabs(
            ["Snapshots", "Money in and out", "Raw payloads", "Coverage"])
        with tab_snaps:
            snapshots(db, run)
        with tab_flows:
            run_flows(db, run)
        with tab_raw:
            payloads(db, run)
        with tab_coverage:
            coverage(run)


render()
