"""The live schema (information_schema) against the Data Persistence Plan, table by table, column by column.

PLAN below is the plan's data model transcribed verbatim (docs: "Data model (PostgreSQL)"). Every table and
column it names must exist with the plan's type; the schema may add tables and columns (documented in
migration 0001) but may not drop, rename or retype any of the plan's.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

# information_schema.columns.data_type for the plan's type words
TYPES = {"uuid": "uuid", "text": "text", "timestamptz": "timestamp with time zone", "numeric": "numeric",
         "jsonb": "jsonb"}

PLAN: dict[str, dict[str, str]] = {
    "snapshot_runs": {
        "run_id": "uuid", "trigger_type": "text", "triggered_by": "text", "started_at": "timestamptz",
        "finished_at": "timestamptz", "status": "text", "schema_version": "text", "app_version": "text",
        "error_summary": "text",
    },
    "broker_accounts": {
        "id": "uuid", "broker": "text", "broker_account_id": "text", "name": "text", "base_currency": "text",
    },
    "instruments": {
        "id": "uuid", "broker": "text", "broker_instrument_id": "text", "symbol": "text", "name": "text",
        "asset_class": "text", "currency": "text", "isin": "text", "cusip": "text",
    },
    "instrument_mapping": {
        "global_instrument_id": "uuid", "instrument_id": "uuid", "mapping_source": "text", "confidence": "numeric",
    },
    "snapshots": {
        "id": "uuid", "run_id": "uuid", "broker": "text", "broker_account_id": "text", "asof_ts": "timestamptz",
        "snapshot_key": "text", "total_value_local": "numeric", "total_value_gbp": "numeric",
        "base_currency": "text",
    },
    "positions": {
        "snapshot_id": "uuid", "instrument_id": "uuid", "quantity": "numeric", "price_local": "numeric",
        "market_value_local": "numeric", "market_value_gbp": "numeric", "fx_rate_id": "uuid",
        "cost_basis": "numeric", "unrealized_pnl": "numeric",
    },
    "fx_rates": {
        "id": "uuid", "asof_ts": "timestamptz", "source_ccy": "text", "target_ccy": "text", "rate": "numeric",
        "provider": "text",
    },
    "raw_payloads": {
        "id": "uuid", "run_id": "uuid", "broker": "text", "endpoint": "text", "payload_json": "jsonb",
        "received_at": "timestamptz",
    },
    "trades": {
        "id": "uuid", "broker": "text", "broker_trade_id": "text", "broker_account_id": "text",
        "instrument_id": "uuid", "trade_ts": "timestamptz", "quantity": "numeric", "price_local": "numeric",
        "amount_local": "numeric", "amount_gbp": "numeric",
    },
}

# The plan's "(UUID, PK)" columns.
PLAN_PRIMARY_KEYS = {
    "snapshot_runs": ["run_id"], "broker_accounts": ["id"], "instruments": ["id"], "snapshots": ["id"],
    "fx_rates": ["id"], "raw_payloads": ["id"], "trades": ["id"],
}

# The plan's "FK -> table" columns.
PLAN_FOREIGN_KEYS = {
    ("instrument_mapping", "instrument_id"): "instruments",
    ("snapshots", "run_id"): "snapshot_runs",
    ("positions", "snapshot_id"): "snapshots",
    ("positions", "instrument_id"): "instruments",
    ("positions", "fx_rate_id"): "fx_rates",
    ("raw_payloads", "run_id"): "snapshot_runs",
}

# The plan's unique constraints. trades: the plan writes "broker_trade_id (text, unique)"; trade ids are only
# unique within a broker (IB and Schwab number independently), so the key is (broker, broker_trade_id).
PLAN_UNIQUE = {
    "snapshots": [["snapshot_key"]],
    "positions": [["snapshot_id", "instrument_id"]],
    "trades": [["broker", "broker_trade_id"]],
}

# The plan's columns that may be empty ("nullable", "optional").
PLAN_NULLABLE = {
    ("snapshot_runs", "triggered_by"), ("snapshot_runs", "app_version"), ("snapshot_runs", "error_summary"),
    ("instruments", "isin"), ("instruments", "cusip"), ("instrument_mapping", "confidence"),
    ("positions", "fx_rate_id"), ("positions", "cost_basis"), ("positions", "unrealized_pnl"),
}

PLAN_VIEWS = ["latest_snapshot_per_broker_account", "daily_portfolio_value", "positions_history",
              "asset_allocation_by_global_instrument"]


def live_columns(conn: Connection) -> dict[str, dict[str, tuple[str, str, str | None]]]:
    """table -> column -> (data_type, is_nullable, column_default) for every base table and view."""
    out: dict[str, dict[str, tuple[str, str, str | None]]] = {}
    for table, column, dtype, nullable, default in conn.execute(
        text("""SELECT table_name, column_name, data_type, is_nullable, column_default
                FROM information_schema.columns WHERE table_schema = 'public'""")
    ):
        out.setdefault(table, {})[column] = (dtype, nullable, default)
    return out


def constraint_columns(conn: Connection, kind: str) -> dict[str, list[list[str]]]:
    """table -> [columns of each constraint of ``kind`` ('p' primary key, 'u' unique)], in key order."""
    out: dict[str, list[list[str]]] = {}
    for table, columns in conn.execute(
        text("""SELECT c.conrelid::regclass::text,
                       array_agg(a.attname::text ORDER BY k.ord)
                FROM pg_constraint c
                CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
                JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
                WHERE c.contype = :kind AND c.connamespace = 'public'::regnamespace
                GROUP BY c.oid, c.conrelid"""),
        {"kind": kind},
    ):
        out.setdefault(table, []).append(list(columns))
    return out


def plan_differences(conn: Connection) -> list[str]:
    live = live_columns(conn)
    problems = []
    for table, columns in PLAN.items():
        if table not in live:
            problems.append(f"missing table {table}")
            continue
        for column, plan_type in columns.items():
            if column not in live[table]:
                problems.append(f"missing column {table}.{column}")
            elif live[table][column][0] != TYPES[plan_type]:
                problems.append(f"{table}.{column} is {live[table][column][0]}, the plan says {plan_type}")
    return problems


def type_problems(conn: Connection) -> list[str]:
    """Timestamps without time zone and binary floats anywhere in the schema (tables and views)."""
    return [
        f"{table}.{column}: {dtype}"
        for table, columns in live_columns(conn).items()
        for column, (dtype, _nullable, _default) in columns.items()
        if (dtype.startswith(("timestamp", "time ")) and dtype != "timestamp with time zone")
        or dtype in ("real", "double precision", "money")
    ]


def test_every_plan_column_exists_with_the_plan_type(conn: Connection) -> None:
    assert plan_differences(conn) == []


def test_every_timestamp_is_timestamptz_and_nothing_is_float(conn: Connection) -> None:
    """In every table and view of the schema, not only the plan's columns."""
    assert type_problems(conn) == []


