"""Reprocess batches (``reprocess_writer.py``), each one transaction: a snapshot key two runs produced is kept by
the run that stored it (else the first), wherever the batches end; a batch that fails rolls back whole, leaving
every snapshot as it was; trades keep the run that stored them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.brokers.demo import DemoSource
from portfolio_dashboard.config import Settings
from portfolio_dashboard.domain import ParseResult, RawResponse, Trade, TriggerContext
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.services.reprocess import ReprocessReport, Selection, reprocess
from tests.integration.test_reprocess import DAY1, DemoLaterAsof, DemoV2, snapshot_state

COUNTS = ("snapshots_inserted", "snapshots_updated", "snapshots_unchanged", "snapshots_removed",
          "positions_inserted", "positions_updated", "positions_deleted", "positions_total")


# Every test runs with all runs in one batch and with a batch per run (17 positions a demo capture).
BATCHES = pytest.mark.parametrize("batch_positions", [50_000, 17], ids=["one batch", "a batch per run"])


def history(app: App) -> dict[str, uuid.UUID]:
    """Four runs in this order: day 1, day 2, day 1 again (the same broker state: it stores no snapshot of its
    own, its raws parse to the keys day 1 stored), day 3."""
    runs = {}
    for name, day in (("day1", 0), ("day2", 1), ("day1 again", 0), ("day3", 2)):
        at = DAY1 + timedelta(days=day)
        result = capture(TriggerContext(sources=("demo",)), app=app,
                         sources={"demo": DemoSource(clock=lambda at=at: at)})
        runs[name] = result.run_id
    with app.engine.connect() as conn:
        owners = conn.execute(text("SELECT DISTINCT run_id FROM snapshots")).scalars().all()
    assert set(owners) == {runs["day1"], runs["day2"], runs["day3"]}
    return runs


def counts(report: ReprocessReport) -> dict[str, int]:
    return {name: getattr(report, name) for name in COUNTS}


def owners(engine: Engine) -> dict[str, uuid.UUID]:
    with engine.connect() as conn:
        return {key: run for key, run in conn.execute(text("SELECT snapshot_key, run_id FROM snapshots"))}


def rows_without_ids(engine: Engine) -> list[tuple[object, ...]]:
    """The snapshot state with the generated ids left out (a replaced snapshot gets a new id)."""
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            """SELECT s.run_id, s.snapshot_key, s.total_value_gbp, s.parser_version, s.asof_source, s.warnings,
                      i.symbol, p.quantity, p.market_value_gbp, p.cost_basis, f.rate
               FROM snapshots s LEFT JOIN positions p ON p.snapshot_id = s.id
               LEFT JOIN instruments i ON i.id = p.instrument_id LEFT JOIN fx_rates f ON f.id = p.fx_rate_id
               ORDER BY s.snapshot_key, i.symbol"""))]


@BATCHES
def test_a_parser_change_is_written_once_and_the_first_owner_keeps_its_snapshots(settings: Settings,
                                                                                  batch_positions: int) -> None:
    app = App(settings)
    runs = history(app)
    v2 = App(settings, source_factory=lambda name, s: DemoV2())
    first = reprocess(v2, Selection(all=True), batch_positions=batch_positions)
    assert first.snapshots_updated == 9
    assert (first.batches > 1) == (batch_positions < 68)
    written = snapshot_state(app.engine)
    assert runs["day1 again"] not in owners(app.engine).values()  # day 1's snapshots stay with the run that stored them
    again = reprocess(v2, Selection(all=True), batch_positions=batch_positions)
    assert not again.changed, again.text()
    assert snapshot_state(app.engine) == written
    reprocess(app, Selection(all=True), batch_positions=batch_positions)  # back to today's parser
    assert counts(reprocess(v2, Selection(all=True), batch_positions=batch_positions)) == counts(first)
    assert snapshot_state(app.engine) == written
    app.dispose()
    v2.dispose()


@BATCHES
def test_snapshots_lost_from_the_database_go_back_to_the_first_run_that_has_them(settings: Settings,
                                                                                   batch_positions: int) -> None:
    """Day 1's snapshots deleted: day 1 and "day 1 again" both re-parse to those keys, none stored. The first run
    gets them, in one batch or in batches of their own; the other writes none of them (no duplicate)."""
    app = App(settings)
    runs = history(app)
    original = rows_without_ids(app.engine)
    with app.engine.begin() as conn:
        conn.execute(text("DELETE FROM snapshots WHERE run_id = :r"), {"r": runs["day1"]})
    report = reprocess(app, Selection(all=True), batch_positions=batch_positions)
    assert (report.snapshots_inserted, report.positions_inserted, report.snapshots_removed) == (3, 17, 0)
    assert rows_without_ids(app.engine) == original
    assert set(owners(app.engine).values()) == {runs["day1"], runs["day2"], runs["day3"]}
    assert not reprocess(app, Selection(all=True), batch_positions=batch_positions).changed
    app.dispose()


def test_a_batch_that_removes_snapshots_fails_whole(settings: Settings) -> None:
    """A new as-of gives every snapshot a new key: the old ones are removed and the new ones inserted, in one
    transaction, so a failure leaves every account with its old snapshots rather than none."""
    app = App(settings)
    history(app)
    before = rows_without_ids(app.engine)
    with app.engine.begin() as conn:
        conn.execute(text(
            """CREATE FUNCTION refuse_day3() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN
                   IF (SELECT asof_ts FROM snapshots WHERE id = NEW.snapshot_id) > '2026-11-20 16:35Z' THEN
                       RAISE EXCEPTION 'day 3 is frozen';
                   END IF;
                   RETURN NEW;
               END $$"""))
        conn.execute(text("CREATE TRIGGER refuse_day3 BEFORE INSERT ON positions "
                          "FOR EACH ROW EXECUTE FUNCTION refuse_day3()"))
    later = App(settings, source_factory=lambda name, s: DemoLaterAsof())
    with pytest.raises(Exception, match="day 3 is frozen"):
        reprocess(later, Selection(all=True))
    assert rows_without_ids(app.engine) == before  # nothing removed, nothing half-written
    with app.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_day3 ON positions"))
    done = reprocess(later, Selection(all=True))
    assert (done.batches, done.snapshots_removed, done.snapshots_inserted) == (1, 9, 9)
    written = rows_without_ids(app.engine)
    reprocess(app, Selection(all=True))
    assert reprocess(later, Selection(all=True)).snapshots_inserted == 9
    assert rows_without_ids(app.engine) == written
    app.dispose()
    later.dispose()


@BATCHES
def test_a_run_that_no_longer_produces_a_snapshot_hands_it_to_the_run_that_does(settings: Settings,
                                                                                 batch_positions: int) -> None:
    """Day 1 stored its snapshots; "day 1 again" met the same state. A parser that now reads nothing from day 1's
    own payload (but the same from the later one) leaves the snapshots to the later run, with its values —
    wherever the batches end. The later run keeps them from then on."""
    app = App(settings)
    runs = history(app)
    with app.engine.connect() as conn:
        first = conn.execute(text("SELECT received_at FROM raw_payloads WHERE run_id = :r"),
                             {"r": runs["day1"]}).scalar_one()

    class SkipsFirst(DemoV2):
        def parse(self, raws: Sequence[RawResponse]) -> ParseResult:
            out = super().parse(raws)
            return replace(out, snapshots=()) if raws[0].received_at == first else out

    fixed = App(settings, source_factory=lambda name, s: SkipsFirst())
    report = reprocess(fixed, Selection(all=True), batch_positions=batch_positions)
    assert (report.snapshots_removed, report.snapshots_inserted, report.snapshots_updated) == (3, 3, 6)
    day1 = {k for k in owners(app.engine) if "2026-11-18" in k}
    assert len(day1) == 3 and {owners(app.engine)[k] for k in day1} == {runs["day1 again"]}
    with app.engine.connect() as conn:
        versions = conn.execute(text("SELECT DISTINCT parser_version FROM snapshots")).scalars().all()
    assert versions == ["2"]
    assert not reprocess(fixed, Selection(all=True), batch_positions=batch_positions).changed
    back = reprocess(app, Selection(all=True), batch_positions=batch_positions)
    assert back.snapshots_removed == 0 and back.snapshots_updated == 9
    assert {owners(app.engine)[k] for k in day1} == {runs["day1 again"]}
    app.dispose()
    fixed.dispose()


def test_a_failing_batch_rolls_back_alone_and_every_snapshot_stays_whole(settings: Settings) -> None:
    """A batch per run: the last one fails and rolls back whole; the batches before it stay committed."""
    app = App(settings)
    history(app)
    with app.engine.begin() as conn:
        newest = conn.execute(text("SELECT id FROM snapshots ORDER BY asof_ts DESC, snapshot_key LIMIT 1")).scalar_one()
        # A user's rule on positions that refuses any change to the newest snapshot's rows (in the last batch).
        conn.execute(text(
            f"""CREATE FUNCTION refuse_newest() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.snapshot_id = '{newest}' THEN
                        RAISE EXCEPTION 'the newest snapshot is frozen';
                    END IF;
                    RETURN NEW;
                END $$"""))
        conn.execute(text("CREATE TRIGGER refuse_newest BEFORE INSERT OR UPDATE ON positions "
                          "FOR EACH ROW EXECUTE FUNCTION refuse_newest()"))
    before = by_snapshot(app.engine)
    v2 = App(settings, source_factory=lambda name, s: DemoV2())
    with pytest.raises(Exception, match="the newest snapshot is frozen"):
        reprocess(v2, Selection(all=True), batch_positions=17)
    after = by_snapshot(app.engine)
    untouched = {i for i, rows in after.items() if rows[0][5] == DemoSource.parser_version}
    rewritten = {i for i, rows in after.items() if rows[0][5] == "2"}
    assert newest in untouched and rewritten  # the failed batch rolled back; the ones before committed
    assert untouched | rewritten == set(after)
    assert all(after[i] == before[i] for i in untouched)  # whole: the snapshot and its positions as they were
    with app.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_newest ON positions"))
    rest = reprocess(v2, Selection(all=True), batch_positions=17)  # rerunning finishes the job
    assert rest.snapshots_updated == len(untouched)
    final = by_snapshot(app.engine)
    assert all(final[i] == after[i] for i in rewritten)  # the committed batches had written their snapshots whole
    app.dispose()
    v2.dispose()


def by_snapshot(engine: Engine) -> dict[object, list[tuple[object, ...]]]:
    out: dict[object, list[tuple[object, ...]]] = {}
    for row in snapshot_state(engine):
        out.setdefault(row[0], []).append(row)
    return out


class DemoWithTrades(DemoSource):
    """The demo with two USD trades per capture: one of its own day, and one (the same broker trade id every
    day) that every capture's window meets again."""

    def parse(self, raws: Sequence[RawResponse]) -> ParseResult:
        out = super().parse(raws)
        snapshot = next(s for s in out.snapshots if any(p.instrument.currency == "USD" for p in s.positions))
        usd = next(p.instrument for p in snapshot.positions if p.instrument.currency == "USD")
        account = snapshot.account.broker_account_id

        def trade(trade_id: str) -> Trade:
            return Trade(broker=snapshot.account.broker, broker_trade_id=trade_id, broker_account_id=account,
                         instrument=usd, trade_ts=snapshot.asof_ts, quantity=Decimal(2), price_local=Decimal(100),
                         amount_local=Decimal(-200), currency="USD")

        return replace(out, trades=(trade(f"day-{snapshot.asof_ts:%Y%m%d}"), trade("seen-every-day")))


