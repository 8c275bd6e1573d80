"""History exports to CSV and Parquet: declared columns, exact decimals both ways, clear refusals."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from portfolio_dashboard.services.statements.export_columns import EXPORT_KINDS
from portfolio_dashboard.services.statements.exports import (
    ExportError,
    export_path,
    parquet_schema,
    write_export,
)

SHA = "ab" * 32


def position(day: int, quantity: str = "12.5", price: str = "0.0000000000") -> dict[str, object]:
    return {
        "date": date(2025, 1, 1) + timedelta(days=day),
        "account_id": "U1234567",
        "broker": "ib",
        "security": "VWRL",
        "isin": None if day % 2 else "IE00B3RBWM25",
        "quantity": Decimal(quantity),
        "price": Decimal(price),
        "currency": "USD",
        "value_local": Decimal("1E+3"),
        "fx_rate_gbp_per_unit": Decimal("0.787401574803149606"),
        "value_gbp": Decimal("787.40"),
        "snapshot_id": f"snap-{day}",
        "source_sha256": SHA,
    }


@dataclass(frozen=True)
class FxRow:
    as_of: datetime
    source_currency: str
    target_currency: str
    rate: Decimal
    provider: str
    source_sha256: str | None


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_file_target_exact_decimals_in_plain_notation(tmp_path: Path) -> None:
    rows = [position(d) for d in range(5)]
    result = write_export("positions", iter(rows), tmp_path / "positions-2025.csv", batch_rows=2)
    assert result.rows == 5 and result.path == tmp_path / "positions-2025.csv"
    back = read_csv(result.path)
    assert list(back[0]) == [c.name for c in EXPORT_KINDS["positions"]]
    assert back[0]["price"] == "0.0000000000" and back[0]["value_local"] == "1000"
    assert back[1]["isin"] == ""
    for row, original in zip(back, rows, strict=True):
        assert Decimal(row["fx_rate_gbp_per_unit"]) == original["fx_rate_gbp_per_unit"]
        assert row["date"] == str(original["date"])
        assert Decimal(row["quantity"]) == original["quantity"]


def test_csv_directory_target_and_dataclass_rows(tmp_path: Path) -> None:
    moment = datetime(2025, 6, 30, 17, 0, tzinfo=timezone(timedelta(hours=1)))
    rows = [FxRow(moment, "USD", "GBP", Decimal("0.78125"), "ecb", None)]
    result = write_export("fx-rates", rows, tmp_path / "out")
    assert result.path == tmp_path / "out" / "fx-rates.csv"
    (row,) = read_csv(result.path)
    assert row["as_of"] == "2025-06-30T16:00:00+00:00"  # written in UTC
    assert (row["rate"], row["source_sha256"]) == ("0.78125", "")
    assert export_path("trades", tmp_path / "out", "parquet") == tmp_path / "out" / "trades.parquet"


def test_parquet_round_trip_keeps_exact_decimals(tmp_path: Path) -> None:
    rows = [position(d, quantity="123456789.0123456789") for d in range(7)]
    result = write_export("positions", rows, tmp_path / "p.parquet", fmt="parquet", batch_rows=3)
    table = pq.read_table(result.path)
    assert table.schema.equals(parquet_schema("positions"))
    assert str(table.schema.field("fx_rate_gbp_per_unit").type) == "decimal128(38, 18)"
    back = table.to_pylist()
    assert len(back) == 7 and pq.ParquetFile(result.path).metadata.num_row_groups == 3
    for row, original in zip(back, rows, strict=True):
        for name in ("quantity", "price", "value_local", "fx_rate_gbp_per_unit", "value_gbp"):
            assert row[name] == original[name]
        assert row["date"] == original["date"] and row["isin"] == original["isin"]


def test_parquet_string_decimals_and_timestamps(tmp_path: Path) -> None:
    moment = datetime(2025, 6, 30, 16, 0, tzinfo=UTC)
    rate = Decimal("0.7874015748031496062992125984")  # more places than decimal128(38, 18) keeps
    with pytest.raises(ExportError, match="18 decimal places"):
        write_export("fx-rates", [FxRow(moment, "USD", "GBP", rate, "ecb", SHA)], tmp_path / "r.parquet", fmt="parquet")
    assert not (tmp_path / "r.parquet").exists() and not list(tmp_path.iterdir())  # nothing half-written
    result = write_export(
        "fx-rates",
        [FxRow(moment, "USD", "GBP", rate, "ecb", SHA)],
        tmp_path / "r.parquet",
        fmt="parquet",
        parquet_decimals="string",
    )
    (row,) = pq.read_table(result.path).to_pylist()
    assert Decimal(row["rate"]) == rate and row["as_of"] == moment


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_empty_export_still_has_its_columns(tmp_path: Path, fmt: str) -> None:
    result = write_export("income", [], tmp_path, fmt=fmt)  # type: ignore[arg-type]
    assert result.rows == 0
    names = [c.name for c in EXPORT_KINDS["income"]]
    if fmt == "csv":
        assert result.path.read_text().strip() == ",".join(names)
    else:
        assert pq.read_table(result.path).column_names == names


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"price": 1.5}, "must be Decimal"),
        ({"quantity": None}, "not nullable"),
        ({"security": "__drop__"}, "lacks column 'security'"),
    ],
)
def test_rows_that_do_not_fit_are_refused(tmp_path: Path, change: dict[str, object], message: str) -> None:
    row = position(0) | change
    row = {k: v for k, v in row.items() if v != "__drop__"}
    for fmt in ("csv", "parquet"):
        with pytest.raises(ExportError, match=message):
            write_export("positions", [position(1), row], tmp_path / f"x.{fmt}", fmt=fmt)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_unknown_kind_and_format() -> None:
    with pytest.raises(ExportError, match="unknown export kind"):
        write_export("holdings", [], Path("unused"))
    with pytest.raises(ExportError, match="unknown format"):
        write_export("flows", [], Path("unused"), fmt="xlsx")  # type: ignore[arg-type]


def test_every_kind_declares_a_source_hash_and_no_duplicate_columns() -> None:
    assert set(EXPORT_KINDS) == {"daily-values", "positions", "trades", "flows", "income", "fx-rates"}
    for columns in EXPORT_KINDS.values():
        names = [c.name for c in columns]
        assert len(names) == len(set(names)) and names[-1] == "source_sha256"
        assert all(c.meaning for c in columns)


def test_docs_list_every_column_of_every_kind() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "exports.md").read_text()
    for kind, columns in EXPORT_KINDS.items():
        block = doc.split(f"### `{kind}`", 1)[1].split("###", 1)[0]
        for column in columns:
            assert f"| `{column.name}` |" in block, (kind, column.name)


def test_text_that_needs_quoting_reads_back_the_same(tmp_path: Path) -> None:
    def flow(description: str | None) -> dict[str, object]:
        return {
            "date": date(2025, 5, 1),
            "account_id": "U1234567",
            "broker": "ib",
            "kind": "deposit",
            "currency": "GBP",
            "amount_local": Decimal("10.00"),
            "fx_rate_gbp_per_unit": Decimal(1),
            "amount_gbp": Decimal("10.00"),
            "description": description,
            "source_sha256": SHA,
        }

    descriptions = ["plain", 'Wire, "urgent"\nsecond line', None, "café — £5"]
    result = write_export("flows", [flow(d) for d in descriptions], tmp_path / "f.csv", batch_rows=2)
    back = read_csv(result.path)
    assert [r["description"] for r in back] == ["plain", 'Wire, "urgent"\nsecond line', "", "café — £5"]
    assert (
        result.path.read_text(encoding="utf-8").splitlines()[1]
        == f"2025-05-01,U1234567,ib,deposit,GBP,10.00,1,10.00,plain,{SHA}"
    )


def test_the_garbage_collector_is_resumed_after_an_export_even_a_failed_one(tmp_path: Path) -> None:
    import gc

    assert gc.isenabled()
    write_export("positions", [position(0)], tmp_path / "ok.csv")
    assert gc.isenabled()
    with pytest.raises(ExportError):
        write_export("positions", [position(0) | {"price": 1.5}], tmp_path / "bad.csv")
    assert gc.isenabled()
