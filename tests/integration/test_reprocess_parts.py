"""A large reprocess batch written in concurrent parts (``reprocess_writer.py``): the same rows as one
transaction, each snapshot key written by one part only (the one a single merge would keep), and a part that
fails rolls back alone, leaving every snapshot whole."""

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
from portfolio_dashboard.services import reprocess_writer
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.services.reprocess import ReprocessReport, Selection, reprocess
from portfolio_dashboard.storage.repositories import SnapshotRow
from tests.integration.test_reprocess import DAY1, DemoLaterAsof, DemoV2, snapshot_state

COUNTS = ("snapshots_inserted", "snapshots_updated", "snapshots_unchanged", "snapshots_removed",
          "positions_inserted", "positions_updated", "positions_deleted", "positions_total")


@pytest.fixture(autouse=True)
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts of any size, so that a few days of demo captures are written in two."""
    monkeypatch.setattr(reprocess_writer, "MIN_PART_POSITIONS", 1)


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


def test_parts_write_the_same_rows_as_one_transaction(settings: Settings) -> None:
    app = App(settings)
    runs = history(app)
    v2 = App(settings, source_factory=lambda name, s: DemoV2())
    serial = reprocess(v2, Selection(all=True), workers=1)
    assert serial.parts == 1
    assert serial.snapshots_updated == 9
    one_transaction = snapshot_state(app.engine)
    reprocess(app, Selection(all=True), workers=1)  # back to today's parser
    parallel = reprocess(v2, Selection(all=True), workers=2)
    assert parallel.parts == 2
    assert counts(parallel) == counts(serial)
    assert snapshot_state(app.engine) == one_transaction
    assert runs["day1 again"] not in owners(app.engine).values()  # day 1's snapshots stay with the run that stored them
    again = reprocess(v2, Selection(all=True), workers=2)
    assert not again.changed, again.text()
    assert snapshot_state(app.engine) == one_transaction
    app.dispose()
    v2.dispose()


def test_snapshots_lost_from_the_database_go_back_to_the_first_run_that_has_them(settings: Settings) -> None:
    """Day 1's snapshots deleted: day 1 and "day 1 again" both re-parse to those keys, none stored, and the two
    runs fall in different parts. The first run gets them, as in one transaction; the other part writes none
    of them (no race on the key, no duplicate)."""
    app = App(settings)
    runs = history(app)
    original = rows_without_ids(app.engine)
    with app.engine.begin() as conn:
        conn.execute(text("DELETE FROM snapshots WHERE run_id = :r"), {"r": runs["day1"]})
    parallel = reprocess(app, Selection(all=True), workers=2)
    assert parallel.parts == 2
    assert (parallel.snapshots_inserted, parallel.positions_inserted, parallel.snapshots_removed) == (3, 17, 0)
    assert rows_without_ids(app.engine) == original
    assert set(owners(app.engine).values()) == {runs["day1"], runs["day2"], runs["day3"]}
    assert not reprocess(app, Selection(all=True), workers=2).changed
    app.dispose()


def test_one_owner_keeps_each_key_where_a_single_merge_would(app: App) -> None:
    history(app)
    with app.engine.connect() as conn:
        stored_key, owner = conn.execute(text("SELECT snapshot_key, run_id FROM snapshots LIMIT 1")).one()
        a, b = uuid.uuid4(), uuid.uuid4()
        rows = [
            (row(b, stored_key), "a later run met the stored state: the owner's copy (below) is kept instead"),
            (row(owner, stored_key), "the run that stored it"),
            (row(a, "new-1"), "first of a key nobody stored"),
            (row(b, "new-1"), "second of it"),
            (row(a, "new-2"), "the same run produced it twice: the first"),
            (row(a, "new-2"), "... and the second"),
            (row(a, "once"), "a key met once is left to the merge"),
        ]
        kept = reprocess_writer._one_owner(conn, [(r, []) for r, _why in rows])
    assert [r for r, _held in kept] == [rows[i][0] for i in (1, 2, 4, 6)]


def row(run: uuid.UUID, key: str) -> SnapshotRow:
    return SnapshotRow(run_id=run, broker="demo", broker_account_id="A", asof_ts=DAY1, snapshot_key=key,
                       total_value_local=None, total_value_gbp=None, base_currency="GBP", account_currency=None,
                       reported_total_gbp=None, asof_source="test", source="demo", parser_version="1",
                       fx_complete=True, warnings=())


def test_a_batch_that_removes_snapshots_is_written_in_one_transaction(settings: Settings) -> None:
    """A new as-of gives every snapshot a new key: the old ones are removed and the new ones inserted. In parts,
    the removal would commit first; so such a batch is one transaction, and a failure leaves every account
    with its old snapshots rather than none."""
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
        reprocess(later, Selection(all=True), workers=2)
    assert rows_without_ids(app.engine) == before  # nothing removed, nothing half-written
    with app.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_day3 ON positions"))
    done = reprocess(later, Selection(all=True), workers=2)
    assert (done.parts, done.snapshots_removed, done.snapshots_inserted) == (1, 9, 9)
    serial_like = rows_without_ids(app.engine)
    reprocess(app, Selection(all=True), workers=1)
    assert reprocess(later, Selection(all=True), workers=1).parts == 1
    assert rows_without_ids(app.engine) == serial_like
    app.dispose()
    later.dispose()


@pytest.mark.parametrize("batch_positions", [50_000, 17], ids=["one batch", "a batch per run"])
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
    report = reprocess(fixed, Selection(all=True), batch_positions=batch_positions, workers=2)
    assert (report.snapshots_removed, report.snapshots_inserted, report.snapshots_updated) == (3, 3, 6)
    day1 = {k for k in owners(app.engine) if "2026-11-18" in k}
    assert len(day1) == 3 and {owners(app.engine)[k] for k in day1} == {runs["day1 again"]}
    with app.engine.connect() as conn:
        versions = conn.execute(text("SELECT DISTINCT parser_version FROM snapshots")).scalars().all()
    assert versions == ["2"]
    assert not reprocess(fixed, Selection(all=True), batch_positions=batch_positions, workers=2).changed
    back = reprocess(app, Selection(all=True), batch_positions=batch_positions, workers=2)
    assert back.snapshots_removed == 0 and back.snapshots_updated == 9
    assert {owners(app.engine)[k] for k in day1} == {runs["day1 again"]}
    app.dispose()
    fixed.dispose()


def test_a_failing_part_rolls_back_alone_and_every_snapshot_stays_whole(settings: Settings) -> None:
    app = App(settings)
    history(app)
    with app.engine.begin() as conn:
        newest = conn.execute(text("SELECT id FROM snapshots ORDER BY asof_ts DESC, snapshot_key LIMIT 1")).scalar_one()
        # A user's rule on positions that refuses any change to the newest snapshot's rows (in the last part).
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
        reprocess(v2, Selection(all=True), workers=2)
    after = by_snapshot(app.engine)
    untouched = {i for i, rows in after.items() if rows[0][5] == DemoSource.parser_version}
    rewritten = {i for i, rows in after.items() if rows[0][5] == "2"}
    assert newest in untouched and rewritten  # the failed part rolled back; the other one committed
    assert untouched | rewritten == set(after)
    assert all(after[i] == before[i] for i in untouched)  # whole: the snapshot and its positions as they were
    with app.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_newest ON positions"))
    rest = reprocess(v2, Selection(all=True), workers=2)  # rerunning finishes the job
    assert rest.snapshots_updated == len(untouched)
    final = by_snapshot(app.engine)
    assert all(final[i] == after[i] for i in rewritten)  # the committed part had written its snapshots whole
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


@pytest.mark.parametrize("workers", [1, 2])
def test_trades_are_valued_at_the_batch_rates_and_kept_by_the_run_that_stored_them(settings: Settings,
                                                                                  workers: int) -> None:
    app = App(settings)
    runs = history(app)
    traded = App(settings, source_factory=lambda name, s: DemoWithTrades())
    report = reprocess(traded, Selection(all=True), workers=workers)
    assert (report.trades_inserted, report.trades_updated) == (4, 0)  # three days, and the one seen every day
    state = trades_state(app.engine)
    assert [r[0] for r in state] == ["day-20261118", "day-20261119", "day-20261120", "seen-every-day"]
    assert all(r[2] is not None and r[3:5] == ("USD", "GBP") for r in state)  # valued in GBP at a stored rate
    assert all(abs(r[2] - Decimal(-200) * r[6]) < Decimal("0.01") for r in state)
    assert state[3][1] == runs["day1"]  # the first run that met it
    again = reprocess(traded, Selection(all=True), workers=workers)
    assert not again.changed, again.text()
    assert trades_state(app.engine) == state
    app.dispose()
    traded.dispose()
