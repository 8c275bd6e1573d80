"""The analytics views on hand-made data: forward fill, accounts in different currencies, a day without any
snapshot, time-zone day boundaries, global-instrument grouping and weights.

Every semantic test runs twice: on the schema at revision 0001 (the original view SQL) and at head (0004
rewrote two views and their indexes for speed), which shows the rewrite changed no result. A randomised
test compares the two definitions on a messier history in several time zones.
"""

from __future__ import annotations

import importlib.util
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, text

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.config import load_settings
from portfolio_dashboard.storage import migrate
from portfolio_dashboard.storage.embedded import sqlalchemy_url
from portfolio_dashboard.storage.engine import make_engine
from tests.conftest import _drop_database, _new_database
from tests.integration import rows


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture(scope="module", params=["0001", "head"])
def revision_engine(request: pytest.FixtureRequest, pg_admin_uri: str) -> Iterator[Engine]:
    name = _new_database(pg_admin_uri)
    engine = make_engine(sqlalchemy_url(pg_admin_uri, name))  # portfolio.timezone = Europe/London
    if request.param != "head":
        migrate.downgrade(engine, request.param)
    yield engine
    engine.dispose()
    _drop_database(pg_admin_uri, name)


@pytest.fixture
def vconn(revision_engine: Engine) -> Iterator[Connection]:
    with revision_engine.connect() as connection:
        tx = connection.begin()
        yield connection
        tx.rollback()


def query(conn: Connection, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(text(sql), params)]


def set_timezone(conn: Connection, zone: str) -> None:
    conn.execute(text("SELECT set_config('portfolio.timezone', :z, true)"), {"z": zone})


# --- latest_snapshot_per_broker_account ------------------------------------------------------------------------
def test_latest_snapshot_per_account(vconn: Connection) -> None:
    run = rows.run(vconn)
    rows.account(vconn, "ib", "U1")
    rows.account(vconn, "schwab", "S1", "USD")
    rows.account(vconn, "ib", "U2")  # never captured: no row
    rows.snapshot(vconn, run, "ib", "U1", at(2, 17), "100")
    newest = rows.snapshot(vconn, run, "ib", "U1", at(3, 17), "110")
    rows.snapshot(vconn, run, "ib", "U1", at(1, 17), "90")  # stored later, but older
    # two snapshots at the same instant (e.g. a reprocess): the one stored last wins
    rows.snapshot(vconn, run, "schwab", "S1", at(3, 21), "50", key="a", created_at=at(3, 21, 1))
    restated = rows.snapshot(vconn, run, "schwab", "S1", at(3, 21), "51", key="b", created_at=at(4, 8))
    got = query(vconn, "SELECT broker, broker_account_id, id, total_value_gbp FROM latest_snapshot_per_broker_account "
                       "ORDER BY broker, broker_account_id")
    assert got == [("ib", "U1", newest, Decimal("110")), ("schwab", "S1", restated, Decimal("51"))]


# --- daily_account_value and daily_portfolio_value ------------------------------------------------------------
def two_accounts(conn: Connection) -> dict[str, uuid.UUID]:
    """A GBP account captured on 2, 3 and 5 March; a USD account first captured on 3 March; nobody on 4 March."""
    run = rows.run(conn)
    rows.account(conn, "ib", "U1", "GBP")
    rows.account(conn, "schwab", "S1", "USD")
    return {
        "a2_morning": rows.snapshot(conn, run, "ib", "U1", at(2, 9), "1000"),
        "a2": rows.snapshot(conn, run, "ib", "U1", at(2, 17), "1010"),
        "a3": rows.snapshot(conn, run, "ib", "U1", at(3, 17), "1020"),
        "a5": rows.snapshot(conn, run, "ib", "U1", at(5, 17), "1050"),
        "b3": rows.snapshot(conn, run, "schwab", "S1", at(3, 21), "790", total_local="1000", currency="USD"),
    }


