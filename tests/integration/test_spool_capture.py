"""The database away: nothing lost. Captures with PostgreSQL unreachable before the start and stopped half-way
are spooled, then replayed; the stored rows equal those of a capture with the database up, and replaying
again stores nothing twice. Real PostgreSQL throughout (the session's embedded server, and a second server on
TCP that the tests stop and start)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.brokers.base import FetchContext, Recorder
from portfolio_dashboard.brokers.demo import DemoSource
from portfolio_dashboard.cli.common import exit_code
from portfolio_dashboard.config import load_settings
from portfolio_dashboard.domain import RunStatus, SourceStatus, TriggerContext, TriggerType
from portfolio_dashboard.local.spool import Spool
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.services.replay import replay_pending
from portfolio_dashboard.storage.embedded import sqlalchemy_url
from tests.conftest import _drop_database, _new_database
from tests.fakes.pgserver import TcpPostgres, free_port, tcp_postgres

ASOF = datetime(2026, 11, 20, 16, 35, tzinfo=UTC)
TABLES = ("snapshot_runs", "raw_payloads", "snapshots", "positions", "fx_rates", "instruments", "broker_accounts",
          "trades", "global_instruments", "instrument_mapping", "cash_flows")
SCHEDULED = TriggerContext(TriggerType.SCHEDULED, "test", ("demo",))


def fixed_demo() -> DemoSource:
    return DemoSource(clock=lambda: ASOF)


class BlockingDemo(DemoSource):
    """The demo source whose fetch waits until the test has stopped the database."""

    def __init__(self) -> None:
        super().__init__(clock=lambda: ASOF)
        self.fetching = threading.Event()
        self.proceed = threading.Event()

    def fetch(self, record: Recorder, ctx: FetchContext) -> None:
        self.fetching.set()
        assert self.proceed.wait(30)
        super().fetch(record, ctx)


def make_app(url: str, data: Path) -> App:
    return App(load_settings(database_url=url, portfolio_data_dir=data, _env_file=None))


def counts(url: str) -> dict[str, int]:
    engine = create_engine(url.replace("postgres://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}
    finally:
        engine.dispose()


def values(url: str) -> list[tuple[object, ...]]:
    """What the snapshots mean: every position's key fields and GBP value, in a stable order."""
    engine = create_engine(url.replace("postgres://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(
                """SELECT s.snapshot_key, s.total_value_gbp, s.parser_version, i.broker_instrument_id, p.quantity,
                          p.market_value_gbp
                   FROM snapshots s JOIN positions p ON p.snapshot_id = s.id
                   JOIN instruments i ON i.id = p.instrument_id ORDER BY 1, 4"""))]
    finally:
        engine.dispose()


@pytest.fixture
def fresh_db(pg_admin_uri: str) -> Iterator[Callable[[], str]]:
    made: list[str] = []

    def make() -> str:
        made.append(_new_database(pg_admin_uri))
        return sqlalchemy_url(pg_admin_uri, made[-1])

    yield make
    for name in made:
        _drop_database(pg_admin_uri, name)


@pytest.fixture
def reference(fresh_db: Callable[[], str], tmp_path: Path) -> str:
    """A database holding the same capture made with the database up."""
    url = fresh_db()
    app = make_app(url, tmp_path / "ref")
    result = capture(SCHEDULED, app=app, sources={"demo": fixed_demo()})
    app.dispose()
    assert result.status == RunStatus.SUCCESS
    return url


def test_database_down_before_start_spools_then_replay_matches_a_normal_capture(
    fresh_db: Callable[[], str], reference: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    down = make_app(f"postgresql+psycopg://nobody:pw-zzz@127.0.0.1:{free_port()}/gone", data)
    result = capture(SCHEDULED, app=down, sources={"demo": fixed_demo()})
    down.dispose()

    assert result.status == RunStatus.FAIL
    assert exit_code(result.status) == 1
    assert [o.status for o in result.sources] == [SourceStatus.SPOOLED]
    assert "database unreachable" in (result.error_summary or "")
    assert "spool replay" in (result.error_summary or "")
    assert "pw-zzz" not in (result.error_summary or "")
    assert result.sources[0].accounts == ["DEMO-EU-01", "DEMO-ISA-01", "DEMO-US-01"]  # parsed before spooling
    spool = Spool(data / "spool")
    (run_dir,) = spool.run_dirs()
    assert oct(run_dir.stat().st_mode & 0o777) == "0o700"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in run_dir.iterdir())

    target = fresh_db()
    saved = tmp_path / "saved-spool"
    shutil.copytree(data / "spool", saved)
    up = make_app(target, data)
    report = replay_pending(up)
    assert report.entries_stored == 1
    assert report.runs[0].status == "success"
    assert spool.run_dirs() == []  # stored, so removed
    assert counts(target) == counts(reference)
    assert counts(target)["cash_flows"] > 0  # the demo's flows, parsed and stored by the replay
    assert values(target) == values(reference)
    with up.engine.connect() as conn:
        run = conn.execute(text("SELECT run_id, status, trigger_type, started_at, finished_at, warnings "
                                "FROM snapshot_runs")).one()
        received = conn.execute(text("SELECT received_at FROM raw_payloads")).scalar_one()
    assert run.run_id == result.run_id
    assert run.status == "success"
    assert run.trigger_type == "scheduled"
    assert run.started_at == result.started_at
    assert run.finished_at == result.finished_at
    assert any("stored from the local spool" in w for w in run.warnings)
    spooled_raw = Spool(saved).load(next(iter(Spool(saved).run_dirs()))).entries[0].raws[0]
    assert received == spooled_raw.received_at  # the original received time

    # Replaying the same spool again (restored from a copy) stores nothing twice.
    shutil.rmtree(data / "spool")
    shutil.copytree(saved, data / "spool")
    again = replay_pending(up)
    assert again.entries_stored == 0
    assert again.runs[0].entries_already_stored == 1
    assert counts(target) == counts(reference)
    up.dispose()


