"""Run a child process (the Streamlit dashboard) so that stopping the parent stops the child too.

systemd, Docker and a closed terminal stop ``serve`` with SIGTERM or SIGHUP, not Ctrl-C. Python's default for
those signals ends the process at once: no ``finally``, no ``atexit``, so the child kept serving the port and
the embedded PostgreSQL (released by an ``atexit`` hook) was never stopped. Here those signals become a normal
exit: the child is terminated (killed if it will not stop), then ``atexit`` releases the database.
"""

from __future__ import annotations

import logging
import signal
import subprocess
from collections.abc import Mapping, Sequence
from types import FrameType

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
CHILD_GRACE_S = 20.0  # Streamlit closes its sessions and sockets in well under this


class StopRequested(Exception):  # noqa: N818 - a request, not an error
    """A stop signal arrived; carries its number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise StopRequested(signum)


def exit_on_stop_signals() -> None:
    """Make SIGTERM/SIGHUP a normal exit (``SystemExit``) for a CLI command, so that ``finally`` blocks and
    ``atexit`` run: the embedded server it joined is released instead of left running without a holder.
    A capture stopped this way ends after its fetch threads finish (bounded by ``CAPTURE_TIMEOUT_S``)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _exit_on_signal)


def _exit_on_signal(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def stop_child(proc: subprocess.Popen[bytes], *, grace_s: float = CHILD_GRACE_S) -> int:
    """Terminate ``proc`` and wait for it; kill it when it ignores SIGTERM for ``grace_s``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            return proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            log.warning("the dashboard process %s ignored SIGTERM for %.0fs; killing it", proc.pid, grace_s)
            proc.kill()
    return proc.wait()


def run_supervised(cmd: Sequence[str], env: Mapping[str, str]) -> int:
    """Run ``cmd`` until it exits or this process is asked to stop; return the exit status to use.

    A stop signal (SIGTERM, SIGHUP) or Ctrl-C stops the child and counts as a clean stop (0): the user or
    the service manager asked for it. The caller's ``atexit`` hooks then run as on any normal exit.
    """
    previous = {sig: signal.signal(sig, _raise_stop) for sig in STOP_SIGNALS}
    proc: subprocess.Popen[bytes] | None = None
    try:
        proc = subprocess.Popen(list(cmd), env=dict(env))  # noqa: S603 - our own interpreter and module
        return proc.wait()
    except (StopRequested, KeyboardInterrupt) as exc:
        log.info("stopping the dashboard (%s)", exc if isinstance(exc, StopRequested) else "interrupted")
        return 0
    finally:
        if proc is not None:
            stop_child(proc)  # whatever ended the wait, never leave the child serving the port
        for sig, handler in previous.items():
            signal.signal(sig, handler)
