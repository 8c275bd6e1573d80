"""The database export path (``export_history``: COPY text for CSV, Arrow's CSV reader for Parquet) against two
references on a real PostgreSQL history: the row-by-row path (``export_rows`` + ``write_export``, what the CLI
used before) and a plain ``csv.writer`` over the same rows. Every kind, both formats, with awkward text (commas,
quotes, line breaks, an empty string, "NA"), moments with and without microseconds, and decimals whose Python
text would be in exponent form.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import text

from portfolio_dashboard.services.demo_history import seed
from portfolio_dashboard.services.statements.export_columns import EXPORT_KINDS
from portfolio_dashboard.services.statements.export_history import export_history
from portfolio_dashboard.services.statements.exports import ExportError, parquet_schema, write_export
from portfolio_dashboard.storage.reads.exports import export_rows

END = datetime(2026, 11, 2, tzinfo=UTC)
DAYS = 45
ODD_TEXT = ["a, b", 'say "hi"', "two\nlines", "", "NA", None, "plain"]


@pytest.fixture
def history(app):
    app.migrate()
    seed(app, DAYS, end=END)
    with app.engine.begin() as conn:
        account = conn.execute(text("SELECT broker, broker_account_id FROM broker_accounts LIMIT 1")).one()
        instrument = conn.execute(text("SELECT instrument_id FROM positions LIMIT 1")).scalar_one()
        # text that needs quoting, and an empty ISIN (an empty cell in CSV, an empty string in Parquet)
        conn.execute(text("UPDATE instruments SET symbol = 'A, \"B\"', isin = '' WHERE id = :i"), {"i": instrument})
        conn.execute(
            text("UPDATE positions SET price_local = NULL, quantity = 0.0000001 WHERE instrument_id = :i"),
            {"i": instrument},
        )
        for n, description in enumerate(ODD_TEXT):
            moment = datetime(2026, 10, 20, 9, 30, n, 123456 if n % 2 else 0, tzinfo=UTC)
            amount = ("0.0000000000", "-12.50", "1000000.005", "0.00000010")[n % 4]
            for kind in ("deposit", "dividend", "withholding_tax"):
                conn.execute(
                    text(
                        """INSERT INTO cash_flows (broker, broker_account_id, broker_flow_id, kind, instrument_id,
                           flow_ts, currency, amount_local, amount_gbp, description)
                       VALUES (:b, :a, :f, :k, :i, :t, 'USD', :amt, :gbp, :d)"""
                    ),
                    {
                        "b": account.broker,
                        "a": account.broker_account_id,
                        "f": f"odd-{kind}-{n}",
                        "k": kind,
                        "i": instrument if kind != "deposit" else None,
                        "t": moment,
                        "amt": Decimal(amount) * (-1 if kind == "withholding_tax" else 1),
                        "gbp": None if n == 3 else Decimal(amount) * Decimal("0.78"),
                        "d": description,
                    },
                )
            conn.execute(
                text(
                    """INSERT INTO trades (broker, broker_trade_id, broker_account_id, instrument_id, trade_ts, quantity,
                       price_local, amount_local, amount_gbp, currency, commission)
                   VALUES (:b, :t, :a, :i, :ts, :q, :p, :amt, :gbp, 'USD', 0.0000000000)"""
                ),
                {
                    "b": account.broker,
                    "t": f"odd,{n}",
                    "a": account.broker_account_id,
                    "i": instrument if n % 2 else None,
                    "ts": moment,
                    "q": Decimal("-0.0000001"),
                    "p": Decimal("12.3400"),
                    "amt": Decimal(amount),
                    "gbp": Decimal(amount) / 3,
                },
            )
            conn.execute(
                text(
                    "INSERT INTO fx_rates (asof_ts, source_ccy, target_ccy, rate, provider) "
                    "VALUES (:t, 'JPY', 'GBP', :r, 'manual')"
                ),
                {"t": moment, "r": Decimal("0.00000012345")},
            )
    return app


def reference_csv(kind: str, rows: list[dict[str, Any]]) -> bytes:
    """The straightforward writer: each cell as a person would write it, through ``csv.writer``."""

    def cell(value: object) -> object:
        if value is None:
            return ""
        if isinstance(value, Decimal):
            return format(value, "f")
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat()
        if isinstance(value, date):
            return value.isoformat()
        return value

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = [c.name for c in EXPORT_KINDS[kind]]
    writer.writerow(names)
    writer.writerows([cell(row[n]) for n in names] for row in rows)
    return out.getvalue().encode()


@pytest.mark.parametrize("span", [(None, None), (END.date() - timedelta(days=14), END.date() - timedelta(days=3))])
def test_every_kind_writes_what_the_row_by_row_path_and_a_plain_writer_write(history, tmp_path: Path, span) -> None:
    start, end = span
    for kind in EXPORT_KINDS:
        with history.engine.connect() as conn:
            rows = [dict(r) for r in export_rows(conn, kind, start, end)]
        assert rows, kind  # every kind has rows, or the comparison would prove little
        with history.engine.connect() as conn:
            fast = export_history(conn, kind, tmp_path / "fast", fmt="csv", start=start, end=end)
        old = write_export(kind, rows, tmp_path / "old", fmt="csv")
        assert fast.rows == old.rows == len(rows)
        assert fast.path.read_bytes() == old.path.read_bytes() == reference_csv(kind, rows), kind

        with history.engine.connect() as conn:
            fast = export_history(conn, kind, tmp_path / "fast", fmt="parquet", start=start, end=end)
        old = write_export(kind, rows, tmp_path / "old", fmt="parquet")
        fast_table, old_table = pq.read_table(fast.path), pq.read_table(old.path)
        assert fast.rows == fast_table.num_rows == len(rows)
        assert fast_table.schema.equals(parquet_schema(kind)) and old_table.schema.equals(parquet_schema(kind))
        assert fast_table.to_pylist() == old_table.to_pylist(), kind
        for name in ("kind", "description", "isin", "security", "broker_trade_id"):  # "" and None stay apart
            if name in fast_table.schema.names:
                assert fast_table.column(name).to_pylist() == [r[name] for r in rows]

        with history.engine.connect() as conn:
            strings = export_history(
                conn, kind, tmp_path / "text", fmt="parquet", parquet_decimals="string", start=start, end=end
            )
        decimals = [c.name for c in EXPORT_KINDS[kind] if c.type == "decimal"]
        table = pq.read_table(strings.path)
        for name in decimals:
            assert table.column(name).to_pylist() == [None if r[name] is None else format(r[name], "f") for r in rows]


def test_the_odd_rows_are_in_the_files(history, tmp_path: Path) -> None:
    with history.engine.connect() as conn:
        path = export_history(conn, "flows", tmp_path, fmt="csv").path
        trades = export_history(conn, "trades", tmp_path, fmt="csv").path
    with path.open(encoding="utf-8", newline="") as f:
        descriptions = {r["description"] for r in csv.DictReader(f)}
    assert {"a, b", 'say "hi"', "two\nlines", "NA", ""} <= descriptions
    assert "2026-10-20T09:30:01.123456+00:00" in trades.read_text() and "2026-10-20T09:30:00+00:00,odd,0" not in (
        trades.read_text()
    )  # the id with a comma is quoted
    assert '"odd,0"' in trades.read_text() and ",-0.0000001," in trades.read_text()


def test_parquet_refuses_a_value_with_more_places_than_its_scale(history, tmp_path: Path) -> None:
    with history.engine.begin() as conn:
        conn.execute(text("UPDATE trades SET price_local = 1.00000000001 WHERE broker_trade_id = 'odd,1'"))
    out = tmp_path / "out"
    with history.engine.connect() as conn, pytest.raises(ExportError, match="trades: in column price"):
        export_history(conn, "trades", out, fmt="parquet")
    assert not list(out.iterdir())  # nothing half-written is left behind
    with history.engine.connect() as conn:  # CSV carries the exact text
        path = export_history(conn, "trades", out, fmt="csv").path
    assert ",1.00000000001," in path.read_text()