def test_next_capture_stores_the_spool_first(fresh_db: Callable[[], str], tmp_path: Path) -> None:
    data = tmp_path / "data"
    down = make_app(f"postgresql+psycopg://u@127.0.0.1:{free_port()}/gone", data)
    spooled = capture(SCHEDULED, app=down, sources={"demo": fixed_demo()})
    down.dispose()
    up = make_app(fresh_db(), data)
    later = DemoSource(clock=lambda: datetime(2026, 11, 21, 16, 35, tzinfo=UTC))
    result = capture(SCHEDULED, app=up, sources={"demo": later})
    assert result.status == RunStatus.SUCCESS
    with up.engine.connect() as conn:
        runs = conn.execute(text("SELECT run_id, status FROM snapshot_runs ORDER BY started_at")).all()
        snapshots = conn.execute(text("SELECT count(*) FROM snapshots")).scalar_one()
    assert [tuple(r) for r in runs] == [(spooled.run_id, "success"), (result.run_id, "success")]
    assert snapshots == 6
    assert Spool(data / "spool").run_dirs() == []
    up.dispose()


@pytest.fixture(scope="module")
def tcp_server() -> Iterator[TcpPostgres]:
    with tcp_postgres() as server:
        yield server


def test_database_stopped_mid_capture_spools_then_replay_matches(
    tcp_server: TcpPostgres, reference: str, tmp_path: Path
) -> None:
    with psycopg.connect(tcp_server.admin_uri, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{tcp_server.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{tcp_server.database}" OWNER "{tcp_server.user}"')
    data = tmp_path / "data"
    app = make_app(tcp_server.url(), data)
    source = BlockingDemo()
    box: dict[str, object] = {}
    worker = threading.Thread(target=lambda: box.update(result=capture(SCHEDULED, app=app,
                                                                        sources={"demo": source})))
    worker.start()
    assert source.fetching.wait(30)  # the run is recorded and the fetch under way...
    tcp_server.stop()  # ...when the database goes away
    source.proceed.set()
    worker.join(60)
    result = box["result"]
    assert getattr(result, "status") == RunStatus.FAIL  # noqa: B009
    assert [o.status for o in getattr(result, "sources")] == [SourceStatus.SPOOLED]  # noqa: B009
    assert "spool" in getattr(result, "error_summary")  # noqa: B009

    tcp_server.start()
    app.dispose()
    app = make_app(tcp_server.url(), data)
    report = replay_pending(app)
    assert report.entries_stored == 1
    assert report.runs[0].status == "success"
    assert counts(tcp_server.url()) == counts(reference)
    assert values(tcp_server.url()) == values(reference)
    with app.engine.connect() as conn:
        status, outcome = conn.execute(text("SELECT status, outcome FROM snapshot_runs")).one()
    assert status == "success"
    assert outcome[0]["status"] == "success"
    assert outcome[0]["positions_written"] == 17
    app.dispose()


def test_a_commit_lost_in_flight_is_not_stored_twice(fresh_db: Callable[[], str], tmp_path: Path) -> None:
    """The write committed but the capture saw the connection die and spooled the same responses: the replay
    must recognise them (deterministic raw payload ids), not store a second copy."""
    from portfolio_dashboard.local.spool import RunMeta, RunSpooler

    url = fresh_db()
    data = tmp_path / "data"
    app = make_app(url, data)
    source = fixed_demo()
    raws = []
    source.fetch(raws.append, FetchContext())
    result = capture(SCHEDULED, app=app, sources={"demo": _Replaying(raws)})
    before = counts(url)
    meta = RunMeta(result.run_id, "scheduled", "test", ("demo",), result.started_at, "host", 1, "0", "0003")
    spooler = RunSpooler(Spool(data / "spool"), meta)
    spooler.spool_source("demo", "1", raws, kind="parse", outcome={"source": "demo", "status": "spooled"})
    spooler.close()
    report = replay_pending(app)
    assert report.entries_stored == 1
    assert report.runs[0].raw_payloads == 0
    assert counts(url) == before
    app.dispose()


class _Replaying(DemoSource):
    def __init__(self, raws: list) -> None:  # type: ignore[type-arg]
        super().__init__(clock=lambda: ASOF)
        self.raws = raws

    def fetch(self, record: Recorder, ctx: FetchContext) -> None:
        for raw in self.raws:
            record(raw)


def test_replay_leaves_a_run_still_being_captured_alone(fresh_db: Callable[[], str], tmp_path: Path) -> None:
    from portfolio_dashboard.local.spool import RunMeta, RunSpooler

    data = tmp_path / "data"
    raws: list = []  # type: ignore[type-arg]
    fixed_demo().fetch(raws.append, FetchContext())
    import uuid

    meta = RunMeta(uuid.uuid4(), "manual", "test", ("demo",), datetime.now(UTC), "host", 1, "0", "0003")
    spooler = RunSpooler(Spool(data / "spool"), meta)
    spooler.spool_source("demo", "1", raws, kind="parse", outcome={"source": "demo", "status": "spooled"})
    app = make_app(fresh_db(), data)
    try:
        report = replay_pending(app)
        assert report.in_progress == 1
        assert report.runs == []
    finally:
        spooler.close()
    report = replay_pending(app)
    assert report.entries_stored == 1
    app.dispose()
