"""A capture killed with SIGKILL at random points never leaves half a snapshot, and the next one succeeds."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.crash_worker import POSITIONS

ROOT = Path(__file__).resolve().parents[2]


def worker(env: dict[str, str], seed: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "tests.e2e.crash_worker", str(seed)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_sigkill_at_random_points_leaves_no_partial_snapshot(cli_env, db_url):
    rng = random.Random(1234)  # reproducible kill points
    engine = create_engine(db_url)
    # How long does one capture take here (from its run row to its end)? Kill points spread over that window.
    assert worker(cli_env, 0).wait(120) == 0
    with engine.connect() as conn:
        window = conn.execute(text("SELECT extract(epoch FROM finished_at - started_at) FROM snapshot_runs")).scalar()
    killed = 0
    attempts = 0
    # Kill points are drawn over the capture's measured window; a capture that finishes before its kill point
    # (the machine got faster than the first, cold run) narrows the window and the campaign tries again, so
    # enough kills land inside captures whatever the machine's load.
    while killed < 4 and attempts < 20:
        attempts += 1
        proc = worker(cli_env, attempts)
        # wait until this capture has recorded its run, so every kill lands inside the capture itself
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            with engine.connect() as conn:
                if conn.execute(text("SELECT count(*) FROM snapshot_runs WHERE status = 'running' AND pid = :p"),
                                {"p": proc.pid}).scalar():
                    break
            time.sleep(0.01)
        time.sleep(rng.uniform(0, float(window) * 0.9))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        elif proc.returncode == 0:
            with engine.connect() as conn:
                took = conn.execute(text(
                    "SELECT extract(epoch FROM finished_at - started_at) FROM snapshot_runs WHERE pid = :p "
                    "ORDER BY started_at DESC LIMIT 1"), {"p": proc.pid}).scalar()
            if took is not None:
                window = min(window, took)
        proc.wait(60)
        with engine.connect() as conn:
            counts = conn.execute(text(
                "SELECT s.id, count(p.*) FROM snapshots s LEFT JOIN positions p ON p.snapshot_id = s.id "
                "GROUP BY s.id")).all()
        # every stored snapshot has all its positions (+1 cash), never a part of them
        assert all(n == POSITIONS + 1 for _, n in counts), counts
    assert killed >= 4, f"only {killed} of {attempts} kill points landed while the capture ran"
    # the next capture succeeds and reaps the killed runs
    assert worker(cli_env, 99).wait(120) == 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM snapshot_runs WHERE status = 'running'")).scalar() == 0
        interrupted = conn.execute(text(
            "SELECT count(*) FROM snapshot_runs WHERE error_summary LIKE '%interrupted%'")).scalar()
    assert interrupted >= 1
    engine.dispose()
