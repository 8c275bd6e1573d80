"""A simulated year unattended: one scheduled capture a day (a fake clock: the demo broker reports each
simulated day's 17:00), with the faults a machine left alone meets, drawn from a seeded plan.

Faults (each day at most one; the scheduler retries a failed capture once the same evening):

* ``outage``   the broker refuses the first attempt (a ``network`` failure);
* ``token``    the broker's login has expired at the first attempt (``auth``), renewed before the retry;
* ``db_down``  the database is unreachable for a whole week: every capture spools, the first capture after
  it stores the spool first;
* ``sigkill``  the capture process is SIGKILLed at a point inside its write (kill_worker's points);
* ``sigterm``  the capture process is stopped with SIGTERM mid-fetch (what systemd sends on shutdown);

and after every attempt the alerts are evaluated at the simulated time, with a recording notifier.
``Year.run`` returns what happened; the test asserts the end state.

The simulated year ends yesterday: the brokers' as-ofs and the alerts' clock are simulated, but a run's
start and finish are the real time it ran (what staleness is measured from), so the simulated clock must
never run ahead of the real one.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time as clock
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.brokers.base import FetchContext, Recorder
from portfolio_dashboard.brokers.demo import DemoSource
from portfolio_dashboard.config import load_settings
from portfolio_dashboard.domain import TriggerContext, TriggerType
from portfolio_dashboard.errors import AuthError, NetworkError
from portfolio_dashboard.services import monitoring
from portfolio_dashboard.services.alerts import Message
from portfolio_dashboard.services.capture import capture

KILL_POINTS = (("insert_snapshot", 1), ("before_commit", 2), ("after_commit", 2), ("finish_run", 1))
SCHEDULED = TriggerContext(trigger_type=TriggerType.SCHEDULED, triggered_by="soak")
MAX_AGE = timedelta(hours=26)


def capture_time(day: date) -> datetime:
    return datetime.combine(day, time(17, 0), UTC)


class FaultyDemo(DemoSource):
    """The demo broker failing its fetch the way a real one does."""

    def __init__(self, day: date, fault: str) -> None:
        super().__init__(clock=lambda: capture_time(day))
        self.fault = fault

    def fetch(self, record: Recorder, ctx: FetchContext) -> None:
        if self.fault == "outage":
            raise NetworkError("connection refused (simulated outage)", source="demo")
        raise AuthError("refresh token expired (simulated)", source="demo")


def first_day(days: int) -> date:
    """The first simulated day, so that the last one is yesterday (UTC)."""
    return datetime.now(UTC).date() - timedelta(days=days)


def plan_year(days: int, seed: int, start: date) -> dict[date, tuple[str, ...]]:
    """The fault of each day (``()`` for none): a dead database for a week a third of the way in, about one
    outage a fortnight, an expired login every ~four months, a SIGKILL every ~6 weeks and a SIGTERM every ~2
    months (each at least once)."""
    rng = random.Random(seed)
    plan: dict[date, tuple[str, ...]] = {start + timedelta(days=i): () for i in range(days)}
    dead = days // 3
    for i in range(dead, dead + 7):
        plan[start + timedelta(days=i)] = ("db_down",)
    free = [d for d, f in plan.items() if not f and d != start and d != start + timedelta(days=dead + 7)]
    rng.shuffle(free)
    wanted = [("outage",)] * max(1, days // 14) + [("token",)] * max(1, days // 120)
    wanted += [("sigkill", *KILL_POINTS[i % len(KILL_POINTS)]) for i in range(max(1, days // 45))]  # type: ignore[misc]
    wanted += [("sigterm",)] * max(1, days // 60)
    for day, fault in zip(free, wanted, strict=False):
        plan[day] = tuple(str(x) for x in fault)
    return plan


@dataclass
class YearReport:
    days: int
    attempts: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    messages: list[Message] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)  # of the killed processes
    seconds: float = 0.0

    def sent(self, family: str, kind: str) -> int:
        return sum(1 for m in self.messages if m.key.split(":", 1)[0] == family and m.kind == kind)


class Year:
    def __init__(self, app: App, env: dict[str, str], dead_url: str, workdir: Path) -> None:
        self.app = app
        self.env = env
        self.dead = App(load_settings(database_url=dead_url, portfolio_data_dir=app.settings.portfolio_data_dir,
                                      _env_file=None))
        self.workdir = workdir
        for a in (self.app, self.dead):
            a.reference_factory = lambda _settings: None  # no ECB over the network

    def alerts(self, app: App, now: datetime, report: YearReport) -> None:
        facts = monitoring.collect(app, now, MAX_AGE, with_health=False)

        def record(message: Message) -> bool:
            report.messages.append(message)
            return True

        monitoring.run_alerts(app, facts, notifier=record)

    def attempt(self, app: App, day: date, source: DemoSource, minutes: int, report: YearReport) -> str:
        report.attempts += 1
        result = capture(SCHEDULED, app=app, sources={"demo": source})
        self.alerts(app, capture_time(day) + timedelta(minutes=minutes), report)
        return str(result.status)

    def process(self, day: date, fault: tuple[str, ...], report: YearReport) -> None:
        """A capture in its own process, killed as ``fault`` says."""
        report.attempts += 1
        args = [sys.executable, "-m", "tests.chaos.soak_worker", day.isoformat()]
        env = {**self.env, "CAPTURE_TIMEOUT_S": "5"}
        if fault[0] == "sigkill":
            args += [fault[1], fault[2]]
        else:
            flag = self.workdir / f"pause-{day.isoformat()}"
            env["SOAK_PAUSE_FILE"] = str(flag)
        with open(self.workdir / f"worker-{day.isoformat()}.log", "wb") as log:
            proc = subprocess.Popen(args, env=env, stdout=log, stderr=log, cwd=Path(__file__).parents[2])
        try:
            if fault[0] == "sigterm":
                deadline = clock.monotonic() + 60
                while not flag.exists() and proc.poll() is None and clock.monotonic() < deadline:
                    clock.sleep(0.05)
                proc.send_signal(signal.SIGTERM)
            report.exit_codes.append(proc.wait(60))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def run(self, plan: dict[date, tuple[str, ...]]) -> YearReport:
        report = YearReport(len(plan))
        t0 = clock.monotonic()
        for day, fault in plan.items():
            if fault:
                report.faults[fault[0]] += 1
            if not fault:
                self.attempt(self.app, day, DemoSource(clock=lambda d=day: capture_time(d)), 0, report)
            elif fault[0] == "db_down":
                self.attempt(self.dead, day, DemoSource(clock=lambda d=day: capture_time(d)), 0, report)
            elif fault[0] in ("outage", "token"):
                self.attempt(self.app, day, FaultyDemo(day, fault[0]), 0, report)
                self.attempt(self.app, day, DemoSource(clock=lambda d=day: capture_time(d)), 60, report)
            else:
                self.process(day, fault, report)
                self.attempt(self.app, day, DemoSource(clock=lambda d=day: capture_time(d)), 60, report)
        report.seconds = clock.monotonic() - t0
        self.dead.dispose()
        return report


def soak_processes() -> list[int]:
    """PIDs of any soak worker still alive (there must be none)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"tests.chaos.soak_worker" in cmdline and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def disk_use(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
