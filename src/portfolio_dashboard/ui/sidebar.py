"""The sidebar: Save Snapshot (with per-source progress and the outcome), demo history, and the filters.

Per run: ``prepare`` before the page (what the page's reads depend on), ``draw`` once (the Overview draws it
after its headline, the shell after any other page), then ``follow``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError
from streamlit.delta_generator import DeltaGenerator
from streamlit.runtime.scriptrunner import get_script_run_ctx

from portfolio_dashboard.bootstrap import get_app
from portfolio_dashboard.domain import RunResult, RunStatus, TriggerContext, TriggerType
from portfolio_dashboard.errors import PortfolioError
from portfolio_dashboard.ui import asof, data, failures, fmt, jobs, state, view_picker
from portfolio_dashboard.ui.guard import guarded
from portfolio_dashboard.ui.jobs import JobView, Progress

DEMO_DAYS = 365
POLL_S = 0.25
OUTCOME_S = 15 * 60  # how long every open page shows the last Save Snapshot's outcome
STATE_ICONS = {
    "waiting": ":gray[:material/schedule:]", "fetching": ":blue[:material/sync:]", "writing": ":blue[:material/save:]",
    "success": ":green[:material/check_circle:]", "fail": ":red[:material/cancel:]",
    "spooled": ":orange[:material/inbox:]",
}


def _start_capture() -> None:
    app = get_app()
    names = list(app.settings.configured_sources)
    trigger = TriggerContext(trigger_type=TriggerType.MANUAL, triggered_by="dashboard")

    def run(progress: Progress) -> RunResult:
        from portfolio_dashboard.services.capture import capture  # imported on first use: keeps first render fast

        return capture(trigger, app=app, progress=progress)

    if not jobs.JOB.start("capture", "Saving snapshot", run, names):
        st.session_state["job_refused"] = True


def _start_seed() -> None:
    app = get_app()

    def run(progress: Progress) -> int:
        from portfolio_dashboard.services.demo_history import seed

        progress("demo", "writing")
        count = seed(app, DEMO_DAYS)
        progress("demo", "success")
        return count

    if not jobs.JOB.start("seed", f"Loading {DEMO_DAYS} days of demo history", run, ["demo"]):
        st.session_state["job_refused"] = True


def _refresh_if_changed() -> None:
    """Once per finished job (process-wide): forget cached reads so every page shows the new data."""
    if jobs.JOB.take_finished():
        data.clear()


def _progress_lines(view: JobView) -> None:
    for source, where in view.progress.items():
        st.markdown(f"{STATE_ICONS.get(where, '•')} **{source}** — {where}")


def _outcome(view: JobView) -> None:
    took = f" in {view.finished_at - view.started_at:.1f} s" if view.finished_at and view.started_at else ""
    if view.error:
        st.error(f"**{view.label} failed**{took}: {view.error}", icon=":material/error:")
        return
    result: Any = view.result
    if view.kind == "seed":
        st.success(f"**Demo history loaded**{took}: {result:,} new daily snapshots.", icon=":material/check:")
        return
    if not isinstance(result, RunResult):
        return
    ok = [o for o in result.sources if o.status == "success"]
    failed = [o for o in result.sources if o.status != "success"]
    positions = sum(o.positions_written for o in ok)
    accounts = sum(len(o.accounts) for o in ok)
    saved = f"{accounts} account(s), {positions} positions"
    if result.status == RunStatus.SUCCESS:
        st.success(f"**Snapshot saved**{took} — {saved}.", icon=":material/check_circle:")
    else:
        head = "Snapshot partly saved" if result.status == RunStatus.PARTIAL else "Snapshot failed"
        problems = [failures.Failure(o.source, o.error_category, o.error_message) for o in failed]
        reasons = "\n".join(f"- {failures.line(f)}" for f in problems)
        body = f"**{head}**{took}" + (f" — saved {saved}" if ok else "") + f"\n\n{reasons}"
        if result.status == RunStatus.PARTIAL:
            st.warning(body, icon=":material/warning:")
        else:
            st.error(body, icon=":material/error:")
        failures.details(problems)
    if result.warnings:
        with st.expander(f"{len(result.warnings)} warning(s)"):
            for w in result.warnings:
                st.caption(w)


@dataclass(frozen=True, slots=True)
class Status:
    """Where the job's status is drawn, and the job this render showed as running (None: none was)."""

    slot: DeltaGenerator
    running_seq: int | None


