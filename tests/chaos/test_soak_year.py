"""A simulated year unattended (``soak.py``): a short version in every run, the year under ``-m chaos``.

uv run pytest tests/chaos/test_soak_year.py -s              # 15 days, every fault kind at least once
uv run pytest -m chaos tests/chaos/test_soak_year.py -s     # 365 days, with the figures printed
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from portfolio_dashboard.config import load_settings
from portfolio_dashboard.local.spool import Spool
from portfolio_dashboard.services.alerts import DbStateStore, FileStateStore
from portfolio_dashboard.services.monitoring import ALERT_STATE_FILE
from portfolio_dashboard.storage.embedded import stop_embedded
from tests.chaos.soak import ROOT, Year, disk_use, first_day, plan_year, processes_of
from tests.chaos.world import World, closed_port_url
from tests.integration.test_embedded_server import env_without_database_url, servers_of

ACCOUNTS = 6  # two each: the gateway, Schwab, Flex
DB_GROWTH_PER_DAY = 512 * 1024  # six snapshots and ~20 raw broker responses a day (measured: see reliability.md)


@pytest.fixture
def work() -> Iterator[Path]:
    """Not under pytest's tmp_path: another pytest session resets that to 0700, locking out the embedded
    server's own system user when tests run as root (see tests/conftest.py)."""
    path = Path(tempfile.mkdtemp(prefix="pd-soak-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _year(work: Path, days: int, seed: int) -> None:
    data = work / "data"
    pgdata = (data / "pgdata").resolve()
    plan = plan_year(days, seed, first_day(days))
    with World(data, tls=False) as world:
        brokers = {k.lower(): v for k, v in world.env().items()}
        live = load_settings(_env_file=None, portfolio_data_dir=data, **brokers)
        dead = load_settings(
            _env_file=None, portfolio_data_dir=data, **brokers, database_url=closed_port_url("postgresql") + "/gone"
        )
        env = {**env_without_database_url(data), **world.env(), "PYTHONPATH": str(ROOT)}
        year = Year(world, live, dead, env, work)
        year.app.migrate()
        with year.app.engine.connect() as conn:
            db_before = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        try:
            report = year.run(plan)
            with year.app.engine.connect() as conn:
                stored = conn.execute(
                    text(
                        "SELECT source, broker, broker_account_id, (asof_ts AT TIME ZONE "
                        "CASE source WHEN 'ib_flex' THEN 'America/New_York' ELSE 'UTC' END)::date AS day "
                        "FROM snapshots"
                    )
                ).all()
                running = conn.execute(text("SELECT count(*) FROM snapshot_runs WHERE status = 'running'")).scalar_one()
                db_after = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            states = {k: s.state for k, s in DbStateStore(year.app.engine).load().items()}
        finally:
            year.app.dispose()
            stop_embedded(pgdata)  # the last live holder leaves: the server must stop (killed holders pruned)
    spool = Spool(live.spool_dir)
    pg_bytes = disk_use(pgdata)
    other_bytes = disk_use(data, skip="pgdata")
    grown = (db_after - db_before) / days
    print(
        f"\nsoak: {days} days (seed {seed}) in {report.seconds:.0f}s, {report.attempts} capture attempts "
        f"(in-process runs {dict(report.run_status)}), faults {dict(report.faults)}, killed processes "
        f"exited {report.exit_codes}, seconds by day kind {dict(report.seconds_by_kind)}, after reboots {report.reboots}; alerts sent {len(report.messages)} "
        f"({', '.join(sorted({m.key.split(':')[0] + ':' + m.kind for m in report.messages}))}); data dir "
        f"{other_bytes} bytes besides pgdata {pg_bytes / 2**20:.0f} MiB; database +{grown / 1024:.0f} KiB/day"
    )

    # every day's data stored exactly once, for every account of every source (a Flex as-of is its report
    # day's close in New York; a statement also carries the day before its report day: the first one adds the
    # day before the year, later ones are found stored)
    per_account: dict[tuple[str, str, str], list[date]] = defaultdict(list)
    for source, broker, account, day in stored:
        per_account[(source, broker, account)].append(day)
    assert len(per_account) == ACCOUNTS, sorted(per_account)
    for key, days_stored in per_account.items():
        assert len(days_stored) == len(set(days_stored)), (key, sorted(days_stored))  # none twice
        expected = set(plan) | ({min(plan) - timedelta(days=1)} if key[0] == "ib_flex" else set())
        assert set(days_stored) <= expected and set(plan) <= set(days_stored), (key, sorted(days_stored))
    assert running == 0  # killed runs were reaped
    # the spool is empty, nothing quarantined
    assert spool.run_dirs() == [] and spool.summary().corrupt == 0
    # no process or server left running: killed workers were waited for, the last holder stopped the server
    assert processes_of(b"tests.chaos.kill_worker") == []
    assert servers_of(pgdata) == [], "the embedded server outlived its last live holder"
    assert set(report.exit_codes.get("sigkill", [])) <= {-9}
    assert set(report.exit_codes.get("sigterm", [])) <= {128 + 15}  # SIGTERM ends a command like Ctrl-C
    assert all(r == "exit 0, no server left, unrelated process untouched" for r in report.reboots), report.reboots
    assert len(report.reboots) == report.faults["reboot"]
    # alerts: the dead week fired and resolved the database alert once; each failed first attempt fired the
    # run alert and its retry resolved it; nothing went stale; everything is ok at the end
    failed_first = report.faults["outage"] + report.faults["token"]
    assert report.sent("database", "firing") == report.sent("database", "resolved") == 1
    assert report.sent("run", "firing") == report.sent("run", "resolved") == failed_first
    assert report.sent("stale", "firing") == 0
    file_states = FileStateStore(data / ALERT_STATE_FILE).load()
    assert {s.state for s in file_states.values()} | set(states.values()) <= {"ok"}
    # disk use bounded: besides the database the folder holds a little state, not a year of anything
    assert other_bytes < 64 * 1024, other_bytes
    assert grown < DB_GROWTH_PER_DAY, grown


@pytest.mark.timeout(180)
def test_a_fortnight_unattended(work: Path) -> None:
    _year(work, days=int(os.environ.get("SOAK_DAYS", "15")), seed=22)


@pytest.mark.chaos
@pytest.mark.timeout(3600)
def test_a_year_unattended(work: Path) -> None:
    _year(work, days=365, seed=int(os.environ.get("SOAK_SEED", "2026")))
