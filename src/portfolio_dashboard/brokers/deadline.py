"""The capture's overall deadline (``CAPTURE_TIMEOUT_S``), as the HTTP layer sees it.

Per-request timeouts bound each read, not a response: a broker that trickles one byte a second never trips a
30-second read timeout and would hold a scheduled capture for ever. The capture opens a ``capture_deadline``
and binds it to each of its fetch threads (``ThreadPoolExecutor(initializer=deadline.bind)``); ``BrokerHttp``
picks up the deadline of the thread it runs in, caps every timeout to the time left, and cuts a body off
when the deadline passes, keeping the bytes read so far.

Per thread rather than process-wide: two captures in one process (the dashboard's button while a scheduled
run is going) each keep their own deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_local = threading.local()


@dataclass(frozen=True, slots=True)
class Deadline:
    """A point on the monotonic clock after which a capture stops waiting for brokers."""

    at: float
    seconds: float  # the budget it was made from, for messages

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds, seconds)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    def bind(self) -> None:
        """Make this the deadline of the calling thread (an executor's ``initializer``)."""
        _local.deadline = self


def current_deadline() -> Deadline | None:
    """The deadline bound to the calling thread, if any."""
    deadline: Deadline | None = getattr(_local, "deadline", None)
    return deadline


@contextmanager
def capture_deadline(seconds: float) -> Iterator[Deadline]:
    """A deadline ``seconds`` from now, bound to the calling thread for the block (and handed to workers)."""
    deadline = Deadline.after(seconds)
    previous = current_deadline()
    deadline.bind()
    try:
        yield deadline
    finally:
        _local.deadline = previous