def test_daily_account_value_forward_fills_each_account_in_its_own_currency(vconn: Connection) -> None:
    s = two_accounts(vconn)
    got = query(vconn, """SELECT day, broker, broker_account_id, snapshot_id, total_value_gbp, total_value_local,
                                 account_currency, carried_forward
                          FROM daily_account_value ORDER BY day, broker, broker_account_id""")
    d2, d3, d4, d5 = (date(2026, 3, d) for d in (2, 3, 4, 5))
    gbp = Decimal
    assert got == [
        (d2, "ib", "U1", s["a2"], gbp("1010"), gbp("1010"), "GBP", False),  # the day's last snapshot
        (d3, "ib", "U1", s["a3"], gbp("1020"), gbp("1020"), "GBP", False),
        (d3, "schwab", "S1", s["b3"], gbp("790"), gbp("1000"), "USD", False),  # starts on its first day
        (d4, "ib", "U1", s["a3"], gbp("1020"), gbp("1020"), "GBP", True),  # nobody captured on the 4th
        (d4, "schwab", "S1", s["b3"], gbp("790"), gbp("1000"), "USD", True),
        (d5, "ib", "U1", s["a5"], gbp("1050"), gbp("1050"), "GBP", False),
        (d5, "schwab", "S1", s["b3"], gbp("790"), gbp("1000"), "USD", True),  # filled up to the last day
    ]


def test_daily_portfolio_value_sums_the_forward_filled_accounts(vconn: Connection) -> None:
    two_accounts(vconn)
    got = query(vconn, "SELECT * FROM daily_portfolio_value ORDER BY day")
    assert got == [
        (date(2026, 3, 2), Decimal("1010"), 1, 0, 0),
        (date(2026, 3, 3), Decimal("1810"), 2, 0, 0),
        (date(2026, 3, 4), Decimal("1810"), 2, 0, 2),  # no false drop on a day without snapshots
        (date(2026, 3, 5), Decimal("1840"), 2, 0, 1),
    ]


def test_an_account_without_a_gbp_value_is_counted_not_summed(vconn: Connection) -> None:
    run = rows.run(vconn)
    rows.account(vconn, "ib", "U1")
    rows.account(vconn, "schwab", "S1", "USD")
    rows.snapshot(vconn, run, "ib", "U1", at(2, 17), "100")
    rows.snapshot(vconn, run, "schwab", "S1", at(2, 21), None, total_local="500", currency="USD")  # no FX rate
    assert query(vconn, "SELECT total_value_gbp, accounts, accounts_without_gbp FROM daily_portfolio_value") == [
        (Decimal("100"), 2, 1)
    ]


def test_no_snapshots_no_days(vconn: Connection) -> None:
    assert query(vconn, "SELECT count(*) FROM daily_account_value") == [(0,)]
    assert query(vconn, "SELECT count(*) FROM daily_portfolio_value") == [(0,)]


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        # 22:30 UTC = 23:30 BST (1 July); 23:30 UTC = 00:30 BST, already 2 July in London
        ("Europe/London", [(date(2026, 7, 1), "late"), (date(2026, 7, 2), "later")]),
        # New York is UTC-4 in July: both are the evening of 1 July, the later one closes the day
        ("America/New_York", [(date(2026, 7, 1), "later")]),
        ("UTC", [(date(2026, 7, 1), "later")]),
        # Tokyo (UTC+9): both are the morning of 2 July
        ("Asia/Tokyo", [(date(2026, 7, 2), "later")]),
    ],
)
def test_days_follow_the_portfolio_time_zone(vconn: Connection, zone: str, expected: list[tuple[date, str]]) -> None:
    run = rows.run(vconn)
    rows.account(vconn, "ib", "U1")
    ids = {
        rows.snapshot(vconn, run, "ib", "U1", at(1, 22, 30, month=7), "100"): "late",
        rows.snapshot(vconn, run, "ib", "U1", at(1, 23, 30, month=7), "101"): "later",
    }
    set_timezone(vconn, zone)
    got = query(vconn, "SELECT day, snapshot_id FROM daily_account_value ORDER BY day")
    assert [(day, ids[sid]) for day, sid in got] == expected


def test_in_winter_london_days_are_utc_days(vconn: Connection) -> None:
    run = rows.run(vconn)
    rows.account(vconn, "ib", "U1")
    rows.snapshot(vconn, run, "ib", "U1", datetime(2026, 1, 15, 23, 30, tzinfo=UTC), "100")  # 23:30 GMT
    set_timezone(vconn, "Europe/London")
    assert query(vconn, "SELECT day FROM daily_account_value") == [(date(2026, 1, 15),)]


