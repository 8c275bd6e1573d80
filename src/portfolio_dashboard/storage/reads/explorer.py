"""Read model for the data explorer: the catalog's tables and views, and the newest rows of one of them.

Read-only by construction: every query runs in a ``READ ONLY`` transaction that is rolled back, the relation
name must be one the catalog lists (then quoted as an identifier), and the row count is a bound parameter.
Raw broker bodies and anything that looks like a secret are left out of the SELECT unless asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

# Columns holding raw broker responses (large, may carry personal data) or credentials
RAW_COLUMNS = frozenset({"payload_json", "body_text", "body_bytes", "headers"})
SECRET_WORDS = ("token", "secret", "password", "credential", "api_key")
# The column that best says "newest", in order of preference
NEWEST_COLUMNS = ("finished_at", "started_at", "received_at", "asof_ts", "captured_at", "created_at", "updated_at",
                  "asof", "ts", "day", "date", "trade_date", "settle_date")


@dataclass(frozen=True, slots=True)
class Relation:
    name: str
    kind: str  # "table" | "view" | "materialized view"
    estimated_rows: int | None


@dataclass(frozen=True, slots=True)
class RelationRows:
    relation: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    hidden: list[str]  # columns left out (raw bodies, secrets)
    order_by: str | None  # the column the rows are newest-first by, None when the relation has no time column


_CATALOG = """
SELECT c.relname,
       CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
                      ELSE 'materialized view' END,
       CASE WHEN c.relkind IN ('r', 'p', 'm') AND c.reltuples >= 0 THEN c.reltuples::bigint END
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
ORDER BY c.relname
"""

_COLUMNS = """
SELECT a.attname FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relname = :rel AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""


def _read_only(conn: Connection) -> None:
    if not conn.in_transaction():
        conn.begin()
    conn.execute(text("SET TRANSACTION READ ONLY"))


def relations(conn: Connection) -> list[Relation]:
    """Every table and view of the application's schema, by name."""
    _read_only(conn)
    try:
        return [Relation(r[0], r[1], r[2]) for r in conn.execute(text(_CATALOG))]
    finally:
        conn.rollback()


def is_hidden(column: str) -> bool:
    lowered = column.lower()
    return lowered in RAW_COLUMNS or any(w in lowered for w in SECRET_WORDS)


def newest_rows(conn: Connection, relation: str, limit: int, *, include_raw: bool = False) -> RelationRows:
    """Up to ``limit`` rows of ``relation``, newest first; raw bodies and secrets only with ``include_raw``."""
    _read_only(conn)
    try:
        known = {r[0] for r in conn.execute(text(_CATALOG))}
        if relation not in known:
            raise ValueError(f"no table or view named {relation!r}")
        columns = [r[0] for r in conn.execute(text(_COLUMNS), {"rel": relation})]
        hidden = [] if include_raw else [c for c in columns if is_hidden(c)]
        shown = [c for c in columns if c not in hidden]
        order_by = next((c for c in NEWEST_COLUMNS if c in columns), None)
        quote = conn.dialect.identifier_preparer.quote
        select = ", ".join(quote(c) for c in shown) or "1"
        order = f" ORDER BY {quote(order_by)} DESC NULLS LAST" if order_by else ""
        sql = f"SELECT {select} FROM {quote(relation)}{order} LIMIT :limit"  # noqa: S608 - catalog names, quoted
        rows = [tuple(r) for r in conn.execute(text(sql), {"limit": max(0, int(limit))})]
        return RelationRows(relation, shown, rows, hidden, order_by)
    finally:
        conn.rollback()
