"""Plain-text and JSON views of runs and health, shared by the CLI (and the scheduler's logs)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.brokers.base import CredentialReporting
from portfolio_dashboard.domain import RunResult
from portfolio_dashboard.errors import PortfolioError
from portfolio_dashboard.formatting import ago, money, span
from portfolio_dashboard.services import monitoring
from portfolio_dashboard.services.monitoring import Facts
from portfolio_dashboard.storage.reads import runs as queries


def run_to_dict(result: RunResult) -> dict[str, Any]:
    return asdict(result)


def run_summary(result: RunResult) -> str:
    took = (result.finished_at - result.started_at).total_seconds() if result.finished_at else 0.0
    lines = [f"run {result.run_id}: {result.status.upper()} in {took:.1f}s"]
    for o in result.sources:
        if o.status == "spooled":
            lines.append(f"  {o.source}: SPOOLED — {o.error_message}")
        elif o.status == "success":
            stored = f"{o.snapshots_written} new snapshot(s), {o.positions_written} positions"
            if o.snapshots_existing:
                stored += f"; {o.snapshots_existing} already stored"
            if o.trades_written:
                stored += f"; {o.trades_written} new trades"
            extra = f", {o.retries} retries" if o.retries else ""
            lines.append(f"  {o.source}: ok — {stored} (accounts: {', '.join(o.accounts) or 'none'}{extra})")
        else:
            lines.append(f"  {o.source}: FAILED — {o.error_category}: {o.error_message}")
            if o.raw_payloads:
                lines.append(f"    {o.raw_payloads} raw response(s) kept for diagnosis")
        if o.credential:
            lines.append(f"    {o.credential}")
    for w in result.warnings:
        lines.append(f"  warning: {w}")
    return "\n".join(lines)


@dataclass
class StatusReport:
    """``outcome`` (the CLI's exit-status table turns it into 0, 2 or 1): ``success`` when healthy,
    ``degraded`` (``notices``: a partial run, a credential expiring, data waiting in the spool), ``fail``
    (``problems``: database unreachable, no run yet, the last run failed, an account
    without a successful capture within the limit, an expired credential)."""

    now: datetime
    max_age: timedelta
    last_run: queries.RunRow | None
    accounts: list[queries.AccountLatest]
    reaped: int = 0
    problems: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    facts: Facts | None = None
    logins: list[str] = field(default_factory=list)  # e.g. "schwab: Schwab login valid for 5d 3h more"

    @property
    def outcome(self) -> str:
        return "fail" if self.problems else ("degraded" if self.notices else "success")

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now,
            "healthy": not self.problems,
            "outcome": self.outcome,
            "problems": self.problems,
            "notices": self.notices,
            "logins": self.logins,
            "last_run": asdict(self.last_run) if self.last_run else None,
            "accounts": [
                {**asdict(a), "age_seconds": int((self.now - a.asof_ts).total_seconds())} for a in self.accounts
            ],
            **(monitoring.as_dict(self.facts) if self.facts else {}),
        }

    def text(self) -> str:
        lines = []
        if self.facts is not None and self.facts.db_error:
            lines.append(f"database: UNREACHABLE — {self.facts.db_error}")
        elif self.last_run is None:
            lines.append("no capture has run yet — try `portfolio-dashboard capture`")
        else:
            r = self.last_run
            lines.append(f"last run: {r.status} at {r.started_at:%Y-%m-%d %H:%M:%S %Z} ({r.trigger_type})")
            if r.error_summary:
                lines.append(f"  {r.error_summary}")
        total = sum((a.total_value_gbp for a in self.accounts if a.total_value_gbp is not None), start=0)
        for a in self.accounts:
            value = money(a.total_value_gbp) if a.total_value_gbp is not None else "GBP n/a (no FX rate)"
            local = (money(a.total_value_local, a.account_currency)
                     if a.total_value_local is not None and a.account_currency else "")
            lines.append(
                f"  {a.broker}/{a.broker_account_id} {a.name or ''}: {value} {local} — as of "
                f"{a.asof_ts:%Y-%m-%d %H:%M %Z} ({ago(a.asof_ts, self.now)})"
            )
        if self.accounts:
            lines.append(f"total: {money(total)}")
        for login in self.logins:
            lines.append(f"login: {login}")
        if self.facts is not None:
            lines += _facts_text(self.facts, self.last_run)
        for p in self.problems:
            lines.append(f"PROBLEM: {p}")
        for n in self.notices:
            lines.append(f"NOTICE: {n}")
        return "\n".join(lines)


def _facts_text(facts: Facts, last_run: queries.RunRow | None) -> list[str]:
    lines = []
    if facts.successes:
        lines.append("last successful capture:")
        for a in facts.successes:
            note = "" if a.monitored else " (source not in BROKERS: not monitored)"
            lines.append(f"  {a.broker}/{a.broker_account_id}: {a.last_success_at:%Y-%m-%d %H:%M %Z} "
                         f"({ago(a.last_success_at, facts.now)}){note}")
    if facts.credentials:
        lines.append("credentials:")
        for c in facts.credentials:
            lines.append(f"  {c.source}: {c.describe() or 'ok'}")
    if last_run is not None and last_run.warnings:
        lines.append(f"open warnings ({len(last_run.warnings)}, from the last run):")
        lines += [f"  {w}" for w in last_run.warnings[:20]]
        if len(last_run.warnings) > 20:
            lines.append(f"  ... and {len(last_run.warnings) - 20} more (`status --json`)")
    s = facts.spool
    if s.entries or s.corrupt:
        lines.append(f"spool: {s.entries} entr(ies) from {s.runs} run(s), {s.responses} response(s) waiting"
                     + (f"; {s.corrupt} unreadable file(s) in spool/corrupt" if s.corrupt else ""))
    return lines


def status_report(app: App, max_age: timedelta, *, now: datetime, with_health: bool = True) -> StatusReport:
    """Never raises for an unreachable database: that is the first problem it reports."""
    facts = monitoring.collect(app, now, max_age, with_health=with_health)
    if facts.db_error is not None:
        report = StatusReport(now, max_age, None, [], facts=facts)
        report.problems.append(f"database unreachable: {facts.db_error}")
        _spool_notices(report, facts)
        return report
    with app.engine.connect() as conn:
        accounts = queries.latest_per_account(conn)
    last = facts.last_run
    report = StatusReport(now, max_age, last, accounts, facts=facts)
    if last is None:
        report.problems.append("no capture has run yet")
    elif last.status == "fail":
        report.problems.append(f"the last run failed: {last.error_summary or 'see `portfolio-dashboard status`'}")
    elif last.status == "partial":
        report.notices.append(f"the last run was partial: {last.error_summary}")
    _add_logins(app, report)
    for a in facts.successes:
        if a.monitored and a.age(now) > max_age:
            report.problems.append(
                f"{a.broker}/{a.broker_account_id}: no successful capture for {span(a.age(now))} "
                f"(limit {span(max_age)})"
            )
    for c in facts.credentials:
        if any(p.startswith(f"{c.source}:") for p in report.problems):
            continue  # a lapsed login is already reported (``_add_logins``)
        if c.expires_in_s is not None and c.expires_in_s <= 0:
            report.problems.append(f"{c.source}: credential expired — {monitoring.renew_hint(c.source)}")
        elif c.expires_soon() or (c.checked and (c.authenticated is False or c.reachable is False)):
            report.notices.append(f"{c.source}: {c.describe()}")
    _spool_notices(report, facts)
    return report


def _spool_notices(report: StatusReport, facts: Facts) -> None:
    if facts.spool.entries:
        report.notices.append(
            f"{facts.spool.entries} spooled capture(s) wait in the local spool; the next capture stores them "
            "(or run `portfolio-dashboard spool replay`)"
        )
    if facts.spool.corrupt:
        report.notices.append(f"{facts.spool.corrupt} unreadable spool file(s) in spool/corrupt need a look")


def _add_logins(app: App, report: StatusReport) -> None:
    """How long each configured source's login has left (no network); a lapsed login is a problem."""
    for name in app.settings.configured_sources:
        try:
            source = app.source_factory(name, app.settings)
        except PortfolioError:
            continue  # a source that cannot be built shows up as a failed run instead
        try:
            if not isinstance(source, CredentialReporting):
                continue
            note = source.credential_note()
            if note:
                report.logins.append(f"{name}: {note}")
            left = source.credential_expires_in_s
            if left is None or left <= 0:
                report.problems.append(f"{name}: {note or 'not logged in'}")
        finally:
            close = getattr(source, "close", None)
            if callable(close):
                close()