def snapshot_controls() -> Status:
    """The Save Snapshot button and its status area (followed by ``follow`` after the page has rendered)."""
    settings = data.settings()
    view = jobs.JOB.view()
    st.button("Save snapshot", type="primary", icon=":material/photo_camera:", width="stretch",
              disabled=view.running, on_click=_start_capture, key="save_snapshot",
              help="Capture every configured source now (the same capture as `portfolio-dashboard capture`).")
    if st.session_state.pop("job_refused", False):
        st.toast("A snapshot was just started — one at a time.", icon=":material/hourglass_top:")
    slot = st.empty()
    if not view.running and view.finished_at is not None and time.monotonic() - view.finished_at < OUTCOME_S:
        with slot.container():
            _outcome(view)
    if not settings.brokers:
        st.caption(":material/science: **Demo mode** — no broker is configured, so snapshots come from simulated "
                   "accounts. Set `BROKERS` to capture your own.")
    return Status(slot, view.seq if view.running else None)


def demo_controls() -> None:
    """Only while no broker is configured: a year of demo history, so a newcomer sees charts at once."""
    if data.settings().brokers:
        return
    st.divider()
    st.button("Load demo history", icon=":material/history:", width="stretch", type="secondary",
              disabled=jobs.JOB.view().running, on_click=_start_seed, key="load_demo_history",
              help=f"Backfill {DEMO_DAYS} days of simulated daily snapshots (`portfolio-dashboard demo seed`), "
                   "so the charts have a history at once.")


def follow(status: Status) -> None:
    """After the page: while the job shown as running runs, show each source's progress; then rerun, so the
    outcome and every page's data appear (the job may also have finished while the page was drawn)."""
    if status.running_seq is None:
        return
    view = jobs.JOB.view()
    while view.running and view.seq == status.running_seq:
        with status.slot.container(), st.status(f"{view.label}…", state="running", expanded=True):
            _progress_lines(view)
        time.sleep(POLL_S)
        view = jobs.JOB.view()
    _refresh_if_changed()
    st.rerun()


def _keep_currency() -> None:
    if not st.session_state.get(state.CURRENCY_KEY):  # a segmented control can be deselected: keep a choice
        st.session_state[state.CURRENCY_KEY] = state.DEFAULT_CURRENCY


def _prune(key: str, options: list[str]) -> None:
    """Drop chosen values no longer offered (an account of a broker just unselected); touch nothing else, as
    re-setting a widget's state on every run resets it in the browser."""
    current = st.session_state.get(key) or []
    kept = [v for v in current if v in options]
    if kept != current:
        st.session_state[key] = kept


def _choices() -> tuple[list[str], dict[str, str]]:
    """The brokers on offer, and the accounts on offer for the brokers and wrappers chosen (key -> label)."""
    known = data.accounts(data.db_key())
    wrappers = {(t.broker, t.broker_account_id): t.wrapper for t in data.account_tags(data.db_key())}
    chosen = st.session_state.get(state.BROKERS_KEY) or []
    chosen_wrappers = st.session_state.get(state.WRAPPERS_KEY) or []
    labels = {f"{a.broker}/{a.broker_account_id}": fmt.account_label(a.broker, a.broker_account_id, a.name)
              for a in known if (not chosen or a.broker in chosen)
              and (not chosen_wrappers or wrappers.get((a.broker, a.broker_account_id)) in chosen_wrappers)}
    return sorted({a.broker for a in known}), labels


