"""Every write of the Repository is idempotent: called twice with the same input it stores nothing twice,
and an upsert that has nothing new to say does not even rewrite the row (same ``ctid``)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Connection, text

import portfolio_dashboard
from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.brokers.demo import DemoSource
from portfolio_dashboard.config import Settings
from portfolio_dashboard.domain import Account, AssetClass, FxRate, Instrument, Trade, TriggerContext
from portfolio_dashboard.errors import DatabaseError
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.storage.bulk import TRADE_KEY, UpsertCounts, upsert_trades
from portfolio_dashboard.storage.repositories import Repository
from portfolio_dashboard.storage.snapshot_writes import PositionRow, SnapshotRow
from tests.integration import rows
from tests.integration.roles import as_plain_role

T0 = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
APPLE = Instrument("ib", "265598", "AAPL", "Apple Inc", AssetClass.EQUITY, "USD", cusip="037833100",
                   exchange="NASDAQ")


def count(conn: Connection, table: str) -> int:
    return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def ctid(conn: Connection, table: str, where: str, **params: object) -> str:
    return str(conn.execute(text(f"SELECT ctid FROM {table} WHERE {where}"), params).scalar_one())


def test_every_upsert_names_its_conflict_key() -> None:
    """``ON CONFLICT DO ...`` without a key would swallow violations of ANY constraint."""
    src = Path(portfolio_dashboard.__file__).parent
    # SQL in the code, not prose quoting it in ``double backticks``
    statements = [m for f in src.rglob("*.py")
                  for m in re.findall(r"(?<!`)ON CONFLICT\s*(?:ON CONSTRAINT\s+\w+|\S)", f.read_text())]
    assert statements, "no upserts found"
    assert all(s.endswith("(") or "ON CONSTRAINT" in s for s in statements), statements


def test_upsert_instruments_twice_stores_one_row_and_returns_the_same_id(conn: Connection) -> None:
    repo = Repository(conn)
    first = repo.upsert_instruments([APPLE])
    where = "broker = 'ib' AND broker_instrument_id = '265598'"
    before = ctid(conn, "instruments", where)
    second = repo.upsert_instruments([APPLE, APPLE])
    assert first == second == {("ib", "265598"): first[("ib", "265598")]}
    assert count(conn, "instruments") == 1
    assert ctid(conn, "instruments", where) == before  # nothing changed, nothing rewritten


def test_instrument_upsert_fills_in_a_later_isin_without_erasing_known_values(conn: Connection) -> None:
    repo = Repository(conn)
    ids = repo.upsert_instruments([APPLE])
    later = Instrument("ib", "265598", "AAPL", "Apple Inc", AssetClass.EQUITY, "USD", isin="US0378331005")
    assert repo.upsert_instruments([later]) == ids
    row = conn.execute(text("SELECT isin, cusip, exchange, name FROM instruments")).one()
    assert tuple(row) == ("US0378331005", "037833100", "NASDAQ", "Apple Inc")
    assert count(conn, "instruments") == 1


def test_upsert_accounts_twice_stores_one_row(conn: Connection) -> None:
    repo = Repository(conn)
    isa = Account("ib", "U1234567", "ISA", "GBP")
    repo.upsert_accounts([isa])
    before = ctid(conn, "broker_accounts", "broker_account_id = 'U1234567'")
    repo.upsert_accounts([isa, isa])
    assert count(conn, "broker_accounts") == 1
    assert ctid(conn, "broker_accounts", "broker_account_id = 'U1234567'") == before
    repo.upsert_accounts([Account("ib", "U1234567", "Stocks & Shares ISA", "GBP")])
    assert conn.execute(text("SELECT name FROM broker_accounts")).scalar_one() == "Stocks & Shares ISA"
    assert count(conn, "broker_accounts") == 1


def test_upsert_fx_rates_twice_stores_each_rate_once(conn: Connection) -> None:
    repo = Repository(conn)
    rates = [FxRate("USD", "GBP", Decimal("0.79"), T0, "ecb"), FxRate("EUR", "GBP", Decimal("0.85"), T0, "ecb")]
    first = repo.upsert_fx_rates(rates)
    # the same instant written with another UTC offset is the same key
    same_instant = T0.astimezone(timezone(timedelta(hours=1)))
    second = repo.upsert_fx_rates([*rates, FxRate("USD", "GBP", Decimal("0.79"), same_instant, "ecb")])
    assert set(first.values()) == set(second.values())
    assert len(first) == 2
    assert count(conn, "fx_rates") == 2
    # a different rate under an existing key keeps the first stored (a stored rate is what values were based on)
    repo.upsert_fx_rates([FxRate("USD", "GBP", Decimal("0.80"), T0, "ecb")])
    assert conn.execute(text("SELECT rate FROM fx_rates WHERE source_ccy = 'USD'")).scalar_one() == Decimal("0.79")


def snapshot_row(run_id: uuid.UUID) -> SnapshotRow:
    return SnapshotRow(
        run_id=run_id, broker="ib", broker_account_id="U1", asof_ts=T0, snapshot_key="ib|U1|2026-03-02T17:00Z",
        total_value_local=Decimal("1000.00"), total_value_gbp=Decimal("790.00"), base_currency="GBP",
        account_currency="USD", reported_total_gbp=Decimal("790.00"), asof_source="summary", source="ib_gateway",
        parser_version="1", fx_complete=True, warnings=(),
    )


def test_insert_snapshot_twice_stores_it_once_and_positions_are_never_stored_twice(conn: Connection) -> None:
    """A retried capture gets ``None`` for a snapshot already stored, so the writer skips its positions
    (``write_source``); positions written twice for one snapshot anyway are refused by the primary key."""
    repo = Repository(conn)
    run_id = rows.run(conn)
    repo.upsert_accounts([Account("ib", "U1", "Main", "USD")])
    ids = repo.upsert_instruments([APPLE])
    sid = repo.insert_snapshot(snapshot_row(run_id))
    assert sid is not None
    assert repo.insert_snapshot(snapshot_row(run_id)) is None  # retry: the key is already stored
    position = PositionRow(ids[APPLE.key], Decimal(5), Decimal(200), Decimal(1000), Decimal(790), None, None, None)
    assert repo.insert_positions(sid, [position]) == 1
    savepoint = conn.begin_nested()
    with pytest.raises(psycopg.errors.UniqueViolation, match="positions_snapshot_instrument_key"):
        repo.insert_positions(sid, [position])  # COPY: the driver's own error
    savepoint.rollback()
    assert (count(conn, "snapshots"), count(conn, "positions")) == (1, 1)


def test_positions_whose_instrument_is_gone_are_refused_by_the_foreign_key(conn: Connection) -> None:
    """PostgreSQL's own foreign-key check, for every role: the error names the key and says what to do."""
    repo = Repository(conn)
    run_id = rows.run(conn)
    repo.upsert_accounts([Account("ib", "U1", "Main", "USD")])
    sid = repo.insert_snapshot(snapshot_row(run_id))
    assert sid is not None
    gone = PositionRow(uuid.uuid4(), Decimal(5), Decimal(200), Decimal(1000), Decimal(790), None, None, None)
    savepoint = conn.begin_nested()
    with pytest.raises(DatabaseError, match=r"no longer exist .*instrument"):
        repo.insert_positions(sid, [gone])
    savepoint.rollback()
    assert count(conn, "positions") == 0


