"""A simulated year unattended: one scheduled capture a day of the three real sources (IB Client Portal
gateway, Schwab, IB Flex, with the ECB feed as FX reference) from the fake brokers of ``world.py`` over HTTP on
127.0.0.1, into the embedded PostgreSQL (``DATABASE_URL`` unset, as on a Raspberry Pi), with the faults a
machine left alone meets, drawn from a seeded plan.

The calendar is simulated: before each capture the fakes move to the simulated day's 17:00 UTC (the
gateway's summary and ledger timestamps, the Flex statement's report day, every broker's ``Date`` header, the
ECB feed's day), and the alerts are evaluated at that time. A run's own start and finish are the real time it
ran (what staleness is measured from), so the simulated year ends yesterday.

Faults (each day at most one; the scheduler retries a failed capture once the same evening, as a timer with
``Restart=on-failure`` would):

* ``outage``   one broker refuses connections at the first attempt (that source fails ``network``);
* ``token``    a login has expired at the first attempt (Schwab's refresh token revoked, or the gateway's
  session logged out: ``auth``), renewed before the retry;
* ``db_down``  the database is unreachable for a whole week (a ``DATABASE_URL`` naming a closed port): every
  capture spools, the first capture after it stores the spool first;
* ``sigkill``  a real capture process (``kill_worker``) SIGKILLs itself at a point inside its write, leaving
  its PID in the embedded server's holder list;
* ``sigterm``  a real capture process is stopped with SIGTERM mid-fetch (a broker answer is held back);
* ``reboot``   a power cut: the process holding the embedded server, the server and its backends all
  SIGKILLed, then the old ``postmaster.pid`` and socket lock name a live, unrelated process (the PID reused
  after the reboot) and the holder list names the dead holder and that reused PID; the day's capture is then a
  real CLI process that must recover, store, and leave no server running.

``Year.run`` returns what happened; the test asserts the end state.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time as clock
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psutil

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.config import Settings
from portfolio_dashboard.domain import TriggerContext, TriggerType
from portfolio_dashboard.services import monitoring
from portfolio_dashboard.services.alerts import Message
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.storage.embedded import stop_embedded
from tests.chaos.soak_reboot import holding, power_cut
from tests.chaos.world import SOURCES, Sleeper, World, shifted_statement
from tests.fakes.ecb import TYPICAL
from tests.fakes.flex_statement import REPORT_DAY
from tests.fakes.ib_gateway import API
from tests.fakes.schwab import seed_tokens
from tests.integration.test_embedded_server import servers_of

ROOT = Path(__file__).resolve().parents[2]
KILL_POINTS = (("insert_snapshot", 1), ("before_commit", 2), ("after_commit", 2), ("finish_run", 1))
TOKEN_SOURCES = ("schwab", "ib_gateway")
SCHEDULED = TriggerContext(trigger_type=TriggerType.SCHEDULED, triggered_by="soak", sources=SOURCES)
MAX_AGE = timedelta(hours=26)
HELD_BACK_S = 1.5  # how long the gateway holds back its accounts answer while a SIGTERM is sent


def capture_time(day: date) -> datetime:
    return datetime.combine(day, time(17, 0), UTC)


def first_day(days: int) -> date:
    """The first simulated day, so that the last one is yesterday in New York: that day's Flex as-of (its close,
    20:20 New York) has passed at any hour. Yesterday in UTC would put it in the future from midnight UTC until
    01:20, and the capture rightly refuses an as-of in the future."""
    return datetime.now(ZoneInfo("America/New_York")).date() - timedelta(days=days)


def plan_year(days: int, seed: int, start: date) -> dict[date, tuple[str, ...]]:
    """The fault of each day (``()`` for none): a dead database for a week a third of the way in, about one
    outage a fortnight, an expired login every ~four months, a SIGKILL every ~6 weeks, a SIGTERM every ~2
    months and a reboot every ~3 months (each at least once)."""
    rng = random.Random(seed)
    plan: dict[date, tuple[str, ...]] = {start + timedelta(days=i): () for i in range(days)}
    dead = days // 3
    for i in range(dead, dead + 7):
        plan[start + timedelta(days=i)] = ("db_down",)
    free = [d for d, f in plan.items() if not f and d != start and d != start + timedelta(days=dead + 7)]
    rng.shuffle(free)
    wanted: list[tuple[str, ...]] = [("outage", rng.choice(SOURCES)) for _ in range(max(1, days // 14))]
    wanted += [("token", TOKEN_SOURCES[i % 2]) for i in range(max(1, days // 120))]
    wanted += [("sigkill", p, str(n)) for p, n in (KILL_POINTS[i % 4] for i in range(max(1, days // 45)))]
    wanted += [("sigterm",)] * max(1, days // 60)
    wanted += [("reboot",)] * max(1, days // 90)
    assert len(wanted) <= len(free), "too few days for the faults"
    for day, fault in zip(free, wanted, strict=False):
        plan[day] = fault
    return plan


@dataclass
class YearReport:
    days: int
    attempts: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    messages: list[Message] = field(default_factory=list)
    exit_codes: dict[str, list[int]] = field(default_factory=dict)  # of the killed processes, by fault
    run_status: Counter[str] = field(default_factory=Counter)  # of the in-process captures
    reboots: list[str] = field(default_factory=list)  # what each post-reboot capture found and did
    seconds_by_kind: Counter[str] = field(default_factory=Counter)  # wall time of the days of each fault
    seconds: float = 0.0

    def sent(self, family: str, kind: str) -> int:
        return sum(1 for m in self.messages if m.key.split(":", 1)[0] == family and m.kind == kind)


class Year:
    """``live``: the embedded server's settings (the soak's data folder); ``dead``: the same folder with a
    ``DATABASE_URL`` nothing answers on; ``env``: a capture process's environment (embedded, the fakes)."""

    def __init__(self, world: World, live: Settings, dead: Settings, env: dict[str, str], workdir: Path) -> None:
        self.world = world
        self.app = App(live)
        self.dead = App(dead)
        self.env = env
        self.workdir = workdir
        self.unrelated: list[subprocess.Popen[bytes]] = []  # the processes a reboot gave the old PIDs to

    # --- the simulated calendar ----------------------------------------------------------------------------
    def move_to(self, day: date) -> None:
        at = capture_time(day)
        self.world.gateway.timestamp_ms = int(at.timestamp()) * 1000
        self.world.flex.statement = shifted_statement((day - REPORT_DAY).days)
        for server in (self.world.gateway.server, self.world.schwab.server, self.world.flex.server):
            server.date_clock = at.timestamp
        self.world.ecb.days = {day: TYPICAL}

    def alerts(self, app: App, now: datetime, report: YearReport) -> None:
        facts = monitoring.collect(app, now, MAX_AGE, with_health=False)

        def record(message: Message) -> bool:
            report.messages.append(message)
            return True

        monitoring.run_alerts(app, facts, notifier=record)

    # --- one attempt -------------------------------------------------------------------------------------
    def attempt(self, app: App, day: date, minutes: int, report: YearReport, refused: str | None = None) -> str:
        """A scheduled capture in this process (the fakes are real servers; only the process is shared)."""
        report.attempts += 1
        self.move_to(day)
        sleepers = {name: Sleeper() for name in (*SOURCES, "ecb")}
        app.reference_factory = self.world.reference(False, sleepers["ecb"])
        sources = self.world.build({refused} if refused else set(), sleepers)
        result = capture(SCHEDULED, app=app, sources=sources)
        report.run_status[str(result.status)] += 1
        self.alerts(app, capture_time(day) + timedelta(minutes=minutes), report)
        return str(result.status)

    def worker(self, day: date, *point: str) -> subprocess.Popen[bytes]:
        self.move_to(day)
        with open(self.workdir / f"worker-{day.isoformat()}.log", "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "tests.chaos.kill_worker", *point],
                env=self.env,
                stdout=log,
                stderr=log,
                cwd=ROOT,
            )

    def held_fetch(self, day: date) -> subprocess.Popen[bytes]:
        """A capture process that is mid-fetch when this returns: the gateway holds its accounts answer back."""
        server = self.world.gateway.server
        path = API + "/portfolio/accounts"

        def hold(reply: object) -> object:
            reply.delay = HELD_BACK_S  # type: ignore[attr-defined]
            return reply

        asked = server.count("GET", path)
        server.mutate_next("GET", path, hold)  # type: ignore[arg-type]
        proc = self.worker(day)
        deadline = clock.monotonic() + 60
        while server.count("GET", path) == asked and proc.poll() is None and clock.monotonic() < deadline:
            clock.sleep(0.02)
        return proc

    def process(self, day: date, fault: tuple[str, ...], report: YearReport) -> None:
        """A capture in its own process, killed as ``fault`` says; or, for a reboot, a process holding the
        server killed with it, leaving the stale files."""
        report.attempts += fault[0] != "reboot"
        if fault[0] == "sigkill":
            proc = self.worker(day, fault[1], fault[2])
        elif fault[0] == "sigterm":
            proc = self.held_fetch(day)
        else:
            proc = holding(self.app.settings.pgdata_dir.resolve(), self.env)
        try:
            if fault[0] == "sigterm":
                proc.send_signal(signal.SIGTERM)
            elif fault[0] == "reboot":
                # Everything dies at once: leave no holder of ours behind, as a rebooted machine has none.
                self.app.dispose()
                stop_embedded(self.app.settings.pgdata_dir)
                self.unrelated.append(power_cut(self.app.settings.pgdata_dir, proc))
            code = proc.wait(60)
            if fault[0] != "reboot":  # the holder was reaped by the power cut: its code is not ours to read
                report.exit_codes.setdefault(fault[0], []).append(code)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.world.gateway.server.clear_faults()

    def after_reboot(self, day: date, report: YearReport) -> None:
        """The scheduler's retry after the reboot: a real CLI capture, which must recover the stale files."""
        report.attempts += 1
        proc = self.worker(day)
        code = proc.wait(180)
        left = servers_of(self.app.settings.pgdata_dir.resolve())
        untouched = all(p.poll() is None for p in self.unrelated)
        report.reboots.append(
            f"exit {code}, "
            + (f"servers left {left}" if left else "no server left")
            + ", "
            + ("unrelated process untouched" if untouched else "UNRELATED PROCESS ENDED")
        )
        report.run_status["success" if code == 0 else f"exit {code}"] += 1
        self.alerts(self.app, capture_time(day) + timedelta(minutes=60), report)

    # --- the year ----------------------------------------------------------------------------------------
    def run(self, plan: dict[date, tuple[str, ...]]) -> YearReport:
        report = YearReport(len(plan))
        t0 = clock.monotonic()
        try:
            for day, fault in plan.items():
                started = clock.monotonic()
                self.day(day, fault, report)
                report.seconds_by_kind[fault[0] if fault else "none"] += clock.monotonic() - started
        finally:
            report.seconds = clock.monotonic() - t0
            self.dead.dispose()
            self.app.dispose()
            for proc in self.unrelated:
                proc.kill()
                proc.wait()
        return report

    def day(self, day: date, fault: tuple[str, ...], report: YearReport) -> None:
        if fault:
            report.faults[fault[0]] += 1
        kind = fault[0] if fault else ""
        if not kind:
            self.attempt(self.app, day, 0, report)
        elif kind == "db_down":
            self.attempt(self.dead, day, 0, report)
        elif kind == "outage":
            self.attempt(self.app, day, 0, report, refused=fault[1])
            self.attempt(self.app, day, 60, report)
        elif kind == "token":
            self.expire_login(fault[1])
            self.attempt(self.app, day, 0, report)
            self.renew_login(fault[1])
            self.attempt(self.app, day, 60, report)
        elif kind == "reboot":
            self.process(day, fault, report)
            self.after_reboot(day, report)
        else:
            self.process(day, fault, report)
            self.attempt(self.app, day, 60, report)

    def expire_login(self, source: str) -> None:
        if source == "schwab":
            self.world.schwab.expire_access_tokens()
            self.world.schwab.revoke_refresh_tokens()
        else:
            self.world.gateway.logged_in = False

    def renew_login(self, source: str) -> None:
        """What the owner does when the alert arrives: ``auth schwab`` again, or log in to the gateway."""
        if source == "schwab":
            seed_tokens(self.world.schwab, self.world.token_path)
        else:
            self.world.gateway.logged_in = True


def processes_of(needle: bytes, data_dir: Path) -> list[int]:
    """Live processes of this soak whose command line contains ``needle`` (capture workers: there must be none
    left). Only those whose environment names the soak's data folder count: the kill campaign, running beside
    the soak in another test worker, starts processes with the same command line."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if not any(needle.decode() in part for part in cmdline):
            continue
        try:
            if proc.status() == psutil.STATUS_ZOMBIE or proc.environ().get("PORTFOLIO_DATA_DIR") != str(data_dir):
                continue
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue  # ended meanwhile, or not ours to read
        found.append(proc.pid)
    return found


def disk_use(path: Path, *, skip: str | None = None) -> int:
    return sum(
        p.stat().st_size for p in path.rglob("*") if p.is_file() and not (skip and skip in p.relative_to(path).parts)
    )