def _wrapper_choices() -> list[str]:
    """Wrappers any account has, plus any chosen (a bookmarked ``?wrapper=`` may name one no account has yet)."""
    known = {t.wrapper for t in data.account_tags(data.db_key()) if t.wrapper}
    return sorted(known | set(st.session_state.get(state.WRAPPERS_KEY) or []))


def _settle_filters() -> None:
    """The default currency, and no chosen value that is no longer offered (an account of a broker just
    unselected): the page reads the filter before the widgets are drawn."""
    st.session_state.setdefault(state.CURRENCY_KEY, state.DEFAULT_CURRENCY)
    brokers, _ = _choices()
    _prune(state.BROKERS_KEY, brokers)
    _, labels = _choices()  # for the brokers still chosen
    _prune(state.ACCOUNTS_KEY, list(labels))


def filter_label(brokers: list[str], wrappers: list[str], accounts: list[str]) -> str:
    """The filter popover's button: what the filter holds, readable while it is closed."""
    parts = [", ".join(fmt.broker_label(b) for b in brokers), ", ".join(fmt.wrapper_label(w) for w in wrappers)]
    if accounts:
        parts.append(f"{len(accounts)} account{'s' if len(accounts) != 1 else ''}")
    chosen = [p for p in parts if p]
    return "Filter: " + (" · ".join(chosen) if chosen else "all accounts")


def filters() -> None:
    view_picker.picker()
    st.segmented_control("Display currency", state.CURRENCIES, key=state.CURRENCY_KEY, on_change=_keep_currency,
                         help="Totals in GBP are converted at the stored rate nearest at or before each date.")
    brokers, labels = _choices()
    chosen = [list(st.session_state.get(k) or []) for k in (state.BROKERS_KEY, state.WRAPPERS_KEY, state.ACCOUNTS_KEY)]
    # In a popover, whose content a browser draws only when opened: three multiselects drawn on every first
    # visit held the Overview's total and chart back (docs/benchmarks.md, issue 19). The key keeps it open while
    # its label changes with the choice.
    with st.popover(filter_label(*chosen), icon=":material/filter_list:", width="stretch", key="filter_popover"):
        st.multiselect("Broker", brokers, key=state.BROKERS_KEY, format_func=fmt.broker_label,
                       placeholder="All brokers")
        st.multiselect("Wrapper", _wrapper_choices(), key=state.WRAPPERS_KEY, format_func=fmt.wrapper_label,
                       placeholder="All wrappers", help="The account's tax wrapper (ISA, SIPP, GIA …).")
        st.multiselect("Account", list(labels), key=state.ACCOUNTS_KEY, format_func=lambda k: labels.get(k, k),
                       placeholder="All accounts")
        st.caption("The filter applies to every page.")
    asof.controls()


_drawn: ContextVar[Status | None] = ContextVar("sidebar_drawn", default=None)  # this run's, once drawn


def prepare() -> None:
    """Before the page: forget cached reads once a job has finished, and settle the filter the page reads.
    A database error is left to the filters, which show it when drawn."""
    _drawn.set(None)
    _refresh_if_changed()
    with contextlib.suppress(SQLAlchemyError, PortfolioError):
        _settle_filters()


def draw() -> Status:
    """The sidebar, drawn once per run: a page may draw it early, the shell draws it after any other page."""
    status = _drawn.get()
    if status is None:
        with _as_entry_script():
            status = render()
        _drawn.set(status)
    return status


@contextlib.contextmanager
def _as_entry_script() -> Iterator[None]:
    """Streamlit identifies a widget by the script that draws it. The sidebar's widgets must be the entry
    script's wherever they are drawn from (the Overview draws them from inside its page), or the filter and the
    currency would be reset on every change of page."""
    ctx = get_script_run_ctx()
    if ctx is None:
        yield
        return
    with ctx.run_with_active_hash(ctx.pages_manager.main_script_hash):
        yield


def render() -> Status:
    with st.sidebar:
        status = snapshot_controls()
        st.divider()
        with guarded("the filters"):
            filters()
        demo_controls()
    return status