def test_an_app_role_captures_the_same_rows_as_the_superuser(settings: Settings) -> None:
    app = App(settings)
    capture_day(app, 0)
    as_plain_role(app.engine)
    with app.engine.connect() as conn:
        assert not conn.execute(text("SELECT current_setting('is_superuser') = 'on'")).scalar_one()
    capture_day(app, 1)
    with app.engine.connect() as conn:
        days = conn.execute(text(
            """SELECT s.asof_ts, count(*), array_agg(i.symbol ORDER BY i.symbol), count(p.fx_rate_id)
               FROM positions p JOIN snapshots s ON s.id = p.snapshot_id JOIN instruments i ON i.id = p.instrument_id
               GROUP BY s.asof_ts ORDER BY s.asof_ts""")).all()
    assert len(days) == 2
    (_, n1, symbols1, fx1), (_, n2, symbols2, fx2) = days
    assert (n1, symbols1, fx1) == (n2, symbols2, fx2) and n1 == 17
    app.dispose()


def capture_day(app: App, day: int) -> None:
    at = T0 + timedelta(days=day)
    run = capture(TriggerContext(sources=("demo",)), app=app, sources={"demo": DemoSource(clock=lambda: at)})
    assert run.status == "success", run.error_summary


def test_upsert_trades_twice_stores_each_trade_once(conn: Connection) -> None:
    """The one trades write (capture and reprocess): keyed by ``TRADE_KEY``; storing the same trades twice changes
    nothing; a later run meeting a stored trade leaves it as that run stored it; the storing run's own re-write
    (reprocess with today's parser) updates a derived value that differs."""
    repo = Repository(conn)
    run_id = rows.run(conn)
    later_run = rows.run(conn)
    ids = repo.upsert_instruments([APPLE])
    trades = [
        Trade("ib", f"T-{n}", "U1", APPLE, T0 + timedelta(minutes=n), Decimal(n), Decimal("200"),
              Decimal(-200 * n), "USD")
        for n in (1, 2)
    ]
    gbp = {("ib", "T-1"): (Decimal("-158"), None)}
    assert TRADE_KEY == ("broker", "broker_trade_id")
    assert upsert_trades(conn, run_id, trades, ids, gbp) == UpsertCounts(inserted=2)
    assert upsert_trades(conn, run_id, [*trades, trades[0]], ids, gbp) == UpsertCounts()
    assert count(conn, "trades") == 2

    def stored_gbp() -> Decimal:
        return conn.execute(text("SELECT amount_gbp FROM trades WHERE broker_trade_id = 'T-1'")).scalar_one()

    assert stored_gbp() == Decimal("-158")
    assert upsert_trades(conn, later_run, trades, ids, {("ib", "T-1"): (Decimal("-150"), None)}) == UpsertCounts()
    assert stored_gbp() == Decimal("-158")
    assert upsert_trades(conn, run_id, trades, ids, {("ib", "T-1"): (Decimal("-157"), None)}) == UpsertCounts(
        updated=1)
    assert stored_gbp() == Decimal("-157")
    assert count(conn, "trades") == 2
