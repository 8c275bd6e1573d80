"""One background job at a time (Save Snapshot, Load demo history), shared by every browser session.

Streamlit reruns the page script on every click and stops it at the next ``st`` call when another click
arrives, so a capture must not live in the script: it runs here, in a thread, and the page only polls. The
job is process-wide, so a double click, a second tab or a rerun can never start a second capture while one
runs; a start within ``MIN_INTERVAL_S`` of the previous one is refused too (the second click of a double click
that arrives after a very fast capture finished).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from portfolio_dashboard.errors import PortfolioError

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 2.0
Progress = Callable[[str, str], None]


@dataclass(frozen=True, slots=True)
class JobView:
    """A consistent copy of the job's state for one page render."""

    seq: int  # increments with every started job; 0 = none yet
    kind: str | None
    label: str
    running: bool
    started_at: float | None
    finished_at: float | None
    progress: dict[str, str] = field(default_factory=dict)  # source -> state, in start order
    result: Any = None
    error: str | None = None


class Job:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, min_interval_s: float = MIN_INTERVAL_S) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._min_interval_s = min_interval_s
        self._thread: threading.Thread | None = None
        self._view = JobView(0, None, "", False, None, None)
        self._taken = 0  # the last finished job whose data change was taken (see take_finished)

    def view(self) -> JobView:
        with self._lock:
            return replace(self._view, progress=dict(self._view.progress))

    def start(self, kind: str, label: str, fn: Callable[[Progress], Any], sources: list[str] | None = None) -> bool:
        """Run ``fn(progress)`` in a thread; False (and nothing started) when a job runs or has just started."""
        with self._lock:
            now = self._clock()
            v = self._view
            if v.running or (v.started_at is not None and now - v.started_at < self._min_interval_s):
                return False
            self._view = JobView(v.seq + 1, kind, label, True, now, None, dict.fromkeys(sources or [], "waiting"))
            seq = self._view.seq
        self._thread = threading.Thread(target=self._run, args=(seq, fn), name=f"job-{kind}", daemon=True)
        self._thread.start()
        return True

    def _progress(self, seq: int) -> Progress:
        def update(source: str, state: str) -> None:
            with self._lock:
                if self._view.seq == seq:
                    self._view.progress[source] = state

        return update

    def _run(self, seq: int, fn: Callable[[Progress], Any]) -> None:
        result: Any = None
        error: str | None = None
        try:
            result = fn(self._progress(seq))
        except PortfolioError as exc:
            error = exc.user_message()
        except Exception as exc:  # the page shows it; the log keeps the traceback
            log.exception("background job failed")
            error = f"unexpected {type(exc).__name__}: {exc} (see the server log)"
        with self._lock:
            v = self._view
            self._view = JobView(v.seq, v.kind, v.label, False, v.started_at, self._clock(), v.progress, result, error)

    def take_finished(self) -> bool:
        """True exactly once per finished job: the caller then forgets cached reads (process-wide)."""
        with self._lock:
            if self._view.running or self._view.seq <= self._taken:
                return False
            self._taken = self._view.seq
            return True

    def wait(self, timeout: float | None = None) -> None:
        """Block until the current job ends (tests and shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


JOB = Job()
