"""The alert state machine: fires on a change, reminds at most once a day, resolves once; delivery through the
real apprise path to a fake target (tests/fakes/alert_target.py)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from portfolio_dashboard.services.alerts import (
    AlertState,
    AppriseNotifier,
    Condition,
    FileStateStore,
    Message,
    evaluate,
)
from tests.fakes import alert_target

T0 = datetime(2026, 11, 20, 17, 20, tzinfo=UTC)


class MemoryStore:
    def __init__(self) -> None:
        self.states: dict[str, AlertState] = {}
        self.saves = 0

    def load(self) -> dict[str, AlertState]:
        return dict(self.states)

    def save(self, state: AlertState) -> None:
        self.saves += 1
        self.states[state.key] = state


class Outbox:
    def __init__(self, accept: bool = True) -> None:
        self.sent: list[Message] = []
        self.accept = accept

    def __call__(self, message: Message) -> bool:
        self.sent.append(message)
        return self.accept


def failing(active: bool | None) -> Condition:
    return Condition("run", active, "capture FAILED" if active else "captures succeed again", "schwab: auth")


def test_fires_on_change_then_suppresses_then_reminds_daily_then_resolves_once() -> None:
    store, out = MemoryStore(), Outbox()
    evaluate([failing(False)], store, out, T0)
    assert out.sent == []
    assert store.states == {}

    evaluate([failing(True)], store, out, T0)
    assert [m.kind for m in out.sent] == ["firing"]
    assert out.sent[0].title == "FIRING: capture FAILED"
    assert store.states["run"].state == "firing"
    assert store.states["run"].last_sent_at == T0

    for hour in range(1, 24):  # an hourly check for a day: no spam
        evaluate([failing(True)], store, out, T0 + timedelta(hours=hour))
    assert len(out.sent) == 1

    evaluate([failing(True)], store, out, T0 + timedelta(hours=24))
    assert [m.kind for m in out.sent] == ["firing", "reminder"]
    assert "still firing since 2026-11-20 17:20" in out.sent[-1].body
    evaluate([failing(True)], store, out, T0 + timedelta(hours=30))
    assert len(out.sent) == 2  # the next reminder is due 24h after the last one

    evaluate([failing(False)], store, out, T0 + timedelta(hours=31))
    assert [m.kind for m in out.sent][-1] == "resolved"
    assert out.sent[-1].title == "RESOLVED: captures succeed again"
    assert store.states["run"].state == "ok"
    for hour in range(32, 80, 5):
        evaluate([failing(False)], store, out, T0 + timedelta(hours=hour))
    assert len(out.sent) == 3  # one resolved, then silence

    evaluate([failing(True)], store, out, T0 + timedelta(hours=81))
    assert out.sent[-1].kind == "firing"  # a new change of state fires at once


def test_an_undelivered_message_is_retried_until_it_goes_out() -> None:
    store, down = MemoryStore(), Outbox(accept=False)
    evaluate([failing(True)], store, down, T0)
    assert store.states["run"].pending
    assert store.states["run"].last_sent_at is None
    evaluate([failing(True)], store, down, T0 + timedelta(minutes=10))
    assert [m.kind for m in down.sent] == ["firing", "firing"]
    up = Outbox()
    evaluate([failing(True)], store, up, T0 + timedelta(minutes=20))
    evaluate([failing(True)], store, up, T0 + timedelta(minutes=30))
    assert [m.kind for m in up.sent] == ["firing"]
    evaluate([failing(False)], store, down, T0 + timedelta(hours=1))
    evaluate([failing(False)], store, up, T0 + timedelta(hours=2))
    evaluate([failing(False)], store, up, T0 + timedelta(hours=3))
    assert [m.kind for m in up.sent] == ["firing", "resolved"]


def test_unknown_leaves_the_state_and_a_vanished_key_of_a_watched_family_resolves() -> None:
    store, out = MemoryStore(), Outbox()
    evaluate([Condition("credential:schwab", True, "schwab: expires in 30h")], store, out, T0)
    evaluate([Condition("credential:schwab", None, "schwab: check failed")], store, out, T0 + timedelta(hours=1))
    assert store.states["credential:schwab"].state == "firing"
    assert len(out.sent) == 1
    evaluate([Condition("stale:ib/U1", True, "ib/U1: stale")], store, out, T0 + timedelta(hours=2),
             families=("stale",))
    assert store.states["credential:schwab"].state == "firing"  # not a watched family this time
    evaluate([], store, out, T0 + timedelta(hours=3), families=("stale", "credential"))
    assert {k: s.state for k, s in store.states.items()} == {"credential:schwab": "ok", "stale:ib/U1": "ok"}
    assert [m.kind for m in out.sent] == ["firing", "firing", "resolved", "resolved"]


def test_unchanged_state_is_not_rewritten() -> None:
    store, out = MemoryStore(), Outbox()
    evaluate([failing(True)], store, out, T0)
    saves = store.saves
    evaluate([failing(True)], store, out, T0 + timedelta(hours=1))
    assert store.saves == saves


def test_file_store_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = FileStateStore(tmp_path / "state" / "alert-state.json")
    out = Outbox()
    evaluate([Condition("database", True, "database unreachable")], store, out, T0)
    again = FileStateStore(tmp_path / "state" / "alert-state.json").load()
    assert again["database"].state == "firing"
    assert again["database"].since == T0
    assert (tmp_path / "state" / "alert-state.json").stat().st_mode & 0o777 == 0o600


@pytest.fixture
def target() -> None:
    alert_target.reset()


@pytest.mark.usefixtures("target")
def test_apprise_delivery_reports_targets_by_position_and_never_logs_urls(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "tok-9f8e7d6c5b4a"
    notifier = AppriseNotifier([f"pdtest://phone/?token={secret}", "pdtest://fail", f"nosuch://user:{secret}@host"])
    assert notifier.invalid == ["target 3 (nosuch)"]
    results = notifier.send(Message("run", "firing", "FIRING: capture FAILED", "schwab: auth"))
    assert results == [("target 1 (pdtest)", True), ("target 2 (pdtest)", False)]
    assert [(r.target, r.title, r.notify_type) for r in alert_target.received()] == [
        ("phone", "FIRING: capture FAILED", "failure")]
    assert notifier(Message("run", "resolved", "RESOLVED: ok", "")) is True
    assert alert_target.received()[-1].notify_type == "success"
    assert secret not in caplog.text
    assert "pdtest://" not in caplog.text
    assert "nosuch://" not in caplog.text
    assert "target 2 (pdtest) did not accept" in caplog.text
