"""One exit-status table for every command (cli/common.py): 0 success, 2 partial or degraded, 1 failure,
2 usage or configuration. In-process through Typer's CliRunner against a real embedded PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner, Result

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.brokers.demo import DemoSource
from portfolio_dashboard.cli import app as cli_app
from portfolio_dashboard.cli.common import EXIT_CODES, exit_code
from portfolio_dashboard.config import load_settings
from portfolio_dashboard.domain import RunStatus, SourceStatus, TriggerContext, TriggerType
from portfolio_dashboard.local.spool import RunSpooler, Spool
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.services.runs import new_run
from tests.fakes.pgserver import TcpPostgres, tcp_postgres

ASOF = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)


def cli(*args: str) -> Result:
    return CliRunner().invoke(cli_app, list(args))


def test_the_table() -> None:
    assert EXIT_CODES == {"success": 0, "partial": 2, "degraded": 2, "fail": 1, "usage": 2}
    assert exit_code(RunStatus.SUCCESS) == 0 and exit_code(RunStatus.PARTIAL) == 2
    assert exit_code(RunStatus.FAIL) == 1 and exit_code("something new") == 1


def test_usage_mistakes_exit_2_with_one_line(app: App) -> None:
    for args, says in (
        (["capture", "--source", "nope"], "unknown source 'nope'"),
        (["capture", "--log-format", "xml"], "--log-format takes text or json"),
        (["reprocess"], "exactly one of --run ID"),
        (["reprocess", "--run", "not-a-uuid"], "--run takes a run id"),
        (["reprocess", "--since", "yesterday"], "--since 'yesterday' is not a date"),
        (["mapping", "list", "--broker", "nonsense"], "unknown broker 'nonsense'; choose from ib, schwab, demo"),
        (["mapping", "list", "--source", "guess"], "unknown mapping source 'guess'"),
        (["mapping", "set", "ib", "1"], "give either a TARGET or --new"),
        (["alerts", "test"], "ALERT_URLS is empty"),
        (["status", "--max-age", "garbage"], "--max-age"),
    ):
        out = cli(*args)
        assert out.exit_code == 2, (args, out.output)
        assert says in out.stderr, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert "Traceback" not in out.output


def test_reprocess_an_unknown_run_says_so_and_fails(app: App) -> None:
    assert cli("capture").exit_code == 0
    unknown = uuid.uuid4()
    out = cli("reprocess", "--run", str(unknown))
    assert out.exit_code == 1, out.output
    assert f"no finished run with id {unknown}" in out.stderr
    with app.engine.connect() as conn:
        known = conn.execute(text("SELECT run_id FROM snapshot_runs")).scalar_one()
    again = cli("reprocess", "--run", str(known))
    assert again.exit_code == 0, again.output
    assert "nothing changed" in again.stdout


def test_spool_replay_that_quarantined_files_exits_2(app: App) -> None:
    spool = Spool(app.settings.spool_dir)
    spooler = RunSpooler(spool, new_run("scheduled", "test", ["demo"]))
    spooler.spool_source("demo", "1", [], kind="raws", outcome={})
    spooler.close()
    (directory,) = spool.run_dirs()
    for path in directory.glob("*.json"):
        path.write_bytes(path.read_bytes()[:20])  # a torn write: unreadable
    out = cli("spool", "replay")
    assert out.exit_code == 2, out.output
    assert "unreadable spool file kept in" in out.stdout
    assert "quarantined" in out.stderr
    assert spool.run_dirs() == []  # nothing left to replay...
    assert spool.summary().corrupt == 1  # ...and nothing dropped
    clean = cli("spool", "replay")
    assert clean.exit_code == 0 and "nothing to replay" in clean.stdout


def test_json_output_carries_the_same_exit_code(app: App) -> None:
    out = cli("capture", "--json")
    assert out.exit_code == 0 and json.loads(out.stdout)["exit_code"] == 0
    status = cli("status", "--json", "--no-alerts")
    data = json.loads(status.stdout)
    assert status.exit_code == data["exit_code"] == 0 and data["outcome"] == "success"


@pytest.fixture(scope="module")
def tcp_server() -> Iterator[TcpPostgres]:
    with tcp_postgres() as server:
        yield server


def test_database_gone_after_one_source_was_stored_is_partial(tcp_server: TcpPostgres, tmp_path: Path) -> None:
    app = App(load_settings(database_url=tcp_server.url(), portfolio_data_dir=tmp_path / "data", _env_file=None))
    app.reference_factory = lambda _settings: None
    writing, proceed = threading.Event(), threading.Event()

    def progress(source: str, state: str) -> None:
        if source == "ib_flex" and state == "writing":  # the second source's write waits for the test
            writing.set()
            assert proceed.wait(30)

    box: dict[str, object] = {}
    trigger = TriggerContext(trigger_type=TriggerType.SCHEDULED)
    later = datetime(2026, 11, 21, 17, 0, tzinfo=UTC)  # another as-of: not the same snapshots twice
    worker = threading.Thread(target=lambda: box.update(result=capture(
        trigger, app=app, progress=progress,
        sources={"demo": DemoSource(clock=lambda: ASOF), "ib_flex": DemoSource(clock=lambda: later)})))
    worker.start()
    assert writing.wait(30)
    engine = create_engine(tcp_server.url().replace("postgres://", "postgresql+psycopg://", 1))
    deadline = time.monotonic() + 30
    with engine.connect() as conn:  # the first source is stored...
        while conn.execute(text("SELECT count(*) FROM snapshots")).scalar_one() == 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
            conn.rollback()
    engine.dispose()
    tcp_server.stop()  # ...then the database goes away
    try:
        proceed.set()
        worker.join(60)
        result = box["result"]
        statuses = {o.source: o.status for o in getattr(result, "sources")}  # noqa: B009
        assert statuses == {"demo": SourceStatus.SUCCESS, "ib_flex": SourceStatus.SPOOLED}
        assert getattr(result, "status") == RunStatus.PARTIAL  # noqa: B009
        assert exit_code(getattr(result, "status")) == 2  # noqa: B009
    finally:
        app.dispose()
        tcp_server.start()
