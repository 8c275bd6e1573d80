"""Reading a benchmark's closes from a CSV file (columns ``date`` and ``close``; others are ignored).

Every bad row is reported with its line number in one line each, so a user can fix the file and import again;
nothing is imported from a file with any bad row.
"""

from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")  # ISO first; UK day-first as spreadsheets export it


class BenchmarkFileError(ValueError):
    """The file cannot be imported; ``problems`` are one-line messages naming the line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def parse_day(value: str) -> date | None:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def parse_close(value: str) -> Decimal | None:
    try:
        number = Decimal(value.replace(",", "")) if value else None
    except InvalidOperation:
        return None
    return number if number is not None and number.is_finite() else None


def read_closes(path: Path) -> list[tuple[date, Decimal]]:
    """The file's ``(day, close)`` rows in date order; raises ``BenchmarkFileError`` listing every bad line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchmarkFileError([f"{path}: cannot read the file ({exc})"]) from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    columns = [c.strip().lower() for c in header] if header else []
    if "date" not in columns or "close" not in columns:
        raise BenchmarkFileError([f"line 1: the header must name the columns 'date' and 'close' (found {header})"])
    at_date, at_close = columns.index("date"), columns.index("close")
    problems: list[str] = []
    closes: dict[date, Decimal] = {}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank lines (a trailing newline in a spreadsheet export)
        if len(row) <= max(at_date, at_close):
            problems.append(f"line {line}: expected a date and a close, got {row}")
            continue
        raw_day, raw_close = row[at_date].strip(), row[at_close].strip()
        day = parse_day(raw_day)
        close = parse_close(raw_close)
        if day is None:
            problems.append(f"line {line}: {raw_day!r} is not a date (use YYYY-MM-DD)")
        elif close is None:
            problems.append(f"line {line}: {raw_close!r} is not a number")
        elif close <= 0:
            problems.append(f"line {line}: the close must be positive, got {raw_close}")
        elif day in closes and closes[day] != close:
            problems.append(f"line {line}: {day} appears twice with different closes ({closes[day]} and {close})")
        else:
            closes[day] = close
    if problems:
        raise BenchmarkFileError(problems)
    if not closes:
        raise BenchmarkFileError([f"{path}: no rows after the header"])
    return sorted(closes.items())
