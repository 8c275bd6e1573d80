"""A real ``portfolio-dashboard capture`` process that can kill itself (SIGKILL) at a chosen point.

    python -m tests.chaos.kill_worker [POINT N]

POINT is where to die, on its N-th passage (counted over all threads of the capture):

    insert_snapshot   inside a source's write transaction, after raw payloads and N-1 snapshots
    copy_row          in the middle of a COPY of positions (the N-th row)
    before_commit     the N-th commit, just before it (the first is the run row, later ones source writes)
    after_commit      just after the N-th commit
    finish_run        while recording the run's outcome
    fsync             the N-th fsync: inside a token-file or spool write, before its rename

Without POINT it is a plain capture (the campaign's "next capture"), killed from outside if at all. The
brokers' pacing is switched off (the fakes do not enforce it) so a campaign of 200 processes takes minutes.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class _Counter:
    def __init__(self, n: int) -> None:
        self.n = n
        self.seen = 0
        self.lock = threading.Lock()

    def hit(self) -> bool:
        with self.lock:
            self.seen += 1
            return self.seen == self.n


def _before(owner: Any, name: str, counter: _Counter) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if counter.hit():
            _die()
        return original(*args, **kwargs)

    setattr(owner, name, wrapper)


def _after(owner: Any, name: str, counter: _Counter) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if counter.hit():
            _die()
        return result

    setattr(owner, name, wrapper)


def install(point: str, n: int) -> None:
    import psycopg

    from portfolio_dashboard.storage.repositories import Repository
    from portfolio_dashboard.storage.unit_of_work import UnitOfWork

    counter = _Counter(n)
    if point == "insert_snapshot":
        _before(Repository, "insert_snapshot", counter)
    elif point == "copy_row":
        _before(psycopg.Copy, "write_row", counter)
    elif point == "before_commit":
        _before(UnitOfWork, "commit", counter)
    elif point == "after_commit":
        _after(UnitOfWork, "commit", counter)
    elif point == "finish_run":
        _before(Repository, "finish_run", counter)
    elif point == "fsync":
        _before(os, "fsync", counter)
    else:
        raise SystemExit(f"unknown kill point {point!r}")


def no_pacing() -> None:
    from portfolio_dashboard.brokers import http, ib_flex

    http.Pacer.wait = lambda self, path: None  # type: ignore[method-assign]
    fast = ib_flex.PollPolicy(first_wait=0.0, initial_wait=0.05, max_wait=0.1)
    ib_flex.PollPolicy = lambda: fast  # type: ignore[assignment,misc]


if __name__ == "__main__":
    no_pacing()
    if len(sys.argv) == 3:
        install(sys.argv[1], int(sys.argv[2]))
    from portfolio_dashboard.cli import main

    sys.argv = ["portfolio-dashboard", "capture", "--json"]
    main()
