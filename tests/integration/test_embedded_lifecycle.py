"""The embedded server after the ordinary accidents of a year unattended: holders killed without cleanup, a
reboot leaving a postmaster.pid whose PID now names an unrelated process, a server that cannot be reached.

Real processes, a real PostgreSQL (the CLI with DATABASE_URL unset).
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.trickle import TrickleServer
from tests.integration.test_embedded_server import HOLDER, env_without_database_url, running, servers_of

pytestmark = pytest.mark.slow


def cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portfolio_dashboard", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=180, check=False)


def start_holder(pgdata: Path, env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[str], int]:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(pgdata)], env=env, cwd=cwd,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    line = holder.stdout.readline()
    if not line.strip():
        holder.kill()
        _, err = holder.communicate()
        pytest.fail(f"the holder did not start the server: {err}")
    return holder, int(line)


def sigkill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture
def work() -> Iterator[Path]:
    """Not under pytest's tmp_path: another pytest session resets that to 0700, locking out the server's own
    system user when tests run as root (see tests/conftest.py)."""
    path = Path(tempfile.mkdtemp(prefix="pd-life-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def unrelated_process() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that has nothing to do with PostgreSQL (what a reboot may give the old server's PID)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield proc
    proc.kill()
    proc.wait()


def stale_pid_file(pgdata: Path, pid: int, socket_dir: Path) -> None:
    (pgdata / "postmaster.pid").write_text(
        f"{pid}\n{pgdata}\n{int(time.time()) - 86400}\n5432\n{socket_dir}\n\n  1234   5678\nready   \n")


def test_a_holder_killed_without_cleanup_does_not_keep_the_server_alive(work: Path) -> None:
    data = work / "data"
    pgdata = (data / "pgdata").resolve()
    env = env_without_database_url(data)
    first, server_pid = start_holder(pgdata, env, work)
    second, same_server = start_holder(pgdata, env, work)
    try:
        assert same_server == server_pid
        sigkill(first)  # no atexit, no cleanup: its PID stays in the holder list
        assert first.pid in json.loads((pgdata / ".handle_pids.json").read_text())
        assert second.stdin is not None
        second.stdin.write("done\n")
        second.stdin.flush()
        assert second.wait(timeout=60) == 0
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    # the last LIVE holder left: the server stopped although a dead holder was still listed
    assert servers_of(pgdata) == []
    assert not running(server_pid)
    assert json.loads((pgdata / ".handle_pids.json").read_text()) == []


def test_a_cli_command_after_every_holder_was_killed_leaves_nothing_running(work: Path) -> None:
    data = work / "data"
    pgdata = (data / "pgdata").resolve()
    env = env_without_database_url(data)
    holder, server_pid = start_holder(pgdata, env, work)
    sigkill(holder)
    assert servers_of(pgdata) == [server_pid]  # orphaned: nobody will ever stop it...
    result = cli(env, work, "migrate")  # ...until the next command joins it and is its last live holder
    assert result.returncode == 0, result.stderr
    assert servers_of(pgdata) == []
    assert not running(server_pid)


def test_a_stale_postmaster_pid_naming_a_live_unrelated_process_is_recovered(
    work: Path, unrelated_process: subprocess.Popen[bytes]
) -> None:
    data = work / "data"
    pgdata = (data / "pgdata").resolve()
    env = env_without_database_url(data)
    assert cli(env, work, "migrate").returncode == 0
    assert servers_of(pgdata) == []
    # a reboot: the old server's postmaster.pid survives and its PID now belongs to someone else
    stale_pid_file(pgdata, unrelated_process.pid, pgdata)
    (pgdata / ".s.PGSQL.5432.lock").write_text(f"{unrelated_process.pid}\n")

    result = cli(env, work, "capture")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert unrelated_process.poll() is None, result.stderr  # never touched
    assert servers_of(pgdata) == []  # started, used and stopped again


@pytest.fixture
def impostor_socket(work: Path) -> Iterator[Path]:
    """Something that answers on the server's socket but is not PostgreSQL: recovery must not remove it."""
    directory = work / "sock"
    directory.mkdir(exist_ok=True)
    path = directory / ".s.PGSQL.5432"
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(8)
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield directory
    stop.set()
    thread.join()
    listener.close()
    path.unlink(missing_ok=True)



def test_an_unrecoverable_server_is_a_db_error_the_capture_spools_and_status_reports(
    work: Path, unrelated_process: subprocess.Popen[bytes], impostor_socket: Path
) -> None:
    data = work / "data"
    pgdata = (data / "pgdata").resolve()
    env = env_without_database_url(data)
    assert cli(env, work, "migrate").returncode == 0
    stale_pid_file(pgdata, unrelated_process.pid, impostor_socket)

    capture = cli(env, work, "capture")
    assert capture.returncode == 1, capture.stdout + capture.stderr
    assert "Traceback" not in capture.stderr
    assert "spool" in (capture.stdout + capture.stderr).lower()
    assert list((data / "spool").rglob("*.json*")), "the fetched data was spooled"

    status = cli(env, work, "status", "--no-health")
    assert status.returncode == 1
    assert "Traceback" not in status.stderr
    assert "database" in (status.stdout + status.stderr).lower()
    assert unrelated_process.poll() is None
    assert (pgdata / "postmaster.pid").exists()  # someone answers on its socket: not ours to remove


def test_a_read_only_command_leaves_nothing_running(work: Path) -> None:
    data = work / "data"
    pgdata = (data / "pgdata").resolve()
    env = env_without_database_url(data)
    status = cli(env, work, "status", "--no-health")
    assert status.returncode == 1, status.stderr  # no run yet: unhealthy, but it ran and answered
    assert (pgdata / "PG_VERSION").exists()  # it did start the server...
    assert servers_of(pgdata) == []  # ...and stopped it again


@pytest.fixture
def trickle() -> Iterator[TrickleServer]:
    with TrickleServer() as server:
        yield server


def test_a_capture_stopped_with_sigterm_releases_the_embedded_server(work: Path, trickle: TrickleServer) -> None:
    data = work / "data"
    pgdata = (data / "pgdata").resolve()
    env = dict(env_without_database_url(data), BROKERS="ib_flex", IB_FLEX_TOKEN="tok", IB_FLEX_QUERY_ID="q1",
               IB_FLEX_BASE_URL=f"{trickle.base_url}/FlexWebService", CAPTURE_TIMEOUT_S="8")
    proc = subprocess.Popen([sys.executable, "-m", "portfolio_dashboard", "capture"], env=env, cwd=work,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (servers_of(pgdata) and trickle.requests) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        assert servers_of(pgdata), "the capture started the embedded server"
        proc.send_signal(signal.SIGTERM)  # systemd stopping the timer's service, say
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM
    assert servers_of(pgdata) == []  # it held the server alone: released, not left running without a holder
