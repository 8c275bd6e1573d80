"""A power cut and the reboot after it, as the embedded server's folder sees them.

Everything dies at once without cleanup: the capture process holding the server, the postmaster and its
backends. After the reboot the old PIDs are handed out again: the PID in ``postmaster.pid`` (and in the
socket's lock file) now names a live process that has nothing to do with PostgreSQL, and the holder list
still names the dead capture and a PID that another new process got (its recorded start time differs).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from portfolio_dashboard.storage.embedded_recovery import HOLDERS_FILE, STARTS_FILE


def _kill_all(procs: list[psutil.Process]) -> None:
    for proc in procs:
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(procs, timeout=30)
    assert not alive, f"survived SIGKILL: {alive}"


HOLDER = """
import sys
from pathlib import Path
from portfolio_dashboard.storage.embedded import start_embedded
start_embedded(Path(sys.argv[1]))
print("ready", flush=True)
sys.stdin.readline()
"""


def holding(pgdata: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A process holding the embedded server (what a capture or the dashboard is while the power fails)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(pgdata)], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready", "the holder did not join the embedded server"
    return proc


def power_cut(pgdata: Path, holder: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
    """SIGKILL ``holder`` and the server on ``pgdata``, then leave what a reboot reusing PIDs leaves.

    Returns the unrelated process that got the old postmaster's PID (the caller ends it)."""
    fields = (pgdata / "postmaster.pid").read_text().splitlines()
    postmaster = psutil.Process(int(fields[0]))
    server = [postmaster, *postmaster.children(recursive=True)]
    _kill_all([psutil.Process(holder.pid), *server])
    holder.wait(30)

    # The reboot: a new process now has the PID the files name (a real reboot reuses it; here the files are
    # pointed at the new process instead, which is the same thing as far as anyone reading them can tell).
    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    fields[0] = str(unrelated.pid)
    (pgdata / "postmaster.pid").write_text("\n".join(fields) + "\n")
    port, socket_dir = fields[3].strip(), fields[4].strip()
    lock = Path(socket_dir) / f".s.PGSQL.{port}.lock"
    if lock.exists():
        lines = lock.read_text().splitlines()
        lock.write_text("\n".join([str(unrelated.pid), *lines[1:]]) + "\n")
    holders = json.loads((pgdata / HOLDERS_FILE).read_text())
    starts = json.loads((pgdata / STARTS_FILE).read_text())
    starts[str(unrelated.pid)] = time.time() - 86_400  # a holder of yesterday's boot, with today's PID
    (pgdata / HOLDERS_FILE).write_text(json.dumps([*holders, unrelated.pid]))
    (pgdata / STARTS_FILE).write_text(json.dumps(starts))
    return unrelated
