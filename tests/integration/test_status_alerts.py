"""`status` and the alerts on a real database: exit codes, last success per account, credential health, and
the alert state machine firing, suppressing and resolving through apprise to a fake target."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from portfolio_dashboard.bootstrap import App, get_app
from portfolio_dashboard.brokers.base import FetchContext, Recorder, SourceHealth
from portfolio_dashboard.brokers.demo import DemoSource
from portfolio_dashboard.config import Settings, load_settings
from portfolio_dashboard.domain import ParseResult, RawResponse, TriggerContext
from portfolio_dashboard.errors import AuthError, ConfigError
from portfolio_dashboard.local.spool import RunMeta, RunSpooler, Spool
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.services.monitoring import collect, run_alerts
from portfolio_dashboard.services.reporting import status_report
from tests.fakes import alert_target
from tests.fakes.pgserver import free_port

DAY = timedelta(hours=26)


class BrokenSchwab:
    name = "schwab"
    broker = "schwab"
    parser_version = "1"

    def fetch(self, record: Recorder, ctx: FetchContext) -> None:
        raise AuthError("refresh token expired", source="schwab", hint="run `portfolio-dashboard auth schwab`")

    def parse(self, raws: Sequence[RawResponse]) -> ParseResult:
        return ParseResult()

    def health(self) -> SourceHealth:
        return SourceHealth("schwab", True, False, "refresh token expired", credential_expires_in_s=-60)


class ExpiringDemo(DemoSource):
    expires_in_s: float | None = 30 * 3600

    def health(self) -> SourceHealth:
        return SourceHealth("demo", True, True, "token ok", credential_expires_in_s=self.expires_in_s)


def changed(settings: Settings, **changes: object) -> Settings:
    return load_settings(**{**settings.model_dump(), **changes}, _env_file=None)


def make_app(settings: Settings, **changes: object) -> App:
    return App(changed(settings, **changes))


def age_runs(app: App, by: timedelta) -> None:
    with app.engine.begin() as conn:
        conn.execute(text("UPDATE snapshot_runs SET started_at = started_at - :d, finished_at = finished_at - :d"),
                     {"d": by})


def test_status_exit_codes(settings: Settings, tmp_path: Path) -> None:
    app = make_app(settings)
    now = lambda: datetime.now(UTC)  # noqa: E731
    assert status_report(app, DAY, now=now()).outcome == "fail"  # no run yet

    capture(TriggerContext(sources=("demo",)), app=app)
    report = status_report(app, DAY, now=now())
    assert report.outcome == "success", report.text()
    assert [a.broker_account_id for a in report.facts.successes] == ["DEMO-EU-01", "DEMO-ISA-01", "DEMO-US-01"]
    assert "last successful capture:" in report.text()
    assert "credentials:" in report.text()

    capture(TriggerContext(), app=app, sources={"demo": DemoSource(), "schwab": BrokenSchwab()})
    report = status_report(app, DAY, now=now())
    assert report.outcome == "degraded", report.text()
    assert "partial" in report.notices[0]

    capture(TriggerContext(), app=app, sources={"schwab": BrokenSchwab()})
    report = status_report(app, DAY, now=now())
    assert report.outcome == "fail"
    assert "the last run failed" in report.problems[0]
    assert "schwab: auth: refresh token expired" in report.text()

    capture(TriggerContext(sources=("demo",)), app=app)
    age_runs(app, timedelta(hours=30))
    report = status_report(app, DAY, now=now())
    assert report.outcome == "fail"
    assert sorted(p.split(":")[0] for p in report.problems) == [
        "demo/DEMO-EU-01", "demo/DEMO-ISA-01", "demo/DEMO-US-01"], report.problems
    assert "no successful capture for 1d 6h" in report.problems[0]

    capture(TriggerContext(sources=("demo",)), app=app)
    spooler = RunSpooler(Spool(app.settings.spool_dir), RunMeta(
        uuid.uuid4(), "manual", None, ("demo",), now(), "h", 1, "0", "0003"))
    spooler.spool_source("demo", "1", [], kind="raws", outcome={"source": "demo"})
    spooler.close()
    report = status_report(app, DAY, now=now())
    assert report.outcome == "degraded"
    assert "spooled" in report.notices[0]
    app.dispose()

    down = make_app(settings, database_url=f"postgresql://u:pw-hidden@127.0.0.1:{free_port()}/x")
    report = status_report(down, DAY, now=now())
    assert report.outcome == "fail"
    assert report.problems[0].startswith("database unreachable: cannot connect to "
                                                                   "PostgreSQL at 127.0.0.1:")
    assert "pw-hidden" not in report.text()
    down.dispose()


def test_credential_health_is_reported_and_an_expired_one_is_a_problem(settings: Settings) -> None:
    def factory(name: str, s: Settings):  # type: ignore[no-untyped-def]
        if name == "ib_flex":
            raise ConfigError("IB_FLEX_TOKEN is not set")
        return BrokenSchwab() if name == "schwab" else ExpiringDemo()

    app = App(changed(settings, brokers=["demo", "schwab", "ib_flex"]), source_factory=factory)
    capture(TriggerContext(), app=app, sources={"demo": ExpiringDemo(), "schwab": BrokenSchwab()})
    report = status_report(app, DAY, now=datetime.now(UTC))
    by_source = {c.source: c for c in report.facts.credentials}
    assert by_source["demo"].expires_in_s == 30 * 3600
    assert by_source["demo"].expires_soon()
    assert by_source["schwab"].last_auth_error is not None
    assert "credential EXPIRED" in by_source["schwab"].describe()
    assert not by_source["ib_flex"].checked
    assert "IB_FLEX_TOKEN is not set" in by_source["ib_flex"].describe()
    assert any(p.startswith("schwab: credential expired — renew it: `portfolio-dashboard auth schwab`")
               for p in report.problems), report.problems
    assert "demo: token ok; credential expires in 1d 6h" in report.notices
    app.dispose()


@pytest.fixture
def alerting(settings: Settings) -> Settings:
    alert_target.reset()
    return changed(settings, alert_urls="pdtest://ops")


def messages() -> list[str]:
    return [r.title for r in alert_target.received("ops")]


def test_alerts_fire_suppress_and_resolve(alerting: Settings) -> None:
    expiring = ExpiringDemo()

    def factory(name: str, s: Settings):  # type: ignore[no-untyped-def]
        return expiring

    app = App(alerting, source_factory=factory)
    t = datetime.now(UTC)

    def check(at: datetime) -> None:
        run_alerts(app, collect(app, at, app.settings.alert_max_age_delta))

    capture(TriggerContext(), app=app, sources={"schwab": BrokenSchwab()})
    check(t)
    assert messages() == ["FIRING: demo: token ok; credential expires in 1d 6h", "FIRING: capture FAILED"]
    check(t + timedelta(hours=1))
    check(t + timedelta(hours=5))
    assert len(messages()) == 2  # still failing, but not a day yet: nothing more

    capture(TriggerContext(), app=app)
    expiring.expires_in_s = 7 * 86400
    check(t + timedelta(hours=6))
    assert messages()[2:] == ["RESOLVED: demo: credential renewed", "RESOLVED: captures succeed again"]

    check(t + timedelta(hours=40))  # 40h without a success: every demo account is stale
    stale = [m for m in messages() if "no successful capture" in m]
    assert len(stale) == 3
    assert all(m.startswith("FIRING: demo/DEMO-") for m in stale)
    check(t + timedelta(hours=41))
    assert len([m for m in messages() if "no successful capture" in m]) == 3
    with app.engine.connect() as conn:
        states = dict(conn.execute(text("SELECT alert_key, state FROM alert_state")).all())
    assert states == {"run": "ok", "credential:demo": "ok", "stale:demo/DEMO-EU-01": "firing",
                      "stale:demo/DEMO-ISA-01": "firing", "stale:demo/DEMO-US-01": "firing"}
    app.dispose()


def test_database_alert_uses_local_state_and_resolves_when_back(alerting: Settings) -> None:
    down = make_app(alerting, database_url=f"postgresql://u:pw-hidden@127.0.0.1:{free_port()}/x")
    run_alerts(down, collect(down, datetime.now(UTC), DAY))
    run_alerts(down, collect(down, datetime.now(UTC), DAY))
    assert messages() == ["FIRING: database unreachable"]
    body = alert_target.received("ops")[0].body
    assert "127.0.0.1" in body
    assert "pw-hidden" not in body
    down.dispose()
    up = make_app(alerting)
    capture(TriggerContext(sources=("demo",)), app=up)
    run_alerts(up, collect(up, datetime.now(UTC), DAY))
    assert messages() == ["FIRING: database unreachable", "RESOLVED: database reachable again"]
    up.dispose()


def test_alerts_test_command_sends_and_reports_each_target(alerting: Settings) -> None:
    from portfolio_dashboard.cli import app as cli

    get_app(changed(alerting, alert_urls="pdtest://ops pdtest://fail"))
    result = CliRunner().invoke(cli, ["alerts", "test"])
    assert result.exit_code == 2  # partial: one target accepted it, one did not
    assert "target 1 (pdtest): sent" in result.output
    assert "target 2 (pdtest): FAILED" in result.output
    assert "pdtest://" not in result.output
    assert messages() == ["Portfolio Dashboard: test alert"]
    get_app(changed(alerting, alert_urls=None))
    result = CliRunner().invoke(cli, ["alerts", "test"])
    assert result.exit_code == 2  # a configuration mistake
    assert "ALERT_URLS is empty" in result.output
    get_app().dispose()


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portfolio_dashboard", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_status_and_capture_cli_exit_codes(cli_env: dict[str, str], settings: Settings) -> None:
    """The scheduler's entry point for real (subprocess), then `status` through the CLI layer in-process."""
    from portfolio_dashboard.cli import app as cli

    env = {**cli_env, "LOG_FORMAT": "json"}
    captured = _cli(env, "capture", "--trigger", "scheduled", "--source", "demo")
    assert captured.returncode == 0, captured.stderr
    lines = [line for line in captured.stderr.splitlines() if line.strip()]
    assert len(lines) >= 4
    assert all(line.startswith("{") for line in lines)
    assert any("fetched 1 response(s)" in line for line in lines)
    down = {**env, "DATABASE_URL": f"postgres://u:pw-hidden@127.0.0.1:{free_port()}/x"}
    spooled = _cli(down, "capture", "--trigger", "scheduled", "--source", "demo")
    assert spooled.returncode == 1
    assert "error: database unreachable" in spooled.stderr
    assert "spool replay" in spooled.stderr
    assert "127.0.0.1" in spooled.stderr
    assert "pw-hidden" not in spooled.stdout + spooled.stderr

    runner = CliRunner()
    get_app(settings)
    waiting = runner.invoke(cli, ["status", "--no-alerts"])
    assert waiting.exit_code == 2, waiting.output
    assert "spooled capture(s) wait" in waiting.output
    assert runner.invoke(cli, ["spool", "replay"]).exit_code == 0
    healthy = runner.invoke(cli, ["status", "--json"])
    assert healthy.exit_code == 0, healthy.output
    get_app(changed(settings, database_url=f"postgresql://u:pw-hidden@127.0.0.1:{free_port()}/x"))
    unreachable = runner.invoke(cli, ["status"])
    assert unreachable.exit_code == 1
    assert "database: UNREACHABLE" in unreachable.output
    assert "pw-hidden" not in unreachable.output
    get_app().dispose()
