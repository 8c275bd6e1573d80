"""`portfolio-dashboard export KIND` against a real database with demo history: every kind writes, and CSV and
Parquet round-trip the stored decimals exactly."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from portfolio_dashboard.cli import app as cli
from portfolio_dashboard.services.demo_history import seed
from portfolio_dashboard.services.statements.export_columns import EXPORT_KINDS

DAYS = 20


@pytest.fixture
def seeded(app):
    app.migrate()
    seed(app, DAYS)
    return app


def export(*args: str):
    return CliRunner().invoke(cli, ["export", *args], catch_exceptions=False)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_daily_values_csv_carries_the_stored_values_exactly(seeded, tmp_path):
    result = export("daily-values", "--output", str(tmp_path))
    assert result.exit_code == 0, result.output
    rows = read_csv(tmp_path / "daily-values.csv")
    assert list(rows[0]) == [c.name for c in EXPORT_KINDS["daily-values"]]
    with seeded.engine.connect() as conn:
        stored = {(str(r.day), r.broker_account_id): (r.total_value_gbp, str(r.snapshot_id)) for r in conn.execute(
            text("SELECT day, broker_account_id, total_value_gbp, snapshot_id FROM daily_account_value"))}
    assert len(rows) == len(stored)
    for row in rows:
        value, snapshot = stored[(row["date"], row["account_id"])]
        assert Decimal(row["value_gbp"]) == value and str(Decimal(row["value_gbp"])) == str(value)
        assert row["snapshot_id"] == snapshot
        assert len(row["source_sha256"]) == 64


def test_positions_csv_and_parquet_round_trip_with_exact_decimals(seeded, tmp_path):
    last = date.today()
    first = last - timedelta(days=3)
    csv_path = tmp_path / "positions-out.csv"
    assert export("positions", "--from", str(first), "--to", str(last), "--output", str(csv_path)).exit_code == 0
    result = export("positions", "--from", str(first), "--to", str(last), "--format", "parquet",
                    "--output", str(tmp_path))
    assert result.exit_code == 0, result.output
    rows = read_csv(csv_path)
    table = pq.read_table(tmp_path / "positions.parquet")
    assert table.num_rows == len(rows) > 0
    assert str(table.schema.field("value_local").type) == "decimal128(38, 10)"
    parquet_rows = table.to_pylist()
    with seeded.engine.connect() as conn:
        stored = {(str(r.snapshot_id), r.symbol): r.market_value_local for r in conn.execute(text(
            """SELECT p.snapshot_id, COALESCE(i.symbol, i.name, i.broker_instrument_id) AS symbol,
                      p.market_value_local FROM positions p JOIN instruments i ON i.id = p.instrument_id"""))}
    for c, p in zip(rows, parquet_rows, strict=True):
        assert c["snapshot_id"] == p["snapshot_id"] and c["security"] == p["security"]
        assert Decimal(c["value_local"]) == p["value_local"] == stored[(c["snapshot_id"], c["security"])]
        assert Decimal(c["quantity"]) == p["quantity"]
        assert first <= date.fromisoformat(c["date"]) <= last
    assert {r["date"] for r in rows} <= {str(first + timedelta(days=n)) for n in range(4)}


@pytest.mark.parametrize("kind", ["trades", "flows", "income", "fx-rates"])
def test_every_other_kind_writes_its_declared_columns(seeded, tmp_path, kind):
    result = export(kind, "--output", str(tmp_path), "--format", "parquet")
    assert result.exit_code == 0, result.output
    table = pq.read_table(tmp_path / f"{kind}.parquet")
    assert table.schema.names == [c.name for c in EXPORT_KINDS[kind]]
    assert f"{table.num_rows} {kind} row(s) written" in result.output


def test_fx_rates_match_the_stored_rates(seeded, tmp_path):
    assert export("fx-rates", "--output", str(tmp_path)).exit_code == 0
    rows = read_csv(tmp_path / "fx-rates.csv")
    with seeded.engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM fx_rates")).scalar_one()
    assert len(rows) == count > 0


def test_a_bad_kind_or_range_is_a_usage_error(seeded, tmp_path):
    assert export("holdings", "--output", str(tmp_path)).exit_code == 2
    assert export("trades", "--from", "2025-02-01", "--to", "2025-01-01").exit_code == 2
    assert export("trades", "--from", "last week").exit_code == 2