def trades_state(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            """SELECT t.broker_trade_id, t.run_id, t.amount_gbp, f.source_ccy, f.target_ccy, f.asof_ts, f.rate
               FROM trades t LEFT JOIN fx_rates f ON f.id = t.fx_rate_id
               WHERE t.broker_trade_id NOT LIKE 'DEMO-%%'  -- the demo's own trade history is not under test here
               ORDER BY t.broker_trade_id"""))]


@BATCHES
def test_trades_are_valued_at_the_batch_rates_and_kept_by_the_run_that_stored_them(settings: Settings,
                                                                                  batch_positions: int) -> None:
    app = App(settings)
    runs = history(app)
    traded = App(settings, source_factory=lambda name, s: DemoWithTrades())
    report = reprocess(traded, Selection(all=True), batch_positions=batch_positions)
    assert (report.trades_inserted, report.trades_updated) == (4, 0)  # three days, and the one seen every day
    state = trades_state(app.engine)
    assert [r[0] for r in state] == ["day-20261118", "day-20261119", "day-20261120", "seen-every-day"]
    assert all(r[2] is not None and r[3:5] == ("USD", "GBP") for r in state)  # valued in GBP at a stored rate
    assert all(abs(r[2] - Decimal(-200) * r[6]) < Decimal("0.01") for r in state)
    assert state[3][1] == runs["day1"]  # the first run that met it
    again = reprocess(traded, Selection(all=True), batch_positions=batch_positions)
    assert not again.changed, again.text()
    assert trades_state(app.engine) == state
    app.dispose()
    traded.dispose()
