"""The daily-value cache (revision 0004) always equals the computed daily_account_value, in every cached
zone, after any committed mix of inserts, deletes and updates — also back-dated ones, rolled-back ones and
concurrent ones — and the views read it only when it is current."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.config import load_settings
from portfolio_dashboard.storage.engine import make_engine
from tests.integration import rows

ZONES = ("Europe/London", "America/New_York", "Asia/Kolkata")
START = datetime(2026, 3, 20, tzinfo=UTC)  # the history crosses the switch to summer time on 29 March


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        for zone in ZONES[1:]:
            assert conn.execute(text("SELECT daily_value_cache_track(:z)"), {"z": zone}).scalar() is True
    yield engine
    engine.dispose()


CACHED_ACCOUNTS = """SELECT day, broker, broker_account_id, snapshot_id, asof_ts, total_value_gbp, total_value_local,
                          account_currency, carried_forward FROM daily_account_value_cache WHERE zone = :z"""
COMPUTED_ACCOUNTS = "SELECT * FROM daily_account_value_in(:z)"
CACHED_DAYS = """SELECT day, total_value_gbp, accounts, accounts_without_gbp, accounts_carried_forward
                 FROM daily_portfolio_value_cache WHERE zone = :z"""
COMPUTED_DAYS = """SELECT day, sum(total_value_gbp), count(*)::integer,
                          (count(*) FILTER (WHERE total_value_gbp IS NULL))::integer,
                          (count(*) FILTER (WHERE carried_forward))::integer
                   FROM daily_account_value_in(:z) GROUP BY day"""


def differences(conn: Connection) -> dict[str, tuple[int, int, int]]:
    """Per cached zone and cache: (rows, cached but not computed, computed but not cached)."""
    out = {}
    for (zone,) in conn.execute(text("SELECT zone FROM daily_value_cache_zones")).all():
        for name, cached, computed in (("accounts", CACHED_ACCOUNTS, COMPUTED_ACCOUNTS),
                                       ("days", CACHED_DAYS, COMPUTED_DAYS)):
            out[f"{zone} {name}"] = tuple(conn.execute(text(f"""
                SELECT (SELECT count(*) FROM ({computed}) a),
                       (SELECT count(*) FROM ({cached} EXCEPT ALL {computed}) b),
                       (SELECT count(*) FROM ({computed} EXCEPT ALL {cached}) c)"""), {"z": zone}).one())
    return out


def assert_cache_exact(engine: Engine) -> None:
    with engine.connect() as conn:
        for zone, (_rows, stale, missing) in differences(conn).items():
            assert (stale, missing) == (0, 0), zone


def accounts(conn: Connection) -> list[tuple[str, str]]:
    run = rows.run(conn)
    conn.execute(text("INSERT INTO snapshot_runs (run_id, trigger_type, schema_version) VALUES (:r, 'manual', 'x')"),
                 {"r": uuid.uuid4()})
    found = [("ib", "U1"), ("schwab", "S1"), ("ib", "U2")]
    for broker, account in found:
        rows.account(conn, broker, account)
    conn.info["run"] = run
    return found


def random_instant(rng: random.Random) -> datetime:
    minute = rng.choice((rng.randint(0, 1439), 22 * 60 + rng.randint(0, 119), rng.randint(0, 120)))
    return START + timedelta(days=rng.randint(0, 40), minutes=minute, microseconds=rng.randint(0, 999_999))


def random_change(conn: Connection, rng: random.Random, run: uuid.UUID, accts: list[tuple[str, str]]) -> None:
    """One insert, delete or update; the newest snapshots (which decide the last day) are picked on purpose."""
    existing = [r[0] for r in conn.execute(text("SELECT id FROM snapshots ORDER BY asof_ts"))]
    actions = ("insert", "insert", "delete", "delete newest", "move", "move newest back", "revalue")
    action = rng.choice(actions) if existing else "insert"
    if action == "insert":
        broker, account = rng.choice(accts)
        total = None if rng.random() < 0.1 else str(rng.randint(100, 999))
        rows.snapshot(conn, run, broker, account, random_instant(rng), total, key=str(uuid.uuid4()))
    elif action in ("delete", "delete newest"):
        victim = existing[-1] if action == "delete newest" else rng.choice(existing)
        conn.execute(text("DELETE FROM snapshots WHERE id = :i"), {"i": victim})
    elif action == "move":  # an as-of corrected, possibly to another day
        conn.execute(text("UPDATE snapshots SET asof_ts = :t WHERE id = :i"),
                     {"t": random_instant(rng), "i": rng.choice(existing)})
    elif action == "move newest back":
        conn.execute(text("UPDATE snapshots SET asof_ts = asof_ts - :d WHERE id = :i"),
                     {"d": timedelta(days=rng.randint(1, 9), hours=rng.randint(0, 23)), "i": existing[-1]})
    else:  # a GBP value restated
        conn.execute(text("UPDATE snapshots SET total_value_gbp = :v WHERE id = :i"),
                     {"v": rng.randint(100, 999), "i": rng.choice(existing)})


def test_cache_is_exact_after_every_commit_of_random_changes(engine: Engine) -> None:
    rng = random.Random(20260323)
    with engine.begin() as conn:
        accts = accounts(conn)
        run = conn.info["run"]
    for step in range(60):
        with engine.connect() as conn:
            tx = conn.begin()
            for _ in range(rng.randint(1, 4)):
                random_change(conn, rng, run, accts)
            if step % 10 == 9:
                tx.rollback()  # nothing happened
            else:
                tx.commit()
        assert_cache_exact(engine)
    with engine.connect() as conn:
        assert all(n > 0 for n, _s, _m in differences(conn).values())


def test_a_rolled_back_savepoint_leaves_no_trace(engine: Engine) -> None:
    with engine.begin() as conn:
        accts = accounts(conn)
        rows.snapshot(conn, conn.info["run"], *accts[0], START, "100")
    with engine.begin() as conn:
        rows.snapshot(conn, conn.info.get("run") or rows.run(conn), *accts[1], START + timedelta(days=2), "50")
        savepoint = conn.begin_nested()
        conn.execute(text("DELETE FROM snapshots"))
        savepoint.rollback()
    assert_cache_exact(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM daily_account_value")).scalar() == 3 + 1


def test_a_writer_sees_its_own_uncommitted_changes_and_others_see_the_cache(engine: Engine) -> None:
    with engine.begin() as conn:
        accts = accounts(conn)
        rows.snapshot(conn, conn.info["run"], *accts[0], START, "100")
    with engine.connect() as writer, engine.connect() as reader:
        tx = writer.begin()
        rows.snapshot(writer, rows.run(writer), *accts[0], START + timedelta(days=1), "120")
        assert writer.execute(text("SELECT daily_value_cache_usable()")).scalar() is False
        assert writer.execute(text("SELECT max(total_value_gbp) FROM daily_account_value")).scalar() == 120
        assert reader.execute(text("SELECT daily_value_cache_usable()")).scalar() is True
        assert reader.execute(text("SELECT max(total_value_gbp) FROM daily_account_value")).scalar() == 100
        reader.rollback()
        tx.commit()
        assert reader.execute(text("SELECT max(total_value_gbp) FROM daily_account_value")).scalar() == 120
    assert_cache_exact(engine)


def test_concurrent_writers_commit_in_any_order(engine: Engine) -> None:
    with engine.begin() as conn:
        accts = accounts(conn)
        rows.snapshot(conn, conn.info["run"], *accts[0], START, "100")
    for order in ((0, 1), (1, 0), None):
        conns = [engine.connect(), engine.connect()]
        txs = [c.begin() for c in conns]
        for n, c in enumerate(conns):  # each adds a newer day for another account: both move the last day
            base = c.execute(text("SELECT max(asof_ts) FROM snapshots")).scalar()
            rows.snapshot(c, rows.run(c), *accts[n + 1], base + timedelta(days=1 + n, hours=n), str(200 + n))
        if order is None:  # at the same time
            threads = [threading.Thread(target=tx.commit) for tx in txs]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
        else:
            for n in order:
                txs[n].commit()
        for c in conns:
            c.close()
        assert_cache_exact(engine)


def test_truncate_empties_the_cache(engine: Engine) -> None:
    with engine.begin() as conn:
        accts = accounts(conn)
        rows.snapshot(conn, conn.info["run"], *accts[0], START, "100")
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE snapshots CASCADE"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM daily_account_value_cache")).scalar() == 0
    assert_cache_exact(engine)


def test_other_isolation_levels_are_refused_at_commit(engine: Engine) -> None:
    with engine.begin() as conn:
        accts = accounts(conn)
    with engine.connect() as conn:
        conn.execute(text("BEGIN ISOLATION LEVEL REPEATABLE READ"))
        rows.snapshot(conn, rows.run(conn), *accts[0], START, "100")
        with pytest.raises(DBAPIError, match="only be changed in READ COMMITTED"):
            conn.execute(text("COMMIT"))


def test_tracking_a_zone_fills_its_cache_and_the_app_tracks_its_own(engine: Engine, db_url: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with engine.begin() as conn:
        accts = accounts(conn)
        rows.snapshot(conn, conn.info["run"], *accts[0], START, "100")
        rows.snapshot(conn, conn.info["run"], *accts[1], START + timedelta(days=3), "100")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT daily_value_cache_track('Asia/Tokyo')")).scalar() is True
        assert conn.execute(text("SELECT daily_value_cache_track('Asia/Tokyo')")).scalar() is False
        with pytest.raises(DBAPIError, match="time zone"):
            conn.execute(text("SELECT daily_value_cache_track('Mars/Olympus')"))
    assert_cache_exact(engine)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("PORTFOLIO_TIMEZONE", "America/Chicago")
    app = App(load_settings(_env_file=None))
    app.migrate()
    with app.engine.connect() as conn:
        assert conn.execute(text("SELECT daily_value_cache_usable()")).scalar() is True
        assert conn.execute(text("SELECT count(*) FROM daily_account_value")).scalar() == 4 + 1
    app.dispose()
    assert_cache_exact(engine)


def test_updates_of_columns_the_views_do_not_read_leave_the_cache_alone(engine: Engine) -> None:
    with engine.begin() as conn:
        accts = accounts(conn)
        rows.snapshot(conn, conn.info["run"], *accts[0], START, "100")
    with engine.connect() as conn:
        conn.execute(text("UPDATE snapshots SET asof_source = 'reprocessed', parser_version = '2'"))
        assert conn.execute(text("SELECT daily_value_cache_usable()")).scalar() is True  # nothing pending
        conn.execute(text("UPDATE snapshots SET total_value_gbp = 101"))
        assert conn.execute(text("SELECT daily_value_cache_usable()")).scalar() is False
        conn.commit()
    assert_cache_exact(engine)
