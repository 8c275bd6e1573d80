"""The embedded server is shared by every process that uses the same data folder, and stops with the last one.

Real processes (the CLI with DATABASE_URL unset), a real PostgreSQL; runs as root too (the server then runs
as a dedicated system user, which the package creates).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from portfolio_dashboard.storage.migrate import head_revision
from tests.conftest import _ENV_PREFIXES

pytestmark = pytest.mark.slow

HOLDER = """
import sys
from pathlib import Path
from portfolio_dashboard.storage.embedded import start_embedded, stop_embedded
pgdata = Path(sys.argv[1])
start_embedded(pgdata)
print((pgdata / "postmaster.pid").read_text().split()[0], flush=True)
sys.stdin.readline()
stop_embedded(pgdata)
"""


def env_without_database_url(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(_ENV_PREFIXES)}
    env["PORTFOLIO_DATA_DIR"] = str(data_dir)
    return env


def servers_of(pgdata: Path) -> list[int]:
    """Running postmasters started on ``pgdata`` (their command line names the folder)."""
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("name") == "postgres" and any(str(pgdata) in part for part in cmdline):
            found.append(proc.pid)
    return found


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE  # a stopped server not yet reaped by init
    except psutil.NoSuchProcess:
        return False


def migrate_at_once(env: dict[str, str], cwd: Path, processes: int) -> list[subprocess.CompletedProcess[str]]:
    cmd = [sys.executable, "-m", "portfolio_dashboard", "migrate"]
    procs = [subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(processes)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(cmd, p.returncode, out, err))
    return results


def test_two_processes_share_one_server_and_the_last_stops_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    pgdata = (data / "pgdata").resolve()
    env = env_without_database_url(data)

    # Two CLI processes at once on a folder that has no server yet: one initialises and starts it, the other
    # joins; each migrates under the advisory lock; whoever exits first leaves the server to the other.
    for result in migrate_at_once(env, tmp_path, 2):
        assert result.returncode == 0, result.stderr
        assert head_revision() in result.stdout
    assert servers_of(pgdata) == []
    assert not (pgdata / "postmaster.pid").exists()

    # A long-lived process (the dashboard, say) holds the server; a CLI process joins it and leaves it running.
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(pgdata)], env=env, cwd=tmp_path,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdin is not None
        server_pid = int(holder.stdout.readline())
        for result in migrate_at_once(env, tmp_path, 1):
            assert result.returncode == 0, result.stderr
            assert "nothing to do" in result.stdout
        assert servers_of(pgdata) == [server_pid]  # the same server, still running for the holder
        holder.stdin.write("done\n")
        holder.stdin.flush()
        assert holder.wait(timeout=60) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert servers_of(pgdata) == []
    assert not running(server_pid)
