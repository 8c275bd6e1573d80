"""Positions written without per-row foreign-key triggers (storage/trusted.py): the references are proven and
locked set-based first, nothing else is skipped, and a role without the privilege writes the same rows checked."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DBAPIError

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.brokers.demo import DemoSource
from portfolio_dashboard.config import Settings
from portfolio_dashboard.domain import TriggerContext
from portfolio_dashboard.errors import DatabaseError
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.storage.trusted import lock_references, trusted_insert

DAY1 = datetime(2026, 11, 18, 16, 35, tzinfo=UTC)


def capture_day(app: App, day: int) -> None:
    at = DAY1 + timedelta(days=day)
    run = capture(TriggerContext(sources=("demo",)), app=app, sources={"demo": DemoSource(clock=lambda: at)})
    assert run.status == "success", run.error_summary


def as_plain_role(engine: Engine) -> None:
    """Every new connection of ``engine`` acts as a role without superuser (an app role). Roles belong to the
    whole (session-wide) server, so each test gets its own."""
    role = f"pd_plain_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} NOSUPERUSER"))
        conn.execute(text(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}"))
        conn.execute(text(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}"))
        conn.execute(text(f"GRANT CREATE, TEMPORARY ON DATABASE {engine.url.database} TO {role}"))

    @event.listens_for(engine, "connect")
    def set_role(dbapi_conn: object, _record: object) -> None:
        with dbapi_conn.cursor() as cur:  # type: ignore[attr-defined]
            cur.execute(f"SET ROLE {role}")
        dbapi_conn.commit()  # type: ignore[attr-defined]

    engine.dispose()


def test_the_schema_puts_no_trigger_of_its_own_on_positions(engine: Engine) -> None:
    """Only the foreign-key checks that lock_references replaces (internal triggers) are on positions, so the
    trusted path is on by default; a trigger of the schema's own there would turn it off for every capture."""
    with engine.connect() as conn:
        own = conn.execute(text(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'positions'::regclass AND NOT tgisinternal")).all()
    assert own == []


def test_superuser_may_skip_and_an_app_role_may_not(settings: Settings) -> None:
    app = App(settings)
    app.migrate()
    with app.engine.connect() as conn:
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        assert lock_references(cur) is True
    as_plain_role(app.engine)
    with app.engine.connect() as conn:
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        assert lock_references(cur) is False
    app.dispose()


def test_a_missing_reference_raises_before_anything_is_written(app: App) -> None:
    capture_day(app, 0)
    with app.engine.connect() as conn:
        snapshot = conn.execute(text("SELECT id FROM snapshots LIMIT 1")).scalar_one()
        instrument = conn.execute(text("SELECT id FROM instruments LIMIT 1")).scalar_one()
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with pytest.raises(DatabaseError, match=r"no longer exist \(1 FX rate\(s\)\)"):
            lock_references(cur, snapshots=[snapshot], instruments=[instrument], rates=[uuid.uuid4()])
        conn.rollback()
        with pytest.raises(DatabaseError, match=r"\(1 snapshot\(s\), 2 instrument\(s\)\)"):
            lock_references(cur, snapshots=[uuid.uuid4()], instruments=[uuid.uuid4(), uuid.uuid4()])


def test_a_concurrent_delete_of_a_referenced_row_waits_and_then_fails(app: App) -> None:
    """The lock is the one a foreign-key check takes: deleting the instrument waits for the writer's commit,
    then its own check finds the new position referencing it."""
    capture_day(app, 0)
    with app.engine.begin() as conn:
        snapshot = conn.execute(text("SELECT id FROM snapshots LIMIT 1")).scalar_one()
        orphan = conn.execute(text(
            "INSERT INTO instruments (broker, broker_instrument_id, symbol, asset_class, currency) "
            "VALUES ('demo', 'X-ONLY', 'XO', 'stock', 'GBP') RETURNING id")).scalar_one()
    writer = app.engine.connect()
    tx = writer.begin()
    cur = writer.connection.driver_connection.cursor()  # type: ignore[union-attr]
    allowed = lock_references(cur, snapshots=[snapshot], instruments=[orphan])
    with trusted_insert(cur, allowed), cur.copy(
            "COPY positions (snapshot_id, instrument_id, quantity, market_value_local) FROM STDIN") as copy:
        copy.write_row((snapshot, orphan, Decimal(1), Decimal(1)))
    with app.engine.connect() as other:
        other.execute(text("SET lock_timeout = '300ms'"))
        with pytest.raises(DBAPIError, match="lock timeout"):
            other.execute(text("DELETE FROM instruments WHERE id = :i"), {"i": orphan})
        other.rollback()
        tx.commit()
        writer.close()
        with pytest.raises(DBAPIError, match="foreign key"):
            other.execute(text("DELETE FROM instruments WHERE id = :i"), {"i": orphan})


def test_an_app_role_writes_the_same_rows_with_the_checks(settings: Settings) -> None:
    app = App(settings)
    capture_day(app, 0)
    as_plain_role(app.engine)
    with app.engine.connect() as conn:
        assert not conn.execute(text("SELECT current_setting('is_superuser') = 'on'")).scalar_one()
    capture_day(app, 1)
    with app.engine.connect() as conn:
        days = conn.execute(text(
            """SELECT s.asof_ts, count(*), array_agg(i.symbol ORDER BY i.symbol), sum(p.market_value_local),
                      count(p.fx_rate_id)
               FROM positions p JOIN snapshots s ON s.id = p.snapshot_id JOIN instruments i ON i.id = p.instrument_id
               GROUP BY s.asof_ts ORDER BY s.asof_ts""")).all()
    assert len(days) == 2
    (_, n1, symbols1, _, fx1), (_, n2, symbols2, _, fx2) = days
    assert (n1, symbols1, fx1) == (n2, symbols2, fx2) and n1 == 17
    app.dispose()


def test_a_trigger_of_the_users_own_on_positions_turns_the_trusted_path_off(app: App) -> None:
    """An audit trigger someone adds to positions still fires for every captured row."""
    capture_day(app, 0)
    with app.engine.begin() as conn:
        conn.execute(text("CREATE TABLE audit_log (n int)"))
        conn.execute(text("""CREATE FUNCTION audit() RETURNS trigger AS $$
                             BEGIN INSERT INTO audit_log VALUES (1); RETURN NEW; END $$ LANGUAGE plpgsql"""))
        conn.execute(text("CREATE TRIGGER audit AFTER INSERT ON positions FOR EACH ROW EXECUTE FUNCTION audit()"))
    with app.engine.connect() as conn:
        assert lock_references(conn.connection.driver_connection.cursor()) is False  # type: ignore[union-attr]
    capture_day(app, 1)
    with app.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 17
