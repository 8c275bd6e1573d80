"""Hand-made rows for storage tests: plain SQL inserts with just the columns a test cares about.

Each helper takes an open SQLAlchemy connection (the caller owns the transaction) and returns the new row's
id. Values are Decimals/strings, never floats.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Connection, text

from portfolio_dashboard.storage.migrate import head_revision


def run(conn: Connection, *, status: str = "success", trigger_type: str = "manual") -> uuid.UUID:
    run_id = uuid.uuid4()
    finished = None if status == "running" else datetime.now(UTC)
    conn.execute(
        text("""INSERT INTO snapshot_runs (run_id, trigger_type, status, schema_version, finished_at)
                VALUES (:r, :t, :s, :v, :f)"""),
        {"r": run_id, "t": trigger_type, "s": status, "v": head_revision(), "f": finished},
    )
    return run_id


def account(conn: Connection, broker: str, account_id: str, currency: str = "GBP") -> None:
    conn.execute(
        text("""INSERT INTO broker_accounts (broker, broker_account_id, name, base_currency)
                VALUES (:b, :a, :n, :c)"""),
        {"b": broker, "a": account_id, "n": f"{broker} {account_id}", "c": currency},
    )


def snapshot(
    conn: Connection,
    run_id: uuid.UUID,
    broker: str,
    account_id: str,
    asof: datetime,
    total_gbp: Decimal | str | None,
    *,
    total_local: Decimal | str | None = None,
    currency: str = "GBP",
    created_at: datetime | None = None,
    key: str | None = None,
) -> uuid.UUID:
    sid = uuid.uuid4()
    conn.execute(
        text("""INSERT INTO snapshots (id, run_id, broker, broker_account_id, asof_ts, snapshot_key,
                    total_value_local, total_value_gbp, account_currency, created_at)
                VALUES (:id, :run, :b, :a, :asof, :key, :local, :gbp, :ccy, COALESCE(:created, now()))"""),
        {
            "id": sid, "run": run_id, "b": broker, "a": account_id, "asof": asof,
            "key": key or f"{broker}|{account_id}|{asof.astimezone(UTC).isoformat()}",
            "local": Decimal(total_local) if total_local is not None else (
                Decimal(total_gbp) if total_gbp is not None else None),
            "gbp": Decimal(total_gbp) if total_gbp is not None else None,
            "ccy": currency, "created": created_at,
        },
    )
    return sid


def instrument(conn: Connection, broker: str, broker_instrument_id: str, *, name: str | None = None,
               symbol: str | None = None, currency: str = "GBP", asset_class: str = "equity",
               isin: str | None = None) -> uuid.UUID:
    iid = uuid.uuid4()
    conn.execute(
        text("""INSERT INTO instruments (id, broker, broker_instrument_id, symbol, name, asset_class, currency, isin)
                VALUES (:id, :b, :bid, :sym, :name, :ac, :ccy, :isin)"""),
        {"id": iid, "b": broker, "bid": broker_instrument_id, "sym": symbol or broker_instrument_id,
         "name": name or f"Instrument {broker_instrument_id}", "ac": asset_class, "ccy": currency, "isin": isin},
    )
    return iid


def global_instrument(conn: Connection, name: str, *, symbol: str | None = None) -> uuid.UUID:
    gid = uuid.uuid4()
    conn.execute(
        text("INSERT INTO global_instruments (id, name, symbol, asset_class, currency) "
             "VALUES (:id, :n, :s, 'equity', 'GBP')"),
        {"id": gid, "n": name, "s": symbol or name},
    )
    return gid


def mapping(conn: Connection, global_id: uuid.UUID, instrument_id: uuid.UUID, source: str = "manual") -> None:
    conn.execute(
        text("""INSERT INTO instrument_mapping (global_instrument_id, instrument_id, mapping_source, confidence)
                VALUES (:g, :i, :s, 1)"""),
        {"g": global_id, "i": instrument_id, "s": source},
    )


def fx_rate(conn: Connection, asof: datetime, source: str, target: str, rate: str, provider: str = "ecb") -> uuid.UUID:
    fid = uuid.uuid4()
    conn.execute(
        text("""INSERT INTO fx_rates (id, asof_ts, source_ccy, target_ccy, rate, provider)
                VALUES (:id, :asof, :s, :t, :r, :p)"""),
        {"id": fid, "asof": asof, "s": source, "t": target, "r": Decimal(rate), "p": provider},
    )
    return fid


def position(conn: Connection, snapshot_id: uuid.UUID, instrument_id: uuid.UUID, quantity: str,
             value_local: str, value_gbp: str | None, *, price: str | None = None,
             fx_rate_id: uuid.UUID | None = None) -> None:
    conn.execute(
        text("""INSERT INTO positions (snapshot_id, instrument_id, quantity, price_local, market_value_local,
                    market_value_gbp, fx_rate_id)
                VALUES (:s, :i, :q, :p, :mvl, :mvg, :fx)"""),
        {"s": snapshot_id, "i": instrument_id, "q": Decimal(quantity), "p": Decimal(price) if price else None,
         "mvl": Decimal(value_local), "mvg": Decimal(value_gbp) if value_gbp is not None else None,
         "fx": fx_rate_id},
    )
