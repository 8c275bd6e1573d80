"""What ``status`` and the alerts look at: last run, last success per account, credentials, the spool.

"Last success" of an account is when a capture last reported it successfully — a snapshot written, or the
same broker state found already stored (an IB Flex statement over a weekend) — not the broker's as-of,
which for end-of-day sources is always a day behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.formatting import span
from portfolio_dashboard.local.spool import Spool, SpoolSummary
from portfolio_dashboard.services.alerts import (
    CREDENTIAL_WARN,
    AppriseNotifier,
    Condition,
    DbStateStore,
    FileStateStore,
    Message,
    Notifier,
    evaluate,
    footer,
)
from portfolio_dashboard.storage.reads import runs as queries
from portfolio_dashboard.storage.reads.health import account_success_rows

log = logging.getLogger(__name__)

ALERT_STATE_FILE = "alert-state.json"

@dataclass(slots=True)
class AccountSuccess:
    broker: str
    broker_account_id: str
    name: str | None
    last_success_at: datetime
    sources: list[str]
    monitored: bool  # captured by a source in BROKERS (else: history only, never stale)

    def age(self, now: datetime) -> timedelta:
        return now - self.last_success_at


@dataclass(slots=True)
class CredentialHealth:
    source: str
    checked: bool  # health() ran (False: not configured or the check itself failed)
    reachable: bool | None = None
    authenticated: bool | None = None
    detail: str = ""
    expires_in_s: float | None = None
    last_auth_error: str | None = None  # from the last run (a Flex token error, an expired Schwab token)

    def expires_soon(self) -> bool:
        return self.expires_in_s is not None and self.expires_in_s < CREDENTIAL_WARN.total_seconds()

    def describe(self) -> str:
        if not self.checked:
            return self.detail
        parts = [self.detail] if self.detail else []
        if self.expires_in_s is not None:
            if self.expires_in_s <= 0:
                parts.append("credential EXPIRED")
            else:
                days = self.expires_in_s / 86400
                parts.append(f"credential expires in {days:.1f} days" if days >= 2
                             else f"credential expires in {span(self.expires_in_s)}")
        if self.authenticated is False:
            parts.append("not authenticated")
        if self.last_auth_error:
            parts.append(f"last run: {self.last_auth_error}")
        return "; ".join(parts)


@dataclass(slots=True)
class Facts:
    now: datetime
    max_age: timedelta
    spool: SpoolSummary
    db_error: str | None = None
    last_run: queries.RunRow | None = None
    successes: list[AccountSuccess] = field(default_factory=list)
    credentials: list[CredentialHealth] = field(default_factory=list)


def last_successes(conn: Connection, monitored_sources: list[str]) -> list[AccountSuccess]:
    by_account: dict[tuple[str, str], AccountSuccess] = {}
    for broker, account, name, source, at in account_success_rows(conn):
        key = (broker, account)
        found = by_account.get(key)
        if found is None:
            found = by_account[key] = AccountSuccess(broker, account, name, at, [], False)
        found.sources.append(source)
        if source in monitored_sources:
            if not found.monitored or at > found.last_success_at:
                found.last_success_at = at
            found.monitored = True
        elif not found.monitored and at > found.last_success_at:
            found.last_success_at = at
    return list(by_account.values())


def credential_health(app: App, last_run: queries.RunRow | None) -> list[CredentialHealth]:
    """``health()`` of every configured source; a source that cannot be built or checked says why."""
    out = []
    auth_errors = {
        o.get("source"): o.get("error_message")
        for o in (last_run.outcome if last_run else [])
        if isinstance(o, dict) and o.get("error_category") == "auth"
    }
    for name in app.settings.configured_sources:
        item = CredentialHealth(name, checked=False, last_auth_error=auth_errors.get(name))
        source = None
        try:
            source = app.source_factory(name, app.settings)
            health = source.health()
        except Exception as exc:  # a source that is not configured, not available, or whose check broke
            message = getattr(exc, "user_message", None)
            item.detail = f"health check unavailable: {message() if callable(message) else type(exc).__name__}"
        else:
            item.checked = True
            item.reachable, item.authenticated = health.reachable, health.authenticated
            item.detail = health.detail
            item.expires_in_s = health.credential_expires_in_s
        finally:
            close = getattr(source, "close", None)
            if callable(close):
                close()
        out.append(item)
    return out


def collect(app: App, now: datetime, max_age: timedelta, *, with_health: bool = True) -> Facts:
    """Gather everything; a database that cannot be reached is a fact too (``db_error``), not an exception."""
    from portfolio_dashboard.errors import DatabaseError
    from portfolio_dashboard.services.capture import reap_interrupted_runs
    from portfolio_dashboard.storage.engine import db_error_reason

    facts = Facts(now, max_age, Spool(app.settings.spool_dir).summary())
    try:
        app.migrate()
        reap_interrupted_runs(app.engine)
        with app.engine.connect() as conn:
            facts.last_run = queries.last_run(conn)
            facts.successes = last_successes(conn, app.settings.configured_sources)
    except (DatabaseError, SQLAlchemyError) as exc:
        facts.db_error = db_error_reason(exc)
        return facts
    if with_health:
        facts.credentials = credential_health(app, facts.last_run)
    return facts


# --- conditions ----------------------------------------------------------------------------------------
def conditions(facts: Facts) -> list[Condition]:
    now = facts.now
    out = [Condition("database", facts.db_error is not None,
                     "database unreachable" if facts.db_error else "database reachable again",
                     _db_detail(facts))]
    if facts.db_error is not None:
        return out
    run = facts.last_run
    if run is not None and run.status != "running":
        failing = run.status in ("fail", "partial")
        summary = f"capture {'FAILED' if run.status == 'fail' else 'partly failed'}" if failing \
            else "captures succeed again"
        detail = f"run {run.run_id} ({run.trigger_type}) at {run.started_at:%Y-%m-%d %H:%M %Z}"
        if failing and run.error_summary:
            detail = f"{run.error_summary}\n{detail}"
        out.append(Condition("run", failing, summary, detail))
    for a in facts.successes:
        if not a.monitored:
            continue
        label = f"{a.broker}/{a.broker_account_id}"
        stale = a.age(now) > facts.max_age
        summary = (f"{label}: no successful capture for {span(a.age(now))} (limit {span(facts.max_age)})"
                   if stale else f"{label}: captured again")
        out.append(Condition(f"stale:{label}", stale, summary,
                             f"last success {a.last_success_at:%Y-%m-%d %H:%M %Z}"))
    for c in facts.credentials:
        if not c.checked:
            continue  # unknown this time: leave any alert as it is
        soon = c.expires_soon()
        summary = f"{c.source}: {c.describe()}" if soon else f"{c.source}: credential renewed"
        hint = renew_hint(c.source) if soon else ""
        out.append(Condition(f"credential:{c.source}", soon, summary, hint))
    return out


RENEW_HINTS = {
    "schwab": "renew it: `portfolio-dashboard auth schwab` (Schwab refresh tokens last 7 days)",
    "ib_flex": "create a new Flex Web Service token in IB Client Portal and set IB_FLEX_TOKEN",
    "ib_gateway": "log in to the IB Client Portal gateway again",
}


def renew_hint(source: str) -> str:
    return RENEW_HINTS.get(source, f"renew the {source} credential")


def _db_detail(facts: Facts) -> str:
    lines = [facts.db_error or ""]
    if facts.spool.entries:
        lines.append(f"{facts.spool.entries} spooled source capture(s) ({facts.spool.responses} responses) wait "
                     "locally; they are stored by the next capture once the database is back")
    return "\n".join(line for line in lines if line)


# --- running the alerts --------------------------------------------------------------------------------
def run_alerts(app: App, facts: Facts, notifier: Notifier | None = None) -> list[Message]:
    """Evaluate and deliver. Does nothing without ``ALERT_URLS`` (and no notifier given)."""
    if notifier is None:
        urls = app.settings.alert_url_list
        if not urls:
            return []
        notifier = AppriseNotifier(urls)
    conds = conditions(facts)
    tail = footer(facts.now)
    conds = [Condition(c.key, c.active, c.summary, f"{c.detail}\n{tail}".strip()) for c in conds]
    local = [c for c in conds if c.key == "database"]
    shared = [c for c in conds if c.key != "database"]
    sent = evaluate(local, FileStateStore(app.settings.portfolio_data_dir / ALERT_STATE_FILE), notifier, facts.now)
    if facts.db_error is None:
        sent += evaluate(shared, DbStateStore(app.engine), notifier, facts.now,
                         families=("run", "stale", "credential"))
    return sent


def run_alerts_quietly(app: App, now: datetime | None = None) -> None:
    """After a capture: evaluate the alerts; a failure to alert is logged, never fails the capture."""
    if not app.settings.alert_url_list:
        return
    try:
        now = now or datetime.now(UTC)
        facts = collect(app, now, app.settings.alert_max_age_delta)
        run_alerts(app, facts)
    except Exception:
        log.exception("alerts: evaluation failed")


def as_dict(facts: Facts) -> dict[str, Any]:
    return {
        "database_error": facts.db_error,
        "spool": {"runs": facts.spool.runs, "entries": facts.spool.entries, "responses": facts.spool.responses,
                  "corrupt": facts.spool.corrupt, "oldest": facts.spool.oldest},
        "last_success": [
            {"broker": a.broker, "broker_account_id": a.broker_account_id, "name": a.name,
             "last_success_at": a.last_success_at, "age_seconds": int(a.age(facts.now).total_seconds()),
             "sources": a.sources, "monitored": a.monitored}
            for a in facts.successes
        ],
        "credentials": [
            {"source": c.source, "checked": c.checked, "reachable": c.reachable, "authenticated": c.authenticated,
             "detail": c.detail, "expires_in_s": c.expires_in_s, "last_auth_error": c.last_auth_error}
            for c in facts.credentials
        ],
    }
