"""Plain-text and JSON views of runs and health, shared by the CLI (and the scheduler's logs)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.brokers.base import CredentialReporting
from portfolio_dashboard.domain import RunResult
from portfolio_dashboard.errors import PortfolioError
from portfolio_dashboard.storage import queries


def run_to_dict(result: RunResult) -> dict[str, Any]:
    data = asdict(result)
    data["exit_code"] = result.exit_code
    return data


def run_summary(result: RunResult) -> str:
    took = (result.finished_at - result.started_at).total_seconds() if result.finished_at else 0.0
    lines = [f"run {result.run_id}: {result.status.upper()} in {took:.1f}s"]
    for o in result.sources:
        if o.status == "success":
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


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400 * 2:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d{(seconds % 86400) // 3600}h"


@dataclass
class StatusReport:
    now: datetime
    max_age: timedelta
    last_run: queries.RunRow | None
    accounts: list[queries.AccountLatest]
    reaped: int = 0
    problems: list[str] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)  # e.g. "schwab: Schwab login valid for 5d 3h more"

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": self.now,
            "healthy": not self.problems,
            "problems": self.problems,
            "logins": self.logins,
            "last_run": asdict(self.last_run) if self.last_run else None,
            "accounts": [
                {**asdict(a), "age_seconds": int((self.now - a.asof_ts).total_seconds())} for a in self.accounts
            ],
        }

    def text(self) -> str:
        lines = []
        if self.last_run is None:
            lines.append("no capture has run yet — try `portfolio-dashboard capture`")
        else:
            r = self.last_run
            lines.append(f"last run: {r.status} at {r.started_at:%Y-%m-%d %H:%M:%S %Z} ({r.trigger_type})")
            if r.error_summary:
                lines.append(f"  {r.error_summary}")
        total = sum((a.total_value_gbp for a in self.accounts if a.total_value_gbp is not None), start=0)
        for a in self.accounts:
            value = f"£{a.total_value_gbp:,.2f}" if a.total_value_gbp is not None else "GBP n/a (no FX rate)"
            local = f"{a.account_currency} {a.total_value_local:,.2f}" if a.total_value_local is not None else ""
            lines.append(
                f"  {a.broker}/{a.broker_account_id} {a.name or ''}: {value} {local} — as of "
                f"{a.asof_ts:%Y-%m-%d %H:%M %Z} ({_age(self.now - a.asof_ts)} ago)"
            )
        if self.accounts:
            lines.append(f"total: £{total:,.2f}")
        for login in self.logins:
            lines.append(f"login: {login}")
        for p in self.problems:
            lines.append(f"PROBLEM: {p}")
        return "\n".join(lines)


def status_report(app: App, max_age: timedelta, *, now: datetime) -> StatusReport:
    from portfolio_dashboard.capture import reap_interrupted_runs

    app.migrate()
    reaped = reap_interrupted_runs(app.engine)
    with app.engine.connect() as conn:
        last = queries.last_run(conn)
        accounts = queries.latest_per_account(conn)
    report = StatusReport(now, max_age, last, accounts, len(reaped))
    if last is None:
        report.problems.append("no capture has run yet")
    elif last.status == "fail":
        report.problems.append(f"the last run failed: {last.error_summary or 'see `portfolio-dashboard status`'}")
    _add_logins(app, report)
    for a in accounts:
        if now - a.asof_ts > max_age:
            report.problems.append(
                f"{a.broker}/{a.broker_account_id}: newest snapshot is {_age(now - a.asof_ts)} old "
                f"(limit {_age(max_age)})"
            )
    return report


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
