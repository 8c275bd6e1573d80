"""A simulated year unattended (``soak.py``): a short version in every run, the year under ``-m chaos``.

    uv run pytest tests/chaos/test_soak_year.py                 # 30 days
    uv run pytest -m chaos tests/chaos/test_soak_year.py -s     # 365 days, with the figures printed
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.local.spool import Spool
from portfolio_dashboard.services.alerts import DbStateStore, FileStateStore
from portfolio_dashboard.services.monitoring import ALERT_STATE_FILE
from tests.chaos.soak import Year, disk_use, first_day, plan_year, soak_processes
from tests.fakes.pgserver import free_port

DEMO_ACCOUNTS = 3


def _year(app: App, cli_env: dict[str, str], tmp_path: Path, days: int, seed: int) -> None:
    app.migrate()
    with app.engine.connect() as conn:
        db_before = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    dead_url = f"postgresql://u:pw@127.0.0.1:{free_port()}/gone"
    plan = plan_year(days, seed, first_day(days))
    report = Year(app, cli_env, dead_url, tmp_path).run(plan)
    with app.engine.connect() as conn:
        per_day = dict(conn.execute(text(
            "SELECT (asof_ts AT TIME ZONE 'UTC')::date, count(*) FROM snapshots GROUP BY 1")).all())
        distinct = conn.execute(text(
            "SELECT count(DISTINCT (broker, broker_account_id, asof_ts)) FROM snapshots")).scalar_one()
        running = conn.execute(text("SELECT count(*) FROM snapshot_runs WHERE status = 'running'")).scalar_one()
        db_after = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    states = {k: s.state for k, s in DbStateStore(app.engine).load().items()}
    spool = Spool(app.settings.spool_dir)
    data_bytes = disk_use(app.settings.portfolio_data_dir)
    grown = (db_after - db_before) / days
    print(f"\nsoak: {days} days (seed {seed}) in {report.seconds:.0f}s, {report.attempts} capture attempts, "
          f"faults {dict(report.faults)}, killed processes exited {report.exit_codes}; alerts sent "
          f"{len(report.messages)} ({', '.join(sorted({m.key + ':' + m.kind for m in report.messages}))}); "
          f"data dir {data_bytes} bytes; database +{grown / 1024:.0f} KiB/day")

    # every day's data stored exactly once
    assert set(per_day) == set(plan)
    assert set(per_day.values()) == {DEMO_ACCOUNTS}
    assert distinct == days * DEMO_ACCOUNTS
    assert running == 0  # killed runs were reaped
    # the spool is empty, nothing quarantined
    assert spool.run_dirs() == [] and spool.summary().corrupt == 0
    # no process left running (the killed ones were waited for; SIGTERM ended its process normally)
    assert soak_processes() == []
    assert all(code in (-9, 128 + 15) for code in report.exit_codes), report.exit_codes
    # alerts: the dead week fired and resolved the database alert once; each failed first attempt fired the
    # run alert and its retry resolved it; nothing went stale; everything is ok at the end
    failed_first = report.faults["outage"] + report.faults["token"]
    assert report.sent("database", "firing") == report.sent("database", "resolved") == 1
    assert report.sent("run", "firing") == report.sent("run", "resolved") == failed_first
    assert report.sent("stale", "firing") == 0
    file_states = FileStateStore(app.settings.portfolio_data_dir / ALERT_STATE_FILE).load()
    assert {s.state for s in file_states.values()} | set(states.values()) <= {"ok"}
    # disk use bounded: the data directory holds a little state, not a year of anything
    assert data_bytes < 64 * 1024, data_bytes
    assert grown < 256 * 1024, grown  # three small demo accounts a day


@pytest.mark.timeout(120)
def test_a_month_unattended(app: App, cli_env: dict[str, str], tmp_path: Path) -> None:
    _year(app, cli_env, tmp_path, days=int(os.environ.get("SOAK_DAYS", "30")), seed=22)


@pytest.mark.chaos
@pytest.mark.timeout(1800)
def test_a_year_unattended(app: App, cli_env: dict[str, str], tmp_path: Path) -> None:
    _year(app, cli_env, tmp_path, days=365, seed=int(os.environ.get("SOAK_SEED", "2026")))
