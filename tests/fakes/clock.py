"""A fake monotonic clock whose ``sleep`` advances time instantly (for backoff and polling tests)."""

from __future__ import annotations


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)

    def monotonic(self) -> float:
        return self.now
