"""The kill campaign: real capture processes SIGKILLed at random points, each followed by a check of the
database (and token file) and by a capture that must succeed.

Kill points are drawn at random: a timer (a random instant between the run row appearing and the end a
clean capture takes) or a point inside the process (``kill_worker.py``): within a source's write
transaction, in the middle of a COPY, just before or after a commit, while recording the run's outcome, or
inside a file write before its rename. A share of the runs capture with the database unreachable, so they
write the local spool, and are killed in the middle of one of its writes (every ``fsync`` of it: a file
written but not yet renamed into place, renamed but its directory not yet synced, ...).

After each kill: no snapshot lacks positions or its raw payloads, nothing is duplicated, the token file is
whole, every spool file is readable (a torn write would show here), and the next capture — with the
database up — succeeds, replays the spool (every spooled response ends in ``raw_payloads``) and leaves no
run ``running`` or claiming success for sources it never captured.
"""

from __future__ import annotations

import json
import random
import signal
import stat
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

from portfolio_dashboard.local.schwab_tokens import TokenStore
from tests.chaos.world import World, closed_port_url
from tests.fakes.schwab import seed_tokens

ROOT = Path(__file__).resolve().parents[2]
# point -> range of N (the N-th passage); commits: 1 is the run row, then one per source write, then the run
POINTS: dict[str, tuple[int, int]] = {
    "insert_snapshot": (1, 7),
    "copy_row": (1, 40),
    "before_commit": (2, 5),
    "after_commit": (2, 5),
    "finish_run": (1, 1),
    "fsync": (1, 2),
}
IN_TRANSACTION = {"insert_snapshot", "copy_row", "before_commit"}
OFFLINE_SHARE = 0.3  # runs with the database unreachable: they spool
SPOOL_FSYNCS = 9  # fsyncs of an offline capture of three sources: run dir, 2 per entry, 2 for the manifest


@dataclass
class KillStats:
    runs: int = 0
    killed: int = 0
    killed_in_transaction: int = 0
    killed_in_spool: int = 0
    spooled_responses_replayed: int = 0
    finished_before_kill: int = 0
    next_captures_ok: int = 0
    by_point: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        return "\n".join([
            f"runs {self.runs}: SIGKILLed {self.killed} ({self.killed_in_transaction} inside a write transaction, "
            f"{self.killed_in_spool} while writing the spool), finished before the kill {self.finished_before_kill}, "
            f"in {self.seconds:.0f}s",
            f"spooled responses found in raw_payloads after the next capture: {self.spooled_responses_replayed}",
            "kill points: " + ", ".join(f"{k} {v}" for k, v in sorted(self.by_point.items())),
            f"next captures succeeded {self.next_captures_ok}/{self.runs}, broken invariants {len(self.problems)}",
        ])


def _rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).mappings())


