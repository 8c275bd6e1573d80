"""A large reprocess batch written in concurrent parts (``reprocess_writer.py``): the same rows as one
transaction, each snapshot key written by one part only (the one a single merge would keep), and a part that
fails rolls back alone, leaving every snapshot whole."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from portfolio_dashboard import reprocess_writer
from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.brokers.demo import DemoSource
from portfolio_dashboard.capture import capture
from portfolio_dashboard.config import Settings
from portfolio_dashboard.domain import TriggerContext
from portfolio_dashboard.reprocess import ReprocessReport, Selection, reprocess
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


def test_a_key_two_runs_produce_anew_goes_to_the_first_in_either_way(settings: Settings) -> None:
    """A new as-of makes every key new: day 1 and "day 1 again" both produce them, in different parts. The
    first run keeps them, as in one transaction; the other part writes none of them (no race, no duplicate)."""
    app = App(settings)
    runs = history(app)
    later = App(settings, source_factory=lambda name, s: DemoLaterAsof())
    serial = reprocess(later, Selection(all=True), workers=1)
    one_transaction = rows_without_ids(app.engine)
    assert serial.snapshots_removed == 9 and serial.snapshots_inserted == 9
    reprocess(app, Selection(all=True), workers=1)  # the original keys again
    parallel = reprocess(later, Selection(all=True), workers=2)
    assert parallel.parts == 2
    assert counts(parallel) == counts(serial)
    assert rows_without_ids(app.engine) == one_transaction
    day1_keys = {k for k, run in owners(app.engine).items() if run == runs["day1"]}
    assert len(day1_keys) == 3 and runs["day1 again"] not in owners(app.engine).values()
    assert not reprocess(later, Selection(all=True), workers=2).changed
    app.dispose()
    later.dispose()


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
