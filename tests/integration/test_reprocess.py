"""Reprocessing stored raw payloads: twice changes nothing; after a parser change the derived rows follow and
record the parser version; raw payloads are never modified; incomplete fetches are never re-parsed."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from portfolio_dashboard.bootstrap import App, get_app
from portfolio_dashboard.brokers.base import FetchContext, Recorder
from portfolio_dashboard.brokers.demo import DemoSource
from portfolio_dashboard.config import Settings
from portfolio_dashboard.domain import ParseResult, RawResponse, TriggerContext
from portfolio_dashboard.errors import DatabaseError, NetworkError, ParsingError
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.services.reprocess import Selection, reprocess
from portfolio_dashboard.storage import bulk
from tests.integration.roles import as_plain_role

DAY1 = datetime(2026, 11, 18, 16, 35, tzinfo=UTC)


class DemoV2(DemoSource):
    """A "fixed" parser: a new as-of label, a corrected cost basis, and the pence ETF dropped."""

    parser_version = "2"

    def parse(self, raws: Sequence[RawResponse]) -> ParseResult:
        out = super().parse(raws)
        snaps = []
        for s in out.snapshots:
            positions = [p for p in s.positions if p.instrument.symbol != "SGLN"]
            positions[0] = replace(positions[0], cost_basis=(positions[0].cost_basis or Decimal(0)) + 1)
            snaps.append(replace(s, positions=tuple(positions), asof_source="demo.asof.v2"))
        return replace(out, snapshots=tuple(snaps))


class DemoLaterAsof(DemoSource):
    parser_version = "3"

    def parse(self, raws: Sequence[RawResponse]) -> ParseResult:
        out = super().parse(raws)
        return replace(out, snapshots=tuple(replace(s, asof_ts=s.asof_ts + timedelta(seconds=1))
                                            for s in out.snapshots))


class UnparseableDemo(DemoSource):
    def parse(self, raws: Sequence[RawResponse]) -> ParseResult:
        raise ParsingError("unexpected shape", source="demo")


class HalfFetchedDemo(DemoSource):
    def fetch(self, record: Recorder, ctx: FetchContext) -> None:
        super().fetch(record, ctx)
        raise NetworkError("connection reset on page 2", source="demo")


def snapshot_state(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            """SELECT s.id, s.run_id, s.snapshot_key, s.total_value_gbp, s.reported_total_gbp, s.parser_version,
                      s.asof_source, s.fx_complete, s.warnings, p.instrument_id, p.quantity, p.market_value_gbp,
                      p.cost_basis, p.fx_rate_id
               FROM snapshots s LEFT JOIN positions p ON p.snapshot_id = s.id
               ORDER BY s.snapshot_key, p.instrument_id"""))]


def raw_fingerprint(engine: Engine) -> str:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT raw_payloads::text FROM raw_payloads ORDER BY id")).scalars().all()
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def three_days(app: App) -> None:
    for day in range(3):
        at = DAY1 + timedelta(days=day)
        capture(TriggerContext(sources=("demo",)), app=app, sources={"demo": DemoSource(clock=lambda at=at: at)})


def test_reprocessing_twice_changes_nothing(app: App) -> None:
    three_days(app)
    before, raws = snapshot_state(app.engine), raw_fingerprint(app.engine)
    first = reprocess(app, Selection(all=True))
    assert not first.changed, first.text()
    assert first.groups == 3
    assert first.snapshots_unchanged == 9
    assert first.positions_total == 51
    assert first.raws_reserialised == 0
    second = reprocess(app, Selection(all=True))
    assert not second.changed
    assert snapshot_state(app.engine) == before
    assert raw_fingerprint(app.engine) == raws


def test_a_parser_change_updates_the_derived_rows_and_records_its_version(settings: Settings) -> None:
    app = App(settings)
    three_days(app)
    raws = raw_fingerprint(app.engine)
    with app.engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT snapshot_key, id FROM snapshots")).all())
        first_run = conn.execute(text("SELECT run_id FROM snapshot_runs ORDER BY started_at LIMIT 1")).scalar_one()
    v2 = App(settings, source_factory=lambda name, s: DemoV2())
    only_first = reprocess(v2, Selection(run_ids=(first_run,)))
    assert only_first.snapshots_updated == 3
    assert only_first.positions_deleted == 1  # SGLN, in the ISA only
    assert only_first.positions_updated == 3
    report = reprocess(v2, Selection(all=True))
    assert report.parser_versions == {"demo": "2"}
    assert report.snapshots_updated == 6
    assert report.positions_deleted == 2
    assert report.snapshots_inserted == 0
    with v2.engine.connect() as conn:
        rows = conn.execute(text("SELECT snapshot_key, id, parser_version, asof_source FROM snapshots")).all()
        sgln = conn.execute(text(
            "SELECT count(*) FROM positions_history WHERE symbol = 'SGLN'")).scalar_one()
    assert {r[0]: r[1] for r in rows} == ids  # updated in place: same rows, same keys
    assert {(r[2], r[3]) for r in rows} == {("2", "demo.asof.v2")}
    assert sgln == 0
    assert raw_fingerprint(v2.engine) == raws  # raw payloads are never modified
    after = snapshot_state(v2.engine)
    again = reprocess(v2, Selection(all=True))
    assert not again.changed, again.text()
    assert snapshot_state(v2.engine) == after
    back = reprocess(app, Selection(since=DAY1 - timedelta(days=1)))  # today's parser restores the originals
    assert back.snapshots_updated == 9
    assert back.positions_inserted == 3
    app.dispose()
    v2.dispose()


def test_a_changed_as_of_replaces_the_snapshot(settings: Settings) -> None:
    app = App(settings)
    three_days(app)
    later = App(settings, source_factory=lambda name, s: DemoLaterAsof())
    report = reprocess(later, Selection(all=True))
    assert report.snapshots_removed == 9
    assert report.snapshots_inserted == 9
    with later.engine.connect() as conn:
        keys = conn.execute(text("SELECT snapshot_key FROM snapshots")).scalars().all()
        positions = conn.execute(text("SELECT count(*) FROM positions")).scalar_one()
    assert len(keys) == 9
    assert all(k.endswith(":01.000000+00:00") for k in keys)
    assert positions == 51
    assert not reprocess(later, Selection(all=True)).changed
    app.dispose()
    later.dispose()


def test_only_complete_fetches_are_reparsed(settings: Settings) -> None:
    app = App(settings)
    broken = capture(TriggerContext(), app=app, sources={"demo": UnparseableDemo(clock=lambda: DAY1)})
    half = capture(TriggerContext(), app=app,
                   sources={"demo": HalfFetchedDemo(clock=lambda: DAY1 + timedelta(days=1))})
    assert broken.sources[0].error_category == "parsing"
    assert half.sources[0].error_category == "network"
    report = reprocess(app, Selection(all=True))
    assert report.snapshots_inserted == 3  # the parser is fixed: the first capture's data is recovered
    assert report.skipped == [f"run {half.run_id} demo: its fetch did not complete"]
    with app.engine.connect() as conn:
        runs = conn.execute(text("SELECT DISTINCT run_id FROM snapshots")).scalars().all()
    assert runs == [broken.run_id]
    app.dispose()


def test_a_failing_parser_leaves_stored_rows_alone_and_says_so(settings: Settings) -> None:
    app = App(settings)
    three_days(app)
    before = snapshot_state(app.engine)
    report = reprocess(App(settings, source_factory=lambda n, s: UnparseableDemo()), Selection(all=True))
    assert len(report.failures) == 3
    assert report.outcome == "partial"
    assert "parsing: unexpected shape" in report.failures[0]
    assert snapshot_state(app.engine) == before
    app.dispose()


def test_rows_stored_before_exact_bodies_are_parsed_from_their_json(app: App) -> None:
    three_days(app)
    with app.engine.begin() as conn:
        conn.execute(text("UPDATE raw_payloads SET body_bytes = NULL"))
    report = reprocess(app, Selection(all=True))
    assert report.raws_reserialised == 3
    assert not report.changed


def test_reprocess_command(settings: Settings) -> None:
    from portfolio_dashboard.cli import app as cli

    application = get_app(settings)
    three_days(application)
    runner = CliRunner()
    missing = runner.invoke(cli, ["reprocess"])
    assert missing.exit_code == 2  # a usage mistake
    assert "exactly one of --run ID, --since DATE or --all" in missing.output
    done = runner.invoke(cli, ["reprocess", "--since", "2000-01-01"])
    assert done.exit_code == 0, done.output
    assert "reprocessed 3 source capture(s) in 3 run(s)" in done.output
    assert "nothing changed" in done.output
    application.dispose()


# --- the bulk write path (storage/bulk.py) --------------------------------------------------------------------

def test_positions_of_snapshots_that_have_none_go_straight_in(settings: Settings) -> None:
    app = App(settings)
    three_days(app)
    before = snapshot_state(app.engine)
    with app.engine.begin() as conn:
        conn.execute(text("DELETE FROM positions"))
    report = reprocess(app, Selection(all=True))
    assert (report.positions_inserted, report.positions_updated, report.positions_deleted) == (51, 0, 0)
    assert report.snapshots_unchanged == 9
    assert snapshot_state(app.engine) == before
    assert not reprocess(app, Selection(all=True)).changed
    app.dispose()


def test_an_app_role_writes_the_same_rows_as_the_superuser(settings: Settings) -> None:
    """One write path for every role: a least-privilege app role restores the same rows."""
    app = App(settings)
    three_days(app)
    before = snapshot_state(app.engine)
    with app.engine.begin() as conn:
        conn.execute(text("DELETE FROM positions WHERE instrument_id IN (SELECT id FROM instruments "
                          "WHERE symbol IN ('SGLN', 'AAPL'))"))
        conn.execute(text("DELETE FROM positions WHERE snapshot_id = (SELECT min(id::text)::uuid FROM snapshots)"))
    as_plain_role(app.engine)
    with app.engine.connect() as conn:
        assert not conn.execute(text("SELECT current_setting('is_superuser') = 'on'")).scalar_one()
    report = reprocess(app, Selection(all=True))
    assert report.positions_inserted > 3 and report.positions_updated == 0
    assert snapshot_state(app.engine) == before
    app.dispose()


def test_a_position_whose_instrument_is_gone_stops_the_batch(app: App) -> None:
    three_days(app)
    with app.engine.connect() as conn:
        run_id, key, account = conn.execute(text(
            "SELECT run_id, snapshot_key, broker_account_id FROM snapshots ORDER BY snapshot_key LIMIT 1")).one()
        snap = conn.execute(text("SELECT * FROM snapshots WHERE snapshot_key = :k"), {"k": key}).mappings().one()
        conn.execute(text("DELETE FROM positions WHERE snapshot_id = :i"), {"i": snap["id"]})
        conn.commit()
        staged = (0, run_id, "demo", account, snap["asof_ts"], key, "demo", snap["total_value_local"],
                  snap["total_value_gbp"], snap["base_currency"], snap["account_currency"],
                  snap["reported_total_gbp"], snap["asof_source"], snap["parser_version"], snap["fx_complete"],
                  '[]', None, None, '{}', None)
        tx = conn.begin()  # as in a reprocess batch: the writes run in a transaction the connection knows of
        with pytest.raises(DatabaseError, match=r"no longer exist .*instrument"):
            bulk.write_batch(conn, snapshots=[staged],
                             positions=[(0, str(uuid.uuid4()), Decimal(1), None, Decimal(1), None, None, None, None)])
        tx.rollback()
        left = conn.execute(text("SELECT count(*) FROM positions WHERE snapshot_id = :i"), {"i": snap["id"]})
        assert left.scalar_one() == 0


def test_the_cycle_collector_is_back_on_afterwards_however_it_ends(app: App) -> None:
    import gc

    from portfolio_dashboard.errors import ConfigError

    three_days(app)
    reprocess(app, Selection(all=True))
    assert gc.isenabled()
    with pytest.raises(ConfigError):
        reprocess(app, Selection())  # no runs named: refused
    assert gc.isenabled()


def test_a_small_last_batch_is_written_with_the_one_before(app: App) -> None:
    """Five daily runs of 17 positions: batches of 68 would leave 17 (a quarter) for a transaction of their own;
    the fourth run's batch takes the fifth run too. Batches of 60 would leave more: two transactions."""
    for day in range(5):
        at = DAY1 + timedelta(days=day)
        capture(TriggerContext(sources=("demo",)), app=app, sources={"demo": DemoSource(clock=lambda at=at: at)})
    whole = reprocess(app, Selection(all=True), batch_positions=68)
    assert (whole.batches, whole.positions_total) == (1, 85)
    split = reprocess(app, Selection(all=True), batch_positions=60)
    assert (split.batches, split.positions_total) == (2, 85)
    assert not whole.changed and not split.changed