class KillCampaign:
    def __init__(self, env: dict[str, str], db_url: str, world: World, seed: int) -> None:
        self.env = {**env, **world.env(), "PYTHONPATH": str(ROOT)}
        self.world = world
        self.engine = create_engine(db_url)
        self.rng = random.Random(seed)
        self.stats = KillStats()
        self.baseline: dict[tuple[str, str], set[int]] = defaultdict(set)
        self.window = 1.0

    def worker(self, *point: str, offline: bool = False) -> subprocess.Popen[str]:
        self.world.next_capture()
        env = {**self.env, "DATABASE_URL": closed_port_url("postgresql") + "/gone"} if offline else self.env
        return subprocess.Popen([sys.executable, "-m", "tests.chaos.kill_worker", *point], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def clean_capture(self) -> tuple[bool, str]:
        proc = self.worker()
        out, err = proc.communicate(timeout=180)
        try:
            run = json.loads(out)
        except ValueError:
            return False, f"exit {proc.returncode}: {err[-400:]}"
        ok = proc.returncode == 0 and run["status"] == "success"
        return ok, "" if ok else f"exit {proc.returncode}, {run['status']}: {run.get('error_summary')}"

    def setup(self) -> None:
        ok, why = self.clean_capture()
        assert ok, f"the clean baseline capture failed: {why}"
        run = _rows(self.engine, "SELECT extract(epoch FROM finished_at - started_at) AS s FROM snapshot_runs")[0]
        self.window = float(run["s"])
        for r in _rows(self.engine, "SELECT s.broker, s.broker_account_id, count(p.*) AS n FROM snapshots s "
                                    "LEFT JOIN positions p ON p.snapshot_id = s.id GROUP BY s.id"):
            self.baseline[(r["broker"], r["broker_account_id"])].add(int(r["n"]))

    def run(self, kills: int, plan: list[str] | None = None) -> KillStats:
        """``kills`` runs at random kill points, or exactly the points of ``plan`` ("timer", "POINT:N",
        "spool fsync:N")."""
        started = time.monotonic()
        try:
            self.setup()
            for i in range(len(plan) if plan else kills):
                self.one(plan[i] if plan else None)
        finally:
            self.stats.seconds = time.monotonic() - started
            self.engine.dispose()
        return self.stats

    def one(self, planned: str | None = None) -> None:
        stats = self.stats
        stats.runs += 1
        offline = planned.startswith("spool") if planned else self.rng.random() < OFFLINE_SHARE
        if planned:
            label = planned
            point = None if planned == "timer" else planned.split(":")[0].removeprefix("spool ")
        elif offline:
            point, label = "fsync", f"spool fsync:{self.rng.randint(1, SPOOL_FSYNCS)}"
        elif self.rng.random() < 0.4:
            point, label = None, "timer"
        else:
            point = self.rng.choice(sorted(POINTS))
            lo, hi = POINTS[point]
            label = f"{point}:{self.rng.randint(lo, hi)}"
        if point == "fsync" and not offline:
            # an expired access token: the capture refreshes it and saves the token file (where fsync is)
            seed_tokens(self.world.schwab, self.world.token_path, access_expires_in=-timedelta(minutes=5))
        proc = self.worker(point, label.rsplit(":", 1)[1], offline=offline) if point else self.worker()
        if point is None:
            self._kill_later(proc)
        proc.communicate(timeout=180)
        killed = proc.returncode == -signal.SIGKILL
        stats.by_point[label.split(":")[0]] += 1
        if killed:
            stats.killed += 1
            stats.killed_in_transaction += point in IN_TRANSACTION and not offline
            stats.killed_in_spool += offline
        else:
            stats.finished_before_kill += 1
        stats.problems += [f"{p} [after kill at {label}]" for p in self.check()]
        spooled, unreadable = self.spool_contents()
        stats.problems += [f"unreadable spool file {u} [after kill at {label}]" for u in unreadable]
        ok, why = self.clean_capture()
        stats.next_captures_ok += ok
        if not ok:
            stats.problems.append(f"the capture after a kill at {label} failed: {why}")
        stats.problems += [f"{p} [after the capture following {label}]" for p in self.check()]
        left = _rows(self.engine, "SELECT run_id FROM snapshot_runs WHERE status = 'running'")
        if left:
            stats.problems.append(f"{len(left)} run(s) still 'running' after the next capture [{label}]")
        stats.problems += [f"{p} [after the capture following {label}]" for p in self.check_replayed(spooled)]

    # --- the spool -------------------------------------------------------------------------------------------
    def spool_contents(self) -> tuple[Counter[tuple[str, str]], list[str]]:
        """(source, sha256) of every spooled response, and the spool files that cannot be read back."""
        from portfolio_dashboard.local.spool import MANIFEST, SpoolCorruptError, decode_entry, decode_manifest

        root = self.world.data_dir / "spool"
        found: Counter[tuple[str, str]] = Counter()
        unreadable = []
        for path in sorted(root.glob("*/*.json")) if root.is_dir() else []:
            if path.parent.name.startswith(".") or path.parent.name == "corrupt":
                continue  # a run directory never renamed into place holds no entry
            try:
                if path.name == MANIFEST:
                    decode_manifest(path.read_bytes())
                else:
                    found.update((r.source, r.sha256) for r in decode_entry(path.read_bytes()).raws)
            except SpoolCorruptError as exc:
                unreadable.append(f"{path.parent.name}/{path.name}: {exc}")
        return found, unreadable

    def check_replayed(self, spooled: Counter[tuple[str, str]]) -> list[str]:
        problems = []
        root = self.world.data_dir / "spool"
        left = [p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")] if root.is_dir() else []
        if [n for n in left if n != "corrupt"]:
            problems.append(f"spooled runs not replayed: {left}")
        if spooled:
            stored = Counter((r["source"], r["content_sha256"]) for r in _rows(
                self.engine, "SELECT source, content_sha256 FROM raw_payloads WHERE content_sha256 = ANY(:s)",
                s=sorted({sha for _, sha in spooled})))
            missing = spooled - stored
            if missing:
                problems.append(f"{sum(missing.values())} spooled response(s) not in raw_payloads after replay")
            self.stats.spooled_responses_replayed += sum((spooled & stored).values())
        for r in _rows(self.engine, "SELECT run_id, sources, outcome, status FROM snapshot_runs "
                                    "WHERE status = 'success'"):
            covered = {o.get("source") for o in r["outcome"] or []}
            if not set(r["sources"] or []) <= covered:
                problems.append(f"run {r['run_id']} says success but has no outcome for "
                                f"{sorted(set(r['sources']) - covered)}")
        return problems

    def _kill_later(self, proc: subprocess.Popen[str]) -> None:
        """SIGKILL at a random instant of the capture itself (after its run row exists)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if _rows(self.engine, "SELECT 1 FROM snapshot_runs WHERE status = 'running' AND pid = :p", p=proc.pid):
                break
            time.sleep(0.005)
        time.sleep(self.rng.uniform(0, self.window * 1.1))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)

    # --- invariants ------------------------------------------------------------------------------------------
    def check(self) -> list[str]:
        problems = []
        for r in _rows(self.engine, "SELECT s.broker, s.broker_account_id, s.snapshot_key, count(p.*) AS n "
                                    "FROM snapshots s LEFT JOIN positions p ON p.snapshot_id = s.id GROUP BY s.id"):
            base = self.baseline.get((r["broker"], r["broker_account_id"]), set())
            if int(r["n"]) not in base:
                problems.append(f"snapshot {r['snapshot_key']} has {r['n']} positions, baseline {sorted(base)}")
        orphans = _rows(self.engine, "SELECT s.snapshot_key FROM snapshots s WHERE NOT EXISTS (SELECT 1 FROM "
                                     "raw_payloads r WHERE r.run_id = s.run_id AND r.source = s.source)")
        if orphans:
            problems.append(f"{len(orphans)} snapshot(s) without the raw payloads they came from")
        for what, sql in {
            "snapshots": "SELECT snapshot_key FROM snapshots GROUP BY 1 HAVING count(*) > 1",
            "trades": "SELECT broker, broker_trade_id FROM trades GROUP BY 1, 2 HAVING count(*) > 1",
            "raw payloads": "SELECT run_id, source, endpoint, received_at, content_sha256 FROM raw_payloads "
                            "GROUP BY 1, 2, 3, 4, 5 HAVING count(*) > 1",
        }.items():
            if _rows(self.engine, sql):
                problems.append(f"duplicate {what}")
        problems += self._check_files()
        return problems

    def _check_files(self) -> list[str]:
        problems = []
        path = self.world.token_path
        if stat.S_IMODE(path.parent.stat().st_mode) != 0o700:
            problems.append(f"the data directory is {oct(stat.S_IMODE(path.parent.stat().st_mode))}, not 0700")
        try:
            if TokenStore(path).load() is None:
                problems.append("the Schwab token file is gone")
        except Exception as exc:  # a half-written token file would need a new login
            problems.append(f"the Schwab token file is unreadable: {exc}")
        for f in path.parent.glob("*"):
            # (the empty .lock file next to it holds no secret; the 0700 directory keeps others out anyway)
            if f.is_file() and "token" in f.name and f.suffix != ".lock" and stat.S_IMODE(f.stat().st_mode) & 0o077:
                problems.append(f"{f.name} is readable by others ({oct(stat.S_IMODE(f.stat().st_mode))})")
        return problems
