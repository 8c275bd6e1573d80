"""Exports of stored history straight from the database: what ``portfolio-dashboard export`` runs.

Ten years of positions for three accounts is about 2.2M rows. Decoding each into Python objects (a ``Decimal``
per number, a ``date`` per day) and formatting them again cost several times the query itself, so the
values never become Python objects here:

- CSV is the server's own text (``COPY ... TO STDOUT``, see ``storage.reads.export_copy``), written to the file
  as it arrives: byte for byte what ``write_export`` makes of the same rows (tests/integration/
  test_export_history.py compares them for every kind);
- Parquet reads that same text with Arrow's CSV reader (C++, on every core) into the declared schema, in
  chunks of rows: decimals parse straight to ``decimal128(38, scale)`` (a value with more places than the scale
  is refused, not rounded, as in ``write_export``), or stay their exact text with ``parquet_decimals="string"``.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from itertools import islice
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import Connection

from portfolio_dashboard.services.collector import collector_paused
from portfolio_dashboard.services.statements.export_columns import EXPORT_KINDS, Column
from portfolio_dashboard.services.statements.exports import (
    ExportError,
    ExportFormat,
    ExportResult,
    ParquetDecimals,
    check_export,
    export_path,
    parquet_schema,
    written_in_place,
)
from portfolio_dashboard.storage.reads.export_copy import CopyStream, copy_export

# Rows per Parquet chunk (and row group): about 20 MB of positions text, enough for Arrow to spread the parsing
# over every core.
CHUNK_ROWS = 100_000
_CSV_COLUMN = re.compile(r"In CSV column #(\d+)")


def export_history(
    conn: Connection,
    kind: str,
    target: Path,
    *,
    fmt: ExportFormat = "csv",
    start: date | None = None,
    end: date | None = None,
    parquet_decimals: ParquetDecimals = "decimal",
    chunk_rows: int = CHUNK_ROWS,
) -> ExportResult:
    """Write export ``kind`` of the days ``start``..``end`` (inclusive; None is open) under ``target``."""
    check_export(kind, fmt)
    columns = EXPORT_KINDS[kind]
    cells = [(c.name, c.type) for c in columns]
    path = export_path(kind, target, fmt)
    # CSV: an empty text is written as an empty cell, like NULL; Parquet keeps the two apart.
    as_csv = fmt == "csv"
    with (
        written_in_place(path) as partial,
        copy_export(conn, kind, cells, start, end, header=as_csv, blank_as_null=as_csv) as stream,
    ):
        if as_csv:
            with partial.open("wb") as handle:
                handle.writelines(stream.blocks)  # one C-level loop over the rows
        else:
            _write_parquet(kind, partial, columns, stream, parquet_schema(kind, parquet_decimals), chunk_rows)
    return ExportResult(path, stream.rows)


def _write_parquet(
    kind: str, path: Path, columns: Sequence[Column], stream: CopyStream, schema: pa.Schema, chunk_rows: int
) -> None:
    read = pacsv.ReadOptions(column_names=[c.name for c in columns])
    # A quoted field may hold a line break (a flow's description); Arrow then cannot split the chunk at any line
    # break to parse the parts in parallel, which doubles the time. Without a quote in the chunk there is none.
    quoted, plain = pacsv.ParseOptions(newlines_in_values=True), pacsv.ParseOptions()
    convert = pacsv.ConvertOptions(
        column_types={f.name: f.type for f in schema},
        null_values=[""],  # only an empty, unquoted cell is NULL: not Arrow's default "NA", "null", "NaN", ...
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,  # COPY writes an empty text as ""
    )
    # The collector would scan each chunk's hundred thousand row buffers again and again (half the time).
    with (
        pq.ParquetWriter(path, schema, compression="zstd") as writer,
        collector_paused(),
        _read_ahead(stream, chunk_rows) as chunks,
    ):
        for data in chunks:
            try:
                parse = quoted if b'"' in data else plain
                table = pacsv.read_csv(pa.BufferReader(data), read, parse, convert)  # type: ignore[arg-type]
            except pa.ArrowInvalid as exc:
                raise ExportError(f"{kind}: {_name_columns(str(exc), columns)}") from exc
            for column, array in zip(columns, table.columns, strict=True):
                if array.null_count and not column.nullable:
                    raise ExportError(f"{kind}.{column.name} is empty in some row but is not nullable")
            writer.write_table(pa.Table.from_arrays(table.columns, schema=schema))


@contextmanager
def _read_ahead(stream: CopyStream, chunk_rows: int) -> Iterator[Iterator[bytes]]:
    """The COPY text in chunks of ``chunk_rows`` whole rows (each block is one row), read by a second thread while
    this one parses and writes the chunk before: the server sends rows only as fast as they are read, so
    reading in turn with parsing would add the two times. Arrow and the socket waits release the GIL."""
    chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def hand_over(item: bytes | BaseException | None) -> None:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read() -> None:
        try:
            # islice + join keep the per-row work in C
            while not stop.is_set() and (rows := list(islice(stream.blocks, chunk_rows))):
                hand_over(b"".join(rows))
            hand_over(None)
        except BaseException as exc:  # handed to the writing thread, which raises it
            hand_over(exc)

    def received() -> Iterator[bytes]:
        while (item := chunks.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    reader = threading.Thread(target=read, name="export-read-ahead", daemon=True)
    reader.start()
    try:
        yield received()
    finally:
        stop.set()  # the reader ends after its chunk; the COPY is cancelled only once it has
        reader.join()


def _name_columns(message: str, columns: Sequence[Column]) -> str:
    """Arrow's message names a column by its index; say its name."""
    return _CSV_COLUMN.sub(lambda m: f"in column {columns[int(m.group(1))].name}", message)
