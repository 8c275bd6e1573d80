"""The deploy/ files: systemd units that systemd accepts (``systemd-analyze verify`` where available, a parser
check always), whose commands exist and parse with our own CLI; the crontab equivalent; the env template."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command

from portfolio_dashboard.cli import app as cli_app
from portfolio_dashboard.config import Settings

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "deploy" / "systemd"
CRON = ROOT / "deploy" / "cron" / "portfolio-dashboard"
INSTALLED = "/opt/portfolio-dashboard/bin/portfolio-dashboard"  # the documented install location
ENV_FILE = "/etc/portfolio-dashboard/portfolio-dashboard.env"
UNITS = ("portfolio-dashboard-capture.service", "portfolio-dashboard-capture.timer", "portfolio-dashboard.service")
SECTIONS = {"service": ("Unit", "Service"), "timer": ("Unit", "Timer", "Install")}


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """systemd's unit syntax: [Section], Key=Value (keys may repeat), # and ; comments, \\ continuations."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    pending = ""
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = pending + raw.strip()
        pending = ""
        if not line or line[0] in "#;":
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("["):
            assert line.endswith("]"), f"{path.name}:{number}: bad section header"
            current = line[1:-1]
            assert current not in sections, f"{path.name}:{number}: section [{current}] twice"
            sections[current] = []
            continue
        assert current is not None, f"{path.name}:{number}: key outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}:{number}: not Key=Value: {line!r}"
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key.strip()), f"{path.name}:{number}: bad key {key!r}"
        sections[current].append((key.strip(), value.strip()))
    return sections


def values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def parse_cli(argv: list[str]) -> str:
    """Parse a command line with the real CLI (no side effects); return the subcommand's name."""
    group = get_command(cli_app)
    ctx = group.make_context("portfolio-dashboard", list(argv))
    rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
    name, command, args = group.resolve_command(ctx, rest)
    assert command is not None
    assert name is not None
    command.make_context(name, args, parent=ctx)
    return name


def test_units_parse_and_have_what_unattended_operation_needs() -> None:
    capture = parse_unit(SYSTEMD / "portfolio-dashboard-capture.service")
    timer = parse_unit(SYSTEMD / "portfolio-dashboard-capture.timer")
    dashboard = parse_unit(SYSTEMD / "portfolio-dashboard.service")
    assert set(capture) == {"Unit", "Service"}
    assert set(timer) == {"Unit", "Timer", "Install"}
    assert set(dashboard) == {"Unit", "Service", "Install"}
    assert values(capture, "Service", "Type") == ["oneshot"]
    assert values(capture, "Service", "TimeoutStartSec") == ["20min"]  # the run timeout
    assert values(timer, "Timer", "Persistent") == ["true"]
    assert values(timer, "Timer", "RandomizedDelaySec")
    assert values(timer, "Timer", "Unit") == ["portfolio-dashboard-capture.service"]
    (calendar,) = values(timer, "Timer", "OnCalendar")
    assert calendar.endswith("17:15:00 Europe/London")  # after the London close, whatever the Pi's zone
    for unit in (capture, dashboard):
        assert values(unit, "Service", "EnvironmentFile") == [ENV_FILE]
        assert values(unit, "Service", "User") == ["portfolio"]
        assert "network-online.target" in values(unit, "Unit", "After")[0]
        for key, value in unit["Service"]:
            assert "DATABASE_URL" not in value, f"{key}: settings belong in the env file"
            assert "TOKEN" not in value, f"{key}: secrets belong in the env file"
    assert values(dashboard, "Service", "Restart") == ["on-failure"]


@pytest.mark.parametrize("unit", ["portfolio-dashboard-capture.service", "portfolio-dashboard.service"])
def test_exec_start_runs_an_existing_command_of_our_cli(unit: str) -> None:
    (exec_start,) = values(parse_unit(SYSTEMD / unit), "Service", "ExecStart")
    argv = shlex.split(exec_start)
    assert argv[0] == INSTALLED
    expected = {"portfolio-dashboard-capture.service": "capture", "portfolio-dashboard.service": "serve"}[unit]
    assert parse_cli(argv[1:]) == expected
    if expected == "capture":
        assert argv[-2:] == ["--trigger", "scheduled"]
        assert argv[1:3] == ["--log-format", "json"]
    installed = shutil.which("portfolio-dashboard", path=str(Path(sys.executable).parent))
    assert installed is not None  # the entry point that `uv tool install` puts at INSTALLED


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here; the parser checks above still ran")
    entry = shutil.which("portfolio-dashboard", path=str(Path(sys.executable).parent))
    assert entry is not None
    env = tmp_path / "portfolio-dashboard.env"
    env.write_text("PORTFOLIO_DATA_DIR=/tmp/unused\n")
    for name in UNITS:
        text = (SYSTEMD / name).read_text().replace(INSTALLED, entry).replace(ENV_FILE, str(env))
        (tmp_path / name).write_text(text)
    result = subprocess.run([analyze, "verify", "--man=no", *(str(tmp_path / n) for n in UNITS)],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Unknown" not in output, output
    assert "Failed" not in output, output


def test_cron_line_is_the_timer_with_a_lock_and_a_timeout() -> None:
    lines = [line for line in CRON.read_text().splitlines() if line.strip() and not line.startswith("#")]
    jobs = [line for line in lines if "=" not in line.split()[0]]
    (job,) = jobs
    minute, hour, dom, month, dow, user, command = job.split(None, 6)
    assert (minute, hour, dom, month, dow, user) == ("15", "17", "*", "*", "*", "portfolio")
    assert "%" not in command  # cron turns % into a newline
    for tool in ("flock", "timeout", "shuf", "logger", "sh", "sleep"):
        assert re.search(rf"(^|[\s;(]){tool}\s", command), tool
        assert shutil.which(tool), f"{tool} is not installed"
    assert "flock -n /var/lib/portfolio-dashboard/capture.lock timeout 20m" in command
    inner = re.search(r"sh -c '(.*)'", command)
    assert inner is not None
    steps = [s.strip() for s in inner.group(1).split(";")]
    assert steps[:3] == ["set -a", f". {ENV_FILE}", "set +a"]
    argv = shlex.split(steps[3].removeprefix("exec "))
    assert argv[0] == INSTALLED
    assert parse_cli(argv[1:]) == "capture"
    assert argv[-2:] == ["--trigger", "scheduled"]


def test_env_example_names_only_real_settings() -> None:
    known = {name.upper() for name in Settings.model_fields}
    keys = []
    for line in (SYSTEMD / "portfolio-dashboard.env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep
            assert " " not in value or value.startswith("'"), f"{key}: quote values with spaces"
            keys.append(key)
    assert set(keys) <= known, set(keys) - known
    assert {"PORTFOLIO_DATA_DIR", "DATABASE_URL", "ALERT_URLS", "ALERT_MAX_AGE"} <= set(keys)
