"""Alerts: an explicit state machine per alert key, delivered through apprise to the URLs in ``ALERT_URLS``.

Keys and what makes them fire (conditions come from ``monitoring.py``):

    run                          the last capture run failed or was partial
    stale:<broker>/<account>     no successful capture of the account within ALERT_MAX_AGE (default 26h)
    credential:<source>          a credential expires within 48 hours (or has expired)
    database                     PostgreSQL unreachable from this machine (state kept in a local file, as
                                 the database cannot hold it then)

States are ``ok`` and ``firing``. A change ok -> firing sends a FIRING message; while it keeps firing a
reminder goes out at most once a day (however often ``status`` or the timer evaluates); firing -> ok sends
one RESOLVED. A message apprise could not deliver stays ``pending`` and is retried at the next evaluation.
A condition that could not be evaluated (a health check that failed to run) leaves its state untouched.

The URLs embed tokens and passwords: they are never logged or printed; targets are named by position and
scheme ("target 2 (ntfy)").
"""

from __future__ import annotations

import json
import logging
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlalchemy import Engine

from portfolio_dashboard.errors import scrub_secrets
from portfolio_dashboard.formatting import span
from portfolio_dashboard.local.files import ensure_private_dir, write_atomic
from portfolio_dashboard.storage.alert_state import load_alert_states, save_alert_state

log = logging.getLogger(__name__)

REMIND_EVERY = timedelta(days=1)
CREDENTIAL_WARN = timedelta(hours=48)
LOCAL_KEYS = ("database",)  # evaluated when the database is away: their state lives in a local file

State = Literal["ok", "firing"]
Kind = Literal["firing", "reminder", "resolved", "test"]


@dataclass(frozen=True, slots=True)
class Condition:
    """What one evaluation found for one key. ``active=None``: unknown this time (leave the state alone)."""

    key: str
    active: bool | None
    summary: str  # one line: the title's subject
    detail: str = ""


@dataclass(frozen=True, slots=True)
class AlertState:
    key: str
    state: State
    since: datetime
    last_sent_at: datetime | None
    pending: bool  # this state's message has not been delivered yet
    message: str | None


@dataclass(frozen=True, slots=True)
class Message:
    key: str
    kind: Kind
    title: str
    body: str

    @property
    def failure(self) -> bool:
        return self.kind in ("firing", "reminder")


Notifier = Callable[[Message], bool]  # True when at least one target accepted the message


# --- the state machine (pure) --------------------------------------------------------------------------
def decide(prev: AlertState | None, cond: Condition, now: datetime) -> tuple[AlertState | None, Message | None]:
    """The next state of ``cond.key`` and the message to send (if any). Delivery is recorded by ``delivered``."""
    text_ = f"{cond.summary}\n{cond.detail}".strip()
    if cond.active is None:
        return prev, None
    if cond.active:
        if prev is None or prev.state == "ok":
            new = AlertState(cond.key, "firing", now, None, True, text_)
            return new, Message(cond.key, "firing", f"FIRING: {cond.summary}", text_)
        due = prev.pending or prev.last_sent_at is None or now - prev.last_sent_at >= REMIND_EVERY
        new = replace(prev, message=text_)
        if not due:
            return new, None
        kind: Kind = "firing" if prev.last_sent_at is None else "reminder"
        body = text_ if kind == "firing" else f"{text_}\n(still firing since {prev.since:%Y-%m-%d %H:%M} UTC, " \
                                                f"{span(now - prev.since)})"
        title = f"FIRING: {cond.summary}" if kind == "firing" else f"STILL FIRING: {cond.summary}"
        return replace(new, pending=True), Message(cond.key, kind, title, body)
    if prev is None:
        return None, None
    if prev.state == "firing":
        lasted = span(now - prev.since)
        body = f"{cond.summary}\n(was firing since {prev.since:%Y-%m-%d %H:%M} UTC, {lasted})"
        new = AlertState(cond.key, "ok", now, prev.last_sent_at, True, body)
        return new, Message(cond.key, "resolved", f"RESOLVED: {cond.summary}", body)
    if prev.pending and prev.message:  # a RESOLVED not delivered yet
        return prev, Message(cond.key, "resolved", f"RESOLVED: {cond.summary}", prev.message)
    return prev, None


def delivered(state: AlertState, ok: bool, now: datetime) -> AlertState:
    return replace(state, pending=False, last_sent_at=now) if ok else state


# --- state stores --------------------------------------------------------------------------------------
class StateStore(Protocol):
    def load(self) -> dict[str, AlertState]: ...

    def save(self, state: AlertState) -> None: ...