def test_portfolio_timezone_setting_reaches_the_views(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """PORTFOLIO_TIMEZONE -> Settings -> make_engine's session setting -> the daily views."""
    engine = create_engine(db_url)
    with engine.begin() as conn:
        run = rows.run(conn)
        rows.account(conn, "ib", "U1")
        rows.snapshot(conn, run, "ib", "U1", at(1, 23, 30, month=7), "100")
    monkeypatch.setenv("DATABASE_URL", db_url)
    for zone, day in (("Europe/London", 2), ("America/New_York", 1)):
        monkeypatch.setenv("PORTFOLIO_TIMEZONE", zone)
        app = App(load_settings(_env_file=None))
        with app.engine.connect() as conn:
            assert conn.execute(text("SELECT current_setting('portfolio.timezone')")).scalar() == zone
            assert conn.execute(text("SELECT day FROM daily_account_value")).scalar() == date(2026, 7, day)
        app.dispose()
    with engine.connect() as conn:  # a session that never set it (psql, a BI tool): London, the documented default
        assert conn.execute(text("SELECT day FROM daily_account_value")).scalar() == date(2026, 7, 2)
    engine.dispose()


# --- positions_history and asset_allocation_by_global_instrument ---------------------------------------------
def holdings(conn: Connection) -> dict[str, uuid.UUID]:
    """An IB and a Schwab account holding the same ETF (one global identity), plus unmapped holdings."""
    run = rows.run(conn)
    rows.account(conn, "ib", "U1")
    rows.account(conn, "schwab", "S1", "USD")
    ids = {
        "vwrl_ib": rows.instrument(conn, "ib", "128831", name="VWRL (IB)", isin="IE00B3RBWM25"),
        "vwrl_schwab": rows.instrument(conn, "schwab", "VWRL", name="VWRL (Schwab)", currency="USD",
                                       isin="IE00B3RBWM25"),
        "old": rows.instrument(conn, "ib", "999", name="Sold last week"),
        "cash": rows.instrument(conn, "ib", "CASH.GBP", name="GBP cash", asset_class="cash"),
        "tsla": rows.instrument(conn, "schwab", "TSLA", name="Tesla", currency="USD"),
        "xyz": rows.instrument(conn, "schwab", "XYZ", name="No FX rate", currency="JPY"),
        "global_vwrl": rows.global_instrument(conn, "Vanguard FTSE All-World", symbol="VWRL"),
    }
    rows.mapping(conn, ids["global_vwrl"], ids["vwrl_ib"])
    rows.mapping(conn, ids["global_vwrl"], ids["vwrl_schwab"], source="heuristic")
    older = rows.snapshot(conn, run, "ib", "U1", at(2, 17), "1500")
    rows.position(conn, older, ids["vwrl_ib"], "100", "1000", "1000")
    rows.position(conn, older, ids["old"], "10", "500", "500")
    ids["ib_latest"] = rows.snapshot(conn, run, "ib", "U1", at(3, 17), "1500")
    rows.position(conn, ids["ib_latest"], ids["vwrl_ib"], "110", "1100", "1100")
    rows.position(conn, ids["ib_latest"], ids["cash"], "400", "400", "400")
    ids["schwab_latest"] = rows.snapshot(conn, run, "schwab", "S1", at(3, 21), "900", currency="USD")
    rows.position(conn, ids["schwab_latest"], ids["vwrl_schwab"], "60", "760", "600")
    rows.position(conn, ids["schwab_latest"], ids["tsla"], "2", "380", "300")
    rows.position(conn, ids["schwab_latest"], ids["xyz"], "1", "5000", None)
    return ids


def test_positions_history_carries_the_global_identity(vconn: Connection) -> None:
    ids = holdings(vconn)
    got = query(vconn, """SELECT broker, asof_ts, instrument_id, global_instrument_id, market_value_gbp
                          FROM positions_history WHERE global_instrument_id = :g ORDER BY asof_ts, broker""",
                g=ids["global_vwrl"])
    assert got == [
        ("ib", at(2, 17), ids["vwrl_ib"], ids["global_vwrl"], Decimal("1000")),
        ("ib", at(3, 17), ids["vwrl_ib"], ids["global_vwrl"], Decimal("1100")),
        ("schwab", at(3, 21), ids["vwrl_schwab"], ids["global_vwrl"], Decimal("600")),
    ]
    unmapped = query(vconn, "SELECT global_instrument_id, name FROM positions_history WHERE instrument_id = :i",
                     i=ids["tsla"])
    assert unmapped == [(ids["tsla"], "Tesla")]  # its own identity
    assert query(vconn, "SELECT count(*) FROM positions_history") == [(7,)]


def test_allocation_groups_by_global_instrument_over_the_latest_snapshots(vconn: Connection) -> None:
    ids = holdings(vconn)
    got = {
        r[0]: r[1:]
        for r in query(vconn, """SELECT global_instrument_id, name, holdings, value_gbp, holdings_without_gbp, weight
                                 FROM asset_allocation_by_global_instrument""")
    }
    total = Decimal(2400)  # 1100 + 600 + 400 + 300; the JPY holding has no GBP value
    assert got.keys() == {ids["global_vwrl"], ids["cash"], ids["tsla"], ids["xyz"]}  # not the sold one
    assert got[ids["global_vwrl"]][:4] == ("Vanguard FTSE All-World", 2, Decimal(1700), 0)
    assert got[ids["cash"]][:4] == ("GBP cash", 1, Decimal(400), 0)
    assert got[ids["tsla"]][:4] == ("Tesla", 1, Decimal(300), 0)
    assert got[ids["xyz"]] == ("No FX rate", 1, None, 1, None)
    for key, value in ((ids["global_vwrl"], 1700), (ids["cash"], 400), (ids["tsla"], 300)):
        assert abs(got[key][4] - Decimal(value) / total) < Decimal("1e-15")
    weights = [w for *_, w in got.values() if w is not None]
    assert abs(sum(weights) - 1) < Decimal("1e-15")


# --- the 0004 rewrite against the 0001 definitions on a messy history -----------------------------------------
def old_views_sql() -> str:
    path = Path(migrate.MIGRATIONS_DIR) / "versions" / "0004_view_performance.py"
    spec = importlib.util.spec_from_file_location("migration_0004", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sql: str = module.OLD_VIEWS
    return (sql.replace("CREATE OR REPLACE VIEW latest_snapshot_per_broker_account", "CREATE VIEW old_latest")
               .replace("CREATE OR REPLACE VIEW daily_account_value", "CREATE VIEW old_daily"))


def messy_history(conn: Connection, seed: int) -> None:
    """Four accounts; bursts of captures, gaps of days, captures near midnight in many zones, missing GBP."""
    rng = random.Random(seed)
    run = rows.run(conn)
    start = datetime(2026, 3, 20, tzinfo=UTC)  # spans the March switch to summer time (29 March)
    for n, (broker, ccy) in enumerate((("ib", "GBP"), ("schwab", "USD"), ("ib", "EUR"), ("demo", "GBP"))):
        account = f"A{n}"
        rows.account(conn, broker, account, ccy)
        first = rng.randint(0, 5)
        instants = set()
        for day in range(first, 30):
            if rng.random() < 0.25:
                continue  # a gap
            for _ in range(rng.choice((1, 1, 2, 3))):
                instants.add(start + timedelta(days=day, minutes=rng.choice(
                    (rng.randint(0, 1439), 22 * 60 + rng.randint(0, 119), rng.randint(0, 90)))))
        for asof in sorted(instants):
            gbp = None if rng.random() < 0.1 else str(rng.randint(1000, 9999))
            rows.snapshot(conn, run, broker, account, asof, gbp, total_local=str(rng.randint(1, 99)), currency=ccy)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rewritten_views_equal_the_original_definitions(conn: Connection, seed: int) -> None:
    conn.execute(text(old_views_sql()))
    messy_history(conn, seed)
    for zone in ("Europe/London", "America/New_York", "Asia/Kolkata", "Pacific/Chatham", "UTC"):
        set_timezone(conn, zone)
        for old, new in (("old_latest", "latest_snapshot_per_broker_account"), ("old_daily", "daily_account_value")):
            # The views' columns as 0004 created them: ``s.*`` in the old definition, evaluated now, also holds
            # columns later migrations added to ``snapshots``.
            cols = ", ".join(r[0] for r in query(conn, """SELECT column_name FROM information_schema.columns
                                                          WHERE table_name = :v ORDER BY ordinal_position""",
                                                 v=new))
            counts = query(conn, f"""SELECT (SELECT count(*) FROM {new}),
                                            (SELECT count(*) FROM (SELECT {cols} FROM {old}
                                                                   EXCEPT ALL SELECT {cols} FROM {new}) a),
                                            (SELECT count(*) FROM (SELECT {cols} FROM {new}
                                                                   EXCEPT ALL SELECT {cols} FROM {old}) b)""")
            rows_, missing, extra = counts[0]
            assert rows_ > 0
            assert (missing, extra) == (0, 0), (zone, new)
