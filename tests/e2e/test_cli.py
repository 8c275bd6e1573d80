"""The real `portfolio-dashboard` command in a subprocess against a real database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portfolio_dashboard", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_every_command_has_help(cli_env):
    top = cli(cli_env, "--help")
    assert top.returncode == 0
    commands = ["serve", "migrate", "capture", "status", "db", "demo"]
    for name in commands:
        assert name in top.stdout
    for args in (["serve"], ["migrate"], ["capture"], ["status"], ["db", "url"], ["demo", "seed"], ["demo", "clear"]):
        out = cli(cli_env, *args, "--help")
        assert out.returncode == 0, out.stderr
        assert "Usage" in out.stdout
        # a real sentence of help under the usage line, not an empty docstring
        lines = [line.strip() for line in out.stdout.splitlines() if line.strip()]
        assert not lines[1].startswith(("╭", "│")), f"{args} has no help text"
        assert len(lines[1]) > 15


def test_version(cli_env):
    out = cli(cli_env, "--version")
    assert out.returncode == 0 and out.stdout.startswith("portfolio-dashboard ")


def test_capture_with_demo_then_status_shows_values(cli_env):
    first = cli(cli_env, "capture")
    assert first.returncode == 0, first.stderr
    assert "SUCCESS" in first.stdout and "demo: ok" in first.stdout
    status = cli(cli_env, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "DEMO-ISA-01" in status.stdout and "£" in status.stdout and "total: £" in status.stdout
    as_json = json.loads(cli(cli_env, "status", "--json").stdout)
    assert as_json["healthy"] is True
    assert {a["broker_account_id"] for a in as_json["accounts"]} == {"DEMO-ISA-01", "DEMO-US-01", "DEMO-EU-01"}


def test_capture_json_and_exit_codes(cli_env):
    out = cli(cli_env, "capture", "--json", "--trigger", "scheduled")
    data = json.loads(out.stdout)
    assert out.returncode == 0 and data["status"] == "success" and data["exit_code"] == 0
    bad = cli(cli_env, "capture", "--source", "nope")
    assert bad.returncode == 1 and "unknown source" in bad.stderr
    # a configured source without its settings fails the run cleanly (exit 1, no traceback)
    flex = cli(cli_env, "capture", "--source", "ib_flex")
    assert flex.returncode == 1
    assert "Traceback" not in flex.stderr + flex.stdout


def test_status_fails_when_nothing_ran_or_too_old(cli_env):
    none = cli(cli_env, "status")
    assert none.returncode == 1 and "no capture has run yet" in none.stdout
    assert cli(cli_env, "capture").returncode == 0
    stale = cli(cli_env, "status", "--max-age", "0s")
    assert stale.returncode == 1 and "PROBLEM" in stale.stdout


def test_demo_seed_and_clear(cli_env):
    seeded = cli(cli_env, "demo", "seed", "--days", "30")
    assert seeded.returncode == 0 and "90 snapshots" in seeded.stdout
    again = cli(cli_env, "demo", "seed", "--days", "30")
    assert again.returncode == 0 and "0 snapshots" in again.stdout  # idempotent
    cleared = cli(cli_env, "demo", "clear")
    assert cleared.returncode == 0 and "90 snapshots" in cleared.stdout


@pytest.mark.parametrize("url", ["postgres://u:hunter2@db.example:5432/p", "postgresql://u:hunter2@db.example/p"])
def test_db_url_masks_password(cli_env, url):
    env = dict(cli_env, DATABASE_URL=url)
    masked = cli(env, "db", "url")
    assert masked.returncode == 0, masked.stderr
    assert "hunter2" not in masked.stdout and "***" in masked.stdout and "db.example" in masked.stdout
    shown = cli(env, "db", "url", "--show-password")
    assert "hunter2" in shown.stdout
