"""Every constraint of the schema is enforced by PostgreSQL itself: each bad row below is rejected with the
specific error class and the constraint's name (so the application's upserts can rely on them)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from tests.integration import rows

T0 = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)


@dataclass
class Base:
    run_id: uuid.UUID
    snapshot_id: uuid.UUID
    instrument_id: uuid.UUID
    other_instrument_id: uuid.UUID
    global_id: uuid.UUID
    fx_rate_id: uuid.UUID


@pytest.fixture
def base(conn: Connection) -> Base:
    """One valid row in every table; each case then adds one bad row next to it."""
    run_id = rows.run(conn)
    rows.account(conn, "ib", "U1")
    sid = rows.snapshot(conn, run_id, "ib", "U1", T0, "100", key="ib|U1|t0")
    iid = rows.instrument(conn, "ib", "265598")
    other = rows.instrument(conn, "ib", "8314")
    gid = rows.global_instrument(conn, "Apple")
    rows.mapping(conn, gid, iid)
    fx = rows.fx_rate(conn, T0, "USD", "GBP", "0.79")
    rows.position(conn, sid, iid, "10", "100", "79", fx_rate_id=fx)
    conn.execute(
        text("""INSERT INTO trades (broker, broker_trade_id, broker_account_id, instrument_id, trade_ts, quantity)
                VALUES ('ib', 'T-1', 'U1', :i, :ts, 5)"""),
        {"i": iid, "ts": T0},
    )
    conn.execute(
        text("""INSERT INTO raw_payloads (run_id, broker, endpoint, payload_json, received_at, content_sha256)
                VALUES (:r, 'ib', '/portfolio/accounts', '{}'::jsonb, :ts, 'abc')"""),
        {"r": run_id, "ts": T0},
    )
    return Base(run_id, sid, iid, other, gid, fx)


def sql(statement: str, **fixed: Any) -> Callable[[Connection, Base], None]:
    """A case: ``statement`` with ``:run``, ``:snap``, ``:inst``, ``:other``, ``:glob``, ``:fx``, ``:ts`` bound."""

    def execute(conn: Connection, b: Base) -> None:
        params = {"run": b.run_id, "snap": b.snapshot_id, "inst": b.instrument_id, "other": b.other_instrument_id,
                  "glob": b.global_id, "fx": b.fx_rate_id, "ts": T0, "new": uuid.uuid4(), **fixed}
        conn.execute(text(statement), {k: v for k, v in params.items() if f":{k}" in statement})

    return execute


SNAPSHOT = """INSERT INTO snapshots (run_id, broker, broker_account_id, asof_ts, snapshot_key, total_value_gbp)
              VALUES ({run}, 'ib', {acct}, :ts, {key}, 1)"""
RUN = """INSERT INTO snapshot_runs (trigger_type, status, schema_version, finished_at)
         VALUES ({trigger}, {status}, '0002', {finished})"""
MAPPING = """INSERT INTO instrument_mapping (global_instrument_id, instrument_id, mapping_source, confidence)
             VALUES ({glob}, {inst}, {source}, {confidence})"""
POSITION = """INSERT INTO positions (snapshot_id, instrument_id, quantity, market_value_local, fx_rate_id)
              VALUES ({snap}, {inst}, 1, 1, {fx})"""
RAW = """INSERT INTO raw_payloads (run_id, broker, endpoint, payload_json, body_text, received_at, content_sha256)
         VALUES ({run}, 'ib', '/x', {json}, {body}, :ts, 'abc')"""
TRADE = """INSERT INTO trades (broker, broker_trade_id, broker_account_id, instrument_id, trade_ts, quantity)
           VALUES ({broker}, {trade}, 'U1', {inst}, :ts, 1)"""

UNIQUE = psycopg.errors.UniqueViolation
CHECK = psycopg.errors.CheckViolation
FOREIGN_KEY = psycopg.errors.ForeignKeyViolation

CASES: dict[str, tuple[Callable[[Connection, Base], None], type[psycopg.Error], str]] = {
    # the plan's idempotency keys
    "duplicate snapshot_key": (
        sql(SNAPSHOT.format(run=":run", acct="'U1'", key="'ib|U1|t0'")), UNIQUE, "snapshots_snapshot_key_key"),
    "duplicate (snapshot_id, instrument_id)": (
        sql(POSITION.format(snap=":snap", inst=":inst", fx="NULL")), UNIQUE, "positions_snapshot_instrument_key"),
    "bad run status": (
        sql(RUN.format(trigger="'manual'", status="'done'", finished=":ts")), CHECK, "snapshot_runs_status_check"),
    # the other natural keys
    "duplicate instrument (broker, broker_instrument_id)": (
        sql("INSERT INTO instruments (broker, broker_instrument_id) VALUES ('ib', '265598')"),
        UNIQUE, "instruments_broker_instrument_key"),
    "duplicate broker account": (
        sql("INSERT INTO broker_accounts (broker, broker_account_id) VALUES ('ib', 'U1')"),
        UNIQUE, "broker_accounts_broker_account_key"),
    "duplicate fx rate (asof_ts, source_ccy, target_ccy, provider)": (
        sql("INSERT INTO fx_rates (asof_ts, source_ccy, target_ccy, rate, provider) "
            "VALUES (:ts, 'USD', 'GBP', 0.8, 'ecb')"),
        UNIQUE, "fx_rates_asof_pair_provider_key"),
    "duplicate trade (broker, broker_trade_id)": (
        sql(TRADE.format(broker="'ib'", trade="'T-1'", inst="NULL")), UNIQUE, "trades_broker_trade_key"),
    "second mapping for one instrument": (
        sql(MAPPING.format(glob=":glob", inst=":inst", source="'manual'", confidence="NULL")),
        UNIQUE, "instrument_mapping_instrument_key"),
    "duplicate run id": (
        sql("INSERT INTO snapshot_runs (run_id, trigger_type, schema_version) VALUES (:run, 'manual', '0002')"),
        UNIQUE, "snapshot_runs_pkey"),
    # checks
    "unknown trigger type": (
        sql(RUN.format(trigger="'cron'", status="'success'", finished=":ts")), CHECK, "snapshot_runs_trigger_check"),
    "finished run without finished_at": (
        sql(RUN.format(trigger="'manual'", status="'success'", finished="NULL")),
        CHECK, "snapshot_runs_finished_check"),
    "running run with finished_at": (
        sql(RUN.format(trigger="'manual'", status="'running'", finished=":ts")), CHECK, "snapshot_runs_finished_check"),
    "unknown mapping source": (
        sql(MAPPING.format(glob=":glob", inst=":other", source="'guess'", confidence="NULL")),
        CHECK, "instrument_mapping_source_check"),
    "mapping confidence above 1": (
        sql(MAPPING.format(glob=":glob", inst=":other", source="'heuristic'", confidence="1.5")),
        CHECK, "instrument_mapping_confidence_check"),
    "non-positive fx rate": (
        sql("INSERT INTO fx_rates (asof_ts, source_ccy, target_ccy, rate, provider) "
            "VALUES (:ts, 'EUR', 'GBP', 0, 'ecb')"),
        CHECK, "fx_rates_rate_positive"),
    "raw payload without a body": (
        sql(RAW.format(run=":run", json="NULL", body="NULL")), CHECK, "raw_payloads_body_check"),
    # foreign keys
    "snapshot of an unknown run": (
        sql(SNAPSHOT.format(run=":new", acct="'U1'", key="'k2'")), FOREIGN_KEY, "snapshots_run_id_fkey"),
    "snapshot of an unknown account": (
        sql(SNAPSHOT.format(run=":run", acct="'U999'", key="'k3'")), FOREIGN_KEY, "snapshots_account_fkey"),
    "position of an unknown snapshot": (
        sql(POSITION.format(snap=":new", inst=":other", fx="NULL")), FOREIGN_KEY, "positions_snapshot_id_fkey"),
    "position of an unknown instrument": (
        sql(POSITION.format(snap=":snap", inst=":new", fx="NULL")), FOREIGN_KEY, "positions_instrument_id_fkey"),
    "position with an unknown fx rate": (
        sql(POSITION.format(snap=":snap", inst=":other", fx=":new")), FOREIGN_KEY, "positions_fx_rate_id_fkey"),
    "mapping to an unknown global instrument": (
        sql(MAPPING.format(glob=":new", inst=":other", source="'manual'", confidence="NULL")),
        FOREIGN_KEY, "instrument_mapping_global_instrument_id_fkey"),
    "mapping of an unknown instrument": (
        sql(MAPPING.format(glob=":glob", inst=":new", source="'manual'", confidence="NULL")),
        FOREIGN_KEY, "instrument_mapping_instrument_id_fkey"),
    "raw payload of an unknown run": (
        sql(RAW.format(run=":new", json="'{}'", body="NULL")), FOREIGN_KEY, "raw_payloads_run_id_fkey"),
    "trade of an unknown instrument": (
        sql(TRADE.format(broker="'ib'", trade="'T-2'", inst=":new")), FOREIGN_KEY, "trades_instrument_id_fkey"),
    "deleting a run that snapshots reference": (
        sql("DELETE FROM snapshot_runs WHERE run_id = :run"), FOREIGN_KEY, "snapshots_run_id_fkey"),
    "deleting an instrument that positions reference": (
        sql("DELETE FROM instruments WHERE id = :inst"), FOREIGN_KEY, "positions_instrument_id_fkey"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_postgresql_rejects(conn: Connection, base: Base, case: str) -> None:
    statement, error, constraint = CASES[case]
    with pytest.raises(IntegrityError) as caught:
        statement(conn, base)
    assert isinstance(caught.value.orig, error), type(caught.value.orig)
    assert caught.value.orig.diag.constraint_name == constraint


def test_keys_are_scoped_as_intended(conn: Connection, base: Base) -> None:
    """The same broker-side ids at another broker, or the same pair from another provider, are new rows."""
    rows.instrument(conn, "schwab", "265598")
    rows.account(conn, "schwab", "U1")
    rows.fx_rate(conn, T0, "USD", "GBP", "0.79", provider="ib")
    sql(TRADE.format(broker="'schwab'", trade="'T-1'", inst="NULL"))(conn, base)
    rows.position(conn, base.snapshot_id, base.other_instrument_id, "1", "1", None)
    counts = conn.execute(text("""SELECT (SELECT count(*) FROM instruments), (SELECT count(*) FROM broker_accounts),
                                         (SELECT count(*) FROM fx_rates), (SELECT count(*) FROM trades),
                                         (SELECT count(*) FROM positions)""")).one()
    assert tuple(counts) == (3, 2, 2, 2, 2)


def test_deleting_a_snapshot_deletes_its_positions(conn: Connection, base: Base) -> None:
    conn.execute(text("DELETE FROM snapshots WHERE id = :s"), {"s": base.snapshot_id})
    assert conn.execute(text("SELECT count(*) FROM positions")).scalar() == 0
