"""The CLI's commands in-process (Typer's ``CliRunner``) against a real database: what each prints and its
exit status. The installed entry point itself is exercised in a subprocess by ``tests/e2e/test_cli.py``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from portfolio_dashboard.bootstrap import App, get_app
from portfolio_dashboard.cli import app as cli_app
from portfolio_dashboard.config import load_settings


def cli(*args: str) -> Result:
    return CliRunner().invoke(cli_app, list(args))


def test_every_command_has_help():
    top = cli("--help")
    assert top.exit_code == 0
    for name in ["serve", "migrate", "capture", "status", "db", "demo", "spool", "alerts", "reprocess", "auth",
                 "mapping", "fx"]:
        assert name in top.stdout
    for args in (["serve"], ["migrate"], ["capture"], ["status"], ["db", "url"], ["demo", "seed"], ["demo", "clear"],
                 ["spool", "replay"], ["spool", "list"], ["alerts", "test"], ["alerts", "list"], ["reprocess"],
                 ["auth", "schwab"], ["fx", "set"], ["fx", "list"]):
        out = cli(*args, "--help")
        assert out.exit_code == 0, out.output
        assert "Usage" in out.stdout
        # a real sentence of help under the usage line, not an empty docstring
        lines = [line.strip() for line in out.stdout.splitlines() if line.strip()]
        assert len(lines[1]) > 15, f"{args} has no help text"


def test_capture_with_demo_then_status_shows_values(app: App):
    first = cli("capture")
    assert first.exit_code == 0, first.output
    assert "SUCCESS" in first.stdout and "demo: ok" in first.stdout
    status = cli("status")
    assert status.exit_code == 0, status.output
    assert "DEMO-ISA-01" in status.stdout and "£" in status.stdout and "total: £" in status.stdout
    as_json = json.loads(cli("status", "--json").stdout)
    assert as_json["healthy"] is True
    assert {a["broker_account_id"] for a in as_json["accounts"]} == {"DEMO-ISA-01", "DEMO-US-01", "DEMO-EU-01"}


def test_capture_json_and_exit_codes(app: App):
    out = cli("capture", "--json", "--trigger", "scheduled")
    data = json.loads(out.stdout)
    assert out.exit_code == 0 and data["status"] == "success" and data["exit_code"] == 0
    bad = cli("capture", "--source", "nope")
    assert bad.exit_code == 2 and "unknown source" in bad.stderr
    # a configured source without its settings fails the run cleanly (exit 1, no traceback)
    flex = cli("capture", "--source", "ib_flex")
    assert flex.exit_code == 1
    assert flex.exception is None or isinstance(flex.exception, SystemExit)
    assert "Traceback" not in flex.output


def test_status_fails_when_nothing_ran_or_too_old(app: App):
    none = cli("status")
    assert none.exit_code == 1 and "no capture has run yet" in none.stdout
    assert cli("capture").exit_code == 0
    stale = cli("status", "--max-age", "0s")
    assert stale.exit_code == 1 and "PROBLEM" in stale.stdout


def test_demo_seed_and_clear(app: App):
    seeded = cli("demo", "seed", "--days", "30")
    assert seeded.exit_code == 0 and "90 snapshots" in seeded.stdout
    again = cli("demo", "seed", "--days", "30")
    assert again.exit_code == 0 and "0 snapshots" in again.stdout  # idempotent
    cleared = cli("demo", "clear")
    assert cleared.exit_code == 0 and "90 snapshots" in cleared.stdout


@pytest.fixture
def remote_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    app = get_app(load_settings(database_url=request.param, portfolio_data_dir=tmp_path / "data", _env_file=None))
    yield app
    app.dispose()


@pytest.mark.parametrize("remote_app", ["postgres://u:hunter2@db.example:5432/p", "postgresql://u:hunter2@db.example/p"],
                         indirect=True)
def test_db_url_masks_password(remote_app: App):
    masked = cli("db", "url")
    assert masked.exit_code == 0, masked.output
    assert "hunter2" not in masked.stdout and "***" in masked.stdout and "db.example" in masked.stdout
    shown = cli("db", "url", "--show-password")
    assert "hunter2" in shown.stdout