def test_the_comparison_catches_differences(conn: Connection) -> None:
    """The checks above can fail: retype, drop and add columns (rolled back afterwards)."""
    conn.execute(text("ALTER TABLE snapshot_runs ALTER COLUMN app_version TYPE varchar(40)"))
    conn.execute(text("ALTER TABLE trades DROP COLUMN amount_gbp"))
    conn.execute(text("ALTER TABLE fx_rates ADD COLUMN fetched_at timestamp, ADD COLUMN spread double precision"))
    assert sorted(plan_differences(conn)) == [
        "missing column trades.amount_gbp",
        "snapshot_runs.app_version is character varying, the plan says text",
    ]
    assert sorted(type_problems(conn)) == ["fx_rates.fetched_at: timestamp without time zone",
                                           "fx_rates.spread: double precision"]


def test_plan_primary_keys_foreign_keys_and_uniques(conn: Connection) -> None:
    primary = constraint_columns(conn, "p")
    for table, columns in PLAN_PRIMARY_KEYS.items():
        assert primary.get(table) == [columns], table
    unique = constraint_columns(conn, "u")
    for table, keys in PLAN_UNIQUE.items():
        for key in keys:  # a primary key is unique too (positions' key is its primary key)
            assert key in unique.get(table, []) + primary.get(table, []), f"{table} lacks UNIQUE {key}"
    fks = {
        (table, column): target
        for table, column, target in conn.execute(
            text("""SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text
                    FROM pg_constraint c
                    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
                    WHERE c.contype = 'f' AND cardinality(c.conkey) = 1""")
        )
    }
    for (table, column), target in PLAN_FOREIGN_KEYS.items():
        assert fks.get((table, column)) == target, f"{table}.{column} should reference {target}"


def test_plan_nullability_and_defaults(conn: Connection) -> None:
    live = live_columns(conn)
    for table, column in PLAN_NULLABLE:
        assert live[table][column][1] == "YES", f"{table}.{column} should be nullable"
    for table, columns in PLAN_PRIMARY_KEYS.items():
        for column in columns:
            assert live[table][column][1] == "NO"
    # snapshots.base_currency (text, default GBP)
    assert live["snapshots"]["base_currency"][2] == "'GBP'::text"


def test_the_plan_views_exist(conn: Connection) -> None:
    views = {r[0] for r in conn.execute(text("SELECT table_name FROM information_schema.views "
                                             "WHERE table_schema = 'public'"))}
    assert set(PLAN_VIEWS) <= views