class DbStateStore:
    """``alert_state`` in PostgreSQL: shared by every machine that captures or checks."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def load(self) -> dict[str, AlertState]:
        with self.engine.connect() as conn:
            return {r[0]: AlertState(r[0], r[1], r[2], r[3], r[4], r[5]) for r in load_alert_states(conn)}  # type: ignore[arg-type]

    def save(self, state: AlertState) -> None:
        with self.engine.begin() as conn:
            save_alert_state(conn, (state.key, state.state, state.since, state.last_sent_at, state.pending,
                                    state.message))


class FileStateStore:
    """A JSON file (0600, written atomically) for keys evaluated while the database is unreachable."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, AlertState]:
        try:
            data = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return {}
        except ValueError:
            log.error("alert state file %s is unreadable; starting afresh", self.path.name)
            return {}
        out = {}
        for key, s in data.items():
            sent = s.get("last_sent_at")
            out[key] = AlertState(key, s["state"], datetime.fromisoformat(s["since"]),
                                  datetime.fromisoformat(sent) if sent else None, bool(s["pending"]), s.get("message"))
        return out

    def save(self, state: AlertState) -> None:
        states = self.load()
        states[state.key] = state
        doc = {
            k: {"state": s.state, "since": s.since.isoformat(), "pending": s.pending, "message": s.message,
                "last_sent_at": s.last_sent_at.isoformat() if s.last_sent_at else None}
            for k, s in states.items()
        }
        ensure_private_dir(self.path.parent)
        write_atomic(self.path, json.dumps(doc, indent=1).encode())


# --- delivery ------------------------------------------------------------------------------------------
def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else "?"


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S*")


class _RedactUrls(logging.Filter):
    """apprise's own log lines show URLs half-masked (``user:p...w@host``): show none of it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "://" in message:
            record.msg, record.args = _URL.sub("<alert URL>", message), None
        return True


_REDACT = _RedactUrls()


class AppriseNotifier:
    """Sends to every URL; a URL apprise cannot load is reported by position and scheme, never in full."""

    def __init__(self, urls: Sequence[str]) -> None:
        logging.getLogger("apprise").addFilter(_REDACT)  # before the import: apprise logs while loading
        import apprise

        self._apprise = apprise
        self.targets: list[tuple[str, Any]] = []
        self.invalid: list[str] = []
        for i, url in enumerate(urls, start=1):
            label = f"target {i} ({_scheme(url)})"
            plugin = apprise.Apprise.instantiate(url)
            if plugin is None:
                self.invalid.append(label)
                log.error("alerts: %s is not a valid apprise URL; see https://github.com/caronc/apprise/wiki", label)
            else:
                self.targets.append((label, plugin))

    def send(self, message: Message) -> list[tuple[str, bool]]:
        kinds = self._apprise.NotifyType
        kind = {"firing": kinds.FAILURE, "reminder": kinds.WARNING, "resolved": kinds.SUCCESS}.get(
            message.kind, kinds.INFO)
        results = []
        for label, plugin in self.targets:
            try:
                # the message is built from the run record (scrubbed already); scrubbed again at the boundary
                ok = bool(plugin.notify(body=scrub_secrets(message.body or message.title),
                                        title=scrub_secrets(message.title), notify_type=kind))
            except Exception as exc:  # a plugin bug must not stop the others
                log.error("alerts: %s raised %s", label, type(exc).__name__)
                ok = False
            if not ok:
                log.error("alerts: %s did not accept the %s message for %s", label, message.kind, message.key)
            results.append((label, ok))
        return results

    def __call__(self, message: Message) -> bool:
        return any(ok for _label, ok in self.send(message))


# --- evaluation ----------------------------------------------------------------------------------------
def family(key: str) -> str:
    return key.split(":", 1)[0]


def evaluate(
    conditions: Iterable[Condition],
    store: StateStore,
    notify: Notifier,
    now: datetime,
    families: Iterable[str] = (),
) -> list[Message]:
    """Advance every key's state, send what is due, persist; return the messages sent (delivered or not).

    A firing key of one of ``families`` that no condition mentions any more (an account no longer captured,
    a source removed from BROKERS) resolves.
    """
    conds = {c.key: c for c in conditions}
    states = store.load()
    watched = set(families)
    for key, st in states.items():
        if key not in conds and family(key) in watched and (st.state == "firing" or st.pending):
            conds[key] = Condition(key, False, f"{key}: no longer monitored")
    sent = []
    for key in sorted(conds):
        cond = conds[key]
        prev = states.get(key)
        new, message = decide(prev, cond, now)
        if message is not None:
            ok = notify(message)
            sent.append(message)
            assert new is not None
            new = delivered(new, ok, now)
            log.info("alert %s: %s %s", key, message.kind, "sent" if ok else "NOT delivered (will retry)")
        if new is not None and new != prev:
            store.save(new)
    return sent


def footer(now: datetime) -> str:
    return f"— portfolio-dashboard on {socket.gethostname()} at {now.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def test_message(now: datetime) -> Message:
    return Message("test", "test", "Portfolio Dashboard: test alert",
                   f"This is a test: alerts reach you here.\n{footer(now)}")
