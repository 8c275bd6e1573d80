"""The export queries as CSV text straight from the server (``COPY (SELECT ...) TO STDOUT``), for whole-history
exports: ten years of positions (about 2.2M rows) would cost far more to decode into Python objects row by row
than the query itself takes.

Each query is the one ``storage.reads.exports`` streams as rows; here it is wrapped in a SELECT that turns every
column into its export text, so the server does the formatting:

- decimals as PostgreSQL prints ``numeric``: the exact value in plain notation (``0.0000000000``, never
  ``0E-10``), the same text as the exports writer gives a ``Decimal``;
- dates as ``YYYY-MM-DD`` (``DateStyle`` ISO, set for the transaction);
- moments as Python's ``datetime.isoformat()`` of the UTC moment (``2025-01-02T10:00:00+00:00``, with
  ``.ffffff`` only when there are microseconds);
- text as is, except that with ``blank_as_null`` an empty string comes out as NULL: COPY writes an empty
  string as ``""`` to tell it from NULL, which a CSV for people does not do.

COPY's CSV quoting is the csv module's minimal quoting (a field with a comma, a double quote or a line break is
quoted, quotes doubled), with one difference: a lone carriage return is quoted too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import psycopg
from psycopg.abc import Buffer
from sqlalchemy import Connection, text

from portfolio_dashboard.storage.reads.exports import EXPORT_SQL, INCOME_KINDS

CellType = Literal["date", "timestamp", "string", "decimal", "integer"]

_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_ISO_MOMENT = (  # {u} is the moment as a UTC timestamp
    "to_char({u}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN date_trunc('second', {u}) = {u} THEN '' "
    "ELSE to_char({u}, '.US') END || '+00:00'"
)


@dataclass(slots=True)
class CopyStream:
    """The CSV of one export: ``blocks`` yields it one row per block (libpq hands COPY data over a whole row at
    a time, so a run of blocks always ends at a row's end); ``rows`` is the row count once they are read."""

    blocks: Iterator[Buffer]
    rows: int = field(default=-1)


def _cell(name: str, cell_type: CellType, blank_as_null: bool) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a column name: {name!r}")
    column = f'x."{name}"'
    if cell_type == "timestamp":
        expression = _ISO_MOMENT.format(u=f"({column} AT TIME ZONE 'UTC')")
    elif cell_type == "string" and blank_as_null:
        expression = f"NULLIF({column}, '')"
    else:
        expression = column
    return f'{expression} AS "{name}"'


@contextmanager
def copy_export(
    conn: Connection,
    kind: str,
    columns: Sequence[tuple[str, CellType]],
    start: date | None = None,
    end: date | None = None,
    *,
    header: bool = True,
    blank_as_null: bool = True,
) -> Iterator[CopyStream]:
    """Export ``kind`` between ``start`` and ``end`` (inclusive days) as CSV with ``columns`` (name and type,
    in file order; each must be a column of the kind's query), streamed from the server.

    Runs in the connection's transaction; leaving the block early cancels the COPY.
    """
    if kind not in EXPORT_SQL:
        raise ValueError(f"unknown export kind {kind!r}; one of {', '.join(EXPORT_SQL)}")
    # The query's own text with psycopg's placeholders: COPY cannot take server-side parameters, so psycopg
    # binds them on the client (as quoted literals).
    query = text(EXPORT_SQL[kind]).compile(dialect=conn.dialect).string
    select = ", ".join(_cell(name, cell_type, blank_as_null) for name, cell_type in columns)
    options = "FORMAT csv, HEADER" if header else "FORMAT csv"
    statement = f"COPY (SELECT {select} FROM (\n{query}\n) x) TO STDOUT WITH ({options})"  # noqa: S608 - see _cell
    params = {"start": start, "end": end, "income": list(INCOME_KINDS)}
    conn.execute(text("SELECT set_config('DateStyle', 'ISO, YMD', true)"))  # also begins the transaction
    raw = conn.connection.driver_connection
    if not isinstance(raw, psycopg.Connection):
        raise TypeError("exports need a psycopg connection")
    with raw.cursor() as cursor:
        with cursor.copy(statement, params) as copy:
            stream = CopyStream(iter(copy))
            yield stream
        stream.rows = cursor.rowcount
