"""Reading a benchmark's closes from CSV: the accepted shapes and a one-line error per bad line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from portfolio_dashboard.local.benchmark_csv import BenchmarkFileError, read_closes


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "prices.csv"
    path.write_text(body, encoding="utf-8")
    return path


def test_extra_columns_uk_dates_thousands_and_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes("\ufeffSymbol,Date,Close,Volume\nX,02/01/2026,\"1,234.50\",10\nX,2026-01-01,1200,9\n"
                     .encode())
    assert read_closes(path) == [(date(2026, 1, 1), Decimal("1200")), (date(2026, 1, 2), Decimal("1234.50"))]


def test_a_repeated_identical_row_is_harmless_a_conflicting_one_is_not(tmp_path: Path) -> None:
    assert read_closes(write(tmp_path, "date,close\n2026-01-01,5\n2026-01-01,5\n")) == [
        (date(2026, 1, 1), Decimal("5"))]
    with pytest.raises(BenchmarkFileError) as info:
        read_closes(write(tmp_path, "date,close\n2026-01-01,5\n2026-01-01,6\n"))
    assert info.value.problems == ["line 3: 2026-01-01 appears twice with different closes (5 and 6)"]


@pytest.mark.parametrize(("body", "problem"), [
    ("", "line 1: the header must name the columns 'date' and 'close' (found None)"),
    ("date,close\n", "prices.csv: no rows after the header"),
    ("date,close\n2026-01-01\n", "line 2: expected a date and a close, got ['2026-01-01']"),
    ("date,close\n2026-01-01,NaN\n", "line 2: 'NaN' is not a number"),
    ("date,close\n2026-01-01,0\n", "line 2: the close must be positive, got 0"),
])
def test_bad_files_name_the_line(tmp_path: Path, body: str, problem: str) -> None:
    with pytest.raises(BenchmarkFileError) as info:
        read_closes(write(tmp_path, body))
    assert info.value.problems[-1].endswith(problem)
