"""The installed command in a subprocess: the entry point, its start-up, and what only a fresh process shows
(the commands themselves run in-process in ``tests/integration/test_cli_commands.py``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portfolio_dashboard", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def test_version(cli_env):
    out = cli(cli_env, "--version")
    assert out.returncode == 0 and out.stdout.startswith("portfolio-dashboard ")


def test_help_loads_no_heavy_library(cli_env):
    # --help must answer before SQLAlchemy, Alembic, pydantic-settings, pandas, Streamlit or httpx load
    probe = ("import sys, runpy; sys.argv = ['portfolio-dashboard', '--help']\n"
             "try:\n    runpy.run_module('portfolio_dashboard', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "heavy = ['sqlalchemy', 'alembic', 'pydantic_settings', 'pandas', 'streamlit', 'httpx', 'psycopg']\n"
             "print('HEAVY=' + ','.join(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=cli_env, capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert "Usage" in out.stdout
    loaded = out.stdout.rsplit("HEAVY=", 1)[1].strip()
    assert loaded == "", f"--help imported: {loaded}"


def test_a_database_error_is_one_line_not_a_traceback(cli_env):
    env = dict(cli_env, DATABASE_URL="postgresql://u:pw@127.0.0.1:9/nothing")
    out = cli(env, "status", "--no-health", "--no-alerts")
    assert out.returncode == 1
    assert "Traceback" not in out.stderr + out.stdout
