"""A configuration mistake is one line before anything starts: it names the setting, says what is wrong, shows a
right value, exits 2, writes no run and spools nothing. The real CLI in a subprocess."""

from __future__ import annotations

import psycopg
import pytest

from portfolio_dashboard.config import load_settings
from portfolio_dashboard.errors import ConfigError
from tests.e2e.test_cli import cli

BAD_SETTINGS = [
    ("BROKERS", "nonsense", "BROKERS=ib_flex,schwab"),
    ("PORTFOLIO_TIMEZONE", "Mars/Olympus", "PORTFOLIO_TIMEZONE=Europe/London"),
    ("FX_MAX_AGE", "forever", "FX_MAX_AGE=4d"),
    ("BASE_CURRENCY", "XYZ", "BASE_CURRENCY=GBP"),
    ("RECONCILE_TOLERANCE", "abc", "RECONCILE_TOLERANCE=0.01"),
    ("CAPTURE_TIMEOUT_S", "-5", "CAPTURE_TIMEOUT_S=300"),
    ("ALERT_MAX_AGE", "0h", "ALERT_MAX_AGE=26h"),
]


def run_count(db_url: str) -> int:
    with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        row = conn.execute("SELECT count(*) FROM snapshot_runs").fetchone()
    assert row is not None
    return int(row[0])


def spooled_files(cli_env: dict[str, str]) -> list[str]:
    from pathlib import Path

    spool = Path(cli_env["PORTFOLIO_DATA_DIR"]) / "spool"
    return sorted(str(p) for p in spool.rglob("*") if p.is_file()) if spool.exists() else []


def assert_one_line(out: str, setting: str, example: str) -> None:
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    assert lines[0].startswith(f"error: {setting}") and example in lines[0], out
    assert "Traceback" not in out


@pytest.mark.parametrize(("setting", "value", "example"), BAD_SETTINGS)
def test_a_bad_setting_is_one_line_exit_2_and_no_run(cli_env, db_url, setting, value, example):
    env = dict(cli_env, **{setting: value})
    out = cli(env, "capture")
    assert out.returncode == 2, out.stdout + out.stderr
    assert_one_line(out.stderr, setting, example)
    assert value in out.stderr  # the user sees which value was wrong
    assert out.stdout == ""
    assert run_count(db_url) == 0
    assert spooled_files(cli_env) == []


@pytest.mark.parametrize("url", [
    "not a url",
    "postgres://user:hunter2@db.example:notaport/portfolio",
    "mysql://user:hunter2@db.example/portfolio",
    "postgresql://user:hunter2@db.example:5432/",
])
def test_a_malformed_database_url_is_a_configuration_error_not_an_outage(cli_env, url):
    env = dict(cli_env, DATABASE_URL=url)
    out = cli(env, "capture")
    assert out.returncode == 2, out.stdout + out.stderr
    assert_one_line(out.stderr, "DATABASE_URL", "DATABASE_URL=postgresql://")
    assert "hunter2" not in out.stderr  # the password is never echoed
    assert spooled_files(cli_env) == []  # nothing is spooled for a typo


def test_a_bad_max_age_option_is_one_line_exit_2(cli_env, db_url):
    out = cli(cli_env, "status", "--max-age", "garbage")
    assert out.returncode == 2, out.stdout + out.stderr
    assert_one_line(out.stderr, "--max-age", "--max-age 26h")
    assert "garbage" in out.stderr


def test_every_command_validates_settings_first(cli_env):
    for args in (["status"], ["migrate"], ["spool", "list"], ["db", "url"]):
        out = cli(dict(cli_env, BASE_CURRENCY="XYZ"), *args)
        assert out.returncode == 2, (args, out.stderr)
        assert_one_line(out.stderr, "BASE_CURRENCY", "BASE_CURRENCY=GBP")


def test_valid_values_still_load(monkeypatch):
    monkeypatch.setenv("BROKERS", "ib_flex, schwab")
    monkeypatch.setenv("BASE_CURRENCY", "usd")
    monkeypatch.setenv("FX_MAX_AGE", "36h")
    monkeypatch.setenv("RECONCILE_TOLERANCE", "0.005")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.example:5433/portfolio?sslmode=verify-full")
    settings = load_settings()
    assert settings.brokers == ["ib_flex", "schwab"]
    assert settings.base_currency == "USD"
    assert settings.fx_max_age_delta.total_seconds() == 36 * 3600
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value().startswith("postgresql+psycopg://u:p@db.example:5433/")


def test_the_error_carries_the_setting_and_never_a_secret(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:s3cret@db.example:99999/portfolio")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "DATABASE_URL" in str(caught.value) and "s3cret" not in str(caught.value)
