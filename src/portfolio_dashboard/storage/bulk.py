"""Set-based writes for reprocessing: a few statements per table per batch of many snapshots.

Unlike the capture's snapshot writes (insert-only: a stored snapshot is never rewritten by a capture), these
update
the derived columns of rows that already exist — only where a value really differs (``IS DISTINCT FROM``),
so reprocessing with an unchanged parser writes nothing. Per batch (``reprocess_writer.py`` calls them):

* ``store_rates``: the rates go in by ``COPY`` into a temporary table and the new ones are inserted; their ids
  come back as text;
* ``delete_vanished``: snapshots a run stored and its re-parse no longer produces are deleted;
* ``write_batch``: snapshots are staged by ``COPY`` and merged by plain ``UPDATE``/``INSERT``; their ids come
  back as a small map (batch order -> id). Positions of a snapshot that has none stored (a new snapshot, or
  one whose positions were lost) are copied straight into ``positions``; the others are staged by ``COPY`` and
  merged: delete what the parser no longer produces, update what differs, insert what is new. Every row goes
  in under the foreign keys, checked by PostgreSQL as usual (``copy_positions`` is also the capture's);
* ``upsert_trades``: the few trades go in as arrays through ``unnest`` (the capture's one trades write too).

``bench/reprocess.py`` measures this against plain ``COPY`` of the same rows.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
from sqlalchemy import Connection, text

from portfolio_dashboard.domain import Trade
from portfolio_dashboard.errors import DatabaseError

POSITION_COLUMNS = ("snapshot_id", "instrument_id", "quantity", "price_local", "market_value_local",
                    "market_value_gbp", "fx_rate_id", "cost_basis", "unrealized_pnl")

SNAPSHOT_DERIVED = ("total_value_local", "total_value_gbp", "base_currency", "account_currency",
                    "reported_total_gbp", "asof_source", "parser_version", "fx_complete", "warnings",
                    "reconcile_residual_gbp", "reconcile_residual_pct", "reconcile_components", "raw_payload_id")
POSITION_DERIVED = POSITION_COLUMNS[2:]  # all but the key (snapshot_id, instrument_id)
TRADE_DERIVED = ("broker_account_id", "instrument_id", "trade_ts", "quantity", "price_local", "amount_local",
                 "amount_gbp", "currency", "commission", "realized_pnl", "fx_rate_id", "description", "taxes", "status")


def uuid_array(ids: Iterable[uuid.UUID | str]) -> str:
    """A ``uuid[]`` literal: psycopg adapts a list of UUIDs one object at a time (~1 ms for 500), and a UUID's
    text form needs no quoting."""
    return "{" + ",".join(map(str, ids)) + "}"


@contextmanager
def references_checked() -> Iterator[None]:
    """Turn a foreign-key violation on ``positions`` (a snapshot, instrument or rate deleted meanwhile, e.g. by
    `demo clear`) into the project's error with a hint; PostgreSQL's own checks found it."""
    try:
        yield
    except psycopg.errors.ForeignKeyViolation as exc:
        constraint = exc.diag.constraint_name or "a foreign key"
        raise DatabaseError(f"positions reference rows that no longer exist ({constraint})",
                            hint="another process deleted them meanwhile (e.g. `demo clear`); run it again") from exc


def copy_positions(cur: Any, rows: Iterable[Sequence[Any]]) -> int:
    """COPY ``rows`` (in ``POSITION_COLUMNS`` order) into ``positions``; return how many. The foreign keys are
    checked by PostgreSQL's own triggers, the same for every role."""
    count = 0
    with references_checked(), cur.copy(f"COPY positions ({', '.join(POSITION_COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


@dataclass(slots=True)
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0


def _changed(table: str, cols: Sequence[str]) -> str:
    mine = ", ".join(f"{table}.{c}" for c in cols)
    theirs = ", ".join(f"EXCLUDED.{c}" for c in cols)
    return f"({mine}) IS DISTINCT FROM ({theirs})"


def _sets(cols: Sequence[str]) -> str:
    return ", ".join(f"{c} = EXCLUDED.{c}" for c in cols)


def _tally(rows: Sequence[Any]) -> UpsertCounts:
    inserted = sum(1 for r in rows if r[0])
    return UpsertCounts(inserted=inserted, updated=len(rows) - inserted)


def _cursor(conn: Connection) -> Any:
    driver = conn.connection.driver_connection  # the same connection, so the same transaction
    assert driver is not None
    return driver.cursor()


def _stage(cur: Any, table: str, definition: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """COPY ``rows`` into a new temporary table (dropped at commit); return how many."""
    cur.execute(f"CREATE TEMP TABLE {table} ({definition}) ON COMMIT DROP")
    count = 0
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


@dataclass(slots=True)
class BatchCounts:
    snapshots: UpsertCounts
    snapshots_written: int  # snapshot rows this batch owns (inserted, updated or found unchanged)
    positions: UpsertCounts
    positions_total: int  # position rows of the owned snapshots


# A staged snapshot: its order in the batch, then the snapshot's columns.
SNAPSHOT_STAGE = ("seq", "run_id", "broker", "broker_account_id", "asof_ts", "snapshot_key", "source",
                  *SNAPSHOT_DERIVED)
# The caller names a position's snapshot by its order in the batch (it cannot know its id yet); ``write_batch``
# resolves it from the map the snapshot merge returns. The instrument and rate ids are their text (every id goes
# to COPY as text: psycopg adapts a UUID object in Python, a string in C).
POSITION_STAGE = ("snapshot_seq", "instrument_id", "quantity", "price_local", "market_value_local",
                  "market_value_gbp", "fx_rate_id", "cost_basis", "unrealized_pnl")
RATE_STAGE = ("seq", "asof_ts", "source_ccy", "target_ccy", "provider", "rate")

_RATES_STAGE_TABLE = "seq integer, asof_ts timestamptz, source_ccy text, target_ccy text, provider text, rate numeric"

# Positions to merge are staged with their ids resolved in Python (from the locked maps, as text), so the merge
# statements join the staged rows to ``positions`` directly.
_POSITIONS_STAGE_TABLE = """snapshot_id uuid, instrument_id uuid, quantity numeric, price_local numeric,
    market_value_local numeric, market_value_gbp numeric, fx_rate_id uuid, cost_basis numeric,
    unrealized_pnl numeric"""


def write_batch(
    conn: Connection,
    *,
    snapshots: Iterable[Sequence[Any]],
    positions: Iterable[Sequence[Any]],
) -> BatchCounts:
    """Upsert re-parsed snapshots and their positions in a few set-based statements.

    ``snapshots`` rows follow ``SNAPSHOT_STAGE`` (``seq`` ascending in run order), ``positions`` rows
    ``POSITION_STAGE``. Accounts, instruments and rates must be stored already (``store_rates``); snapshots the
    runs no longer produce are removed by ``delete_vanished`` first.

    * a snapshot belongs to the run that first stored it: a later run that met the same broker state (found it
      "already stored") does not rewrite it, or reprocessing would flip-flop between the two;
    * each kept snapshot's positions become exactly the staged ones: a snapshot that has none stored yet gets
      them by ``COPY`` straight into ``positions``; the others are staged and merged (update what differs,
      insert what is new, delete what the parser no longer produces).
    """
    cur = _cursor(conn)
    try:
        snaps = _merge_snapshots(cur, snapshots)
        direct: list[tuple[Any, ...]] = []

        def to_stage() -> Iterator[Sequence[Any]]:
            for row in positions:
                found = snaps.ids.get(row[0])
                if found is None:  # its snapshot is not this batch's to write (owned by another run, duplicate)
                    continue
                if found[1]:  # positions stored already: merge
                    yield (found[0], *row[1:])
                else:
                    direct.append((found[0], *row[1:]))

        staged = _stage(cur, "pd_stage_positions", _POSITIONS_STAGE_TABLE, POSITION_COLUMNS, to_stage())
        merged = _merge_positions(cur, staged, sum(stored for _id, stored in snaps.ids.values()))
        inserted = merged.inserted
        if direct:
            inserted += copy_positions(cur, direct)
        cur.execute("DROP TABLE pd_stage_snapshots, pd_stage_positions, pd_snapshot_ids")
    finally:
        cur.close()
    return BatchCounts(
        snapshots=snaps.counts, snapshots_written=snaps.owned,
        positions=UpsertCounts(inserted=inserted, updated=merged.updated, deleted=merged.deleted),
        positions_total=staged + len(direct),
    )


def store_rates(conn: Connection, rates: Iterable[Sequence[Any]]) -> dict[int, str]:
    """Store the rates (``RATE_STAGE`` rows) that are new; return every rate's id (as text) by its ``seq``."""
    cur = _cursor(conn)
    try:
        _stage(cur, "pd_stage_rates", _RATES_STAGE_TABLE, RATE_STAGE, rates)
        cur.execute(
            # Most rates of a reprocess are stored already: an anti-join drops them before the insert (cheaper
            # than a conflict probe per row); the conflict clause still covers a rate a capture stores meanwhile.
            """INSERT INTO fx_rates (asof_ts, source_ccy, target_ccy, provider, rate)
               SELECT DISTINCT ON (asof_ts, source_ccy, target_ccy, provider) asof_ts, source_ccy, target_ccy,
                      provider, rate FROM pd_stage_rates t
               WHERE NOT EXISTS (SELECT 1 FROM fx_rates f
                                 WHERE f.asof_ts = t.asof_ts AND f.source_ccy = t.source_ccy
                                   AND f.target_ccy = t.target_ccy AND f.provider = t.provider)
               ORDER BY asof_ts, source_ccy, target_ccy, provider
               ON CONFLICT (asof_ts, source_ccy, target_ccy, provider) DO NOTHING"""
        )
        cur.execute(
            """SELECT t.seq, f.id::text FROM pd_stage_rates t
               JOIN fx_rates f ON f.asof_ts = t.asof_ts AND f.source_ccy = t.source_ccy
                              AND f.target_ccy = t.target_ccy AND f.provider = t.provider"""
        )
        ids = {int(seq): rate_id for seq, rate_id in cur.fetchall()}
        cur.execute("DROP TABLE pd_stage_rates")
    finally:
        cur.close()
    return ids


@dataclass(slots=True)
class _Snapshots:
    ids: dict[int, tuple[str, int]]  # seq -> (id as text, positions stored before this batch's merge)
    counts: UpsertCounts
    owned: int


def delete_vanished(conn: Connection, groups: Sequence[tuple[uuid.UUID, str]],
                    produced: Iterable[tuple[uuid.UUID, str, str]]) -> int:
    """Delete the snapshots (with their positions) that a group (run, source) stored and its re-parse no longer
    produces; ``produced`` holds every (run, source, snapshot key) the re-parse gave. Return how many.

    Each group is held to its own output: a snapshot whose key another run of the batch still produces is deleted
    all the same, and that run's copy takes its place (a merge never rewrites a snapshot another run owns, so
    keeping it would freeze the old parser's values, and whether it was kept would depend on where batches
    happen to end)."""
    if not groups:
        return 0
    result = conn.execute(
        # (run, source, key) triples as one JSON text: psycopg adapts a list's elements one by one
        text("""DELETE FROM snapshots s
                USING unnest(CAST(:runs AS uuid[]), CAST(:sources AS text[])) AS g(run_id, source)
                WHERE s.run_id = g.run_id AND s.source = g.source
                  AND NOT EXISTS (SELECT 1 FROM json_array_elements(CAST(:produced AS json)) k
                                  WHERE (k->>0)::uuid = s.run_id AND k->>1 = s.source
                                    AND k->>2 = s.snapshot_key)"""),
        {"runs": uuid_array(g[0] for g in groups), "sources": [g[1] for g in groups],
         "produced": json.dumps([[str(run), source, key] for run, source, key in produced])},
    )
    return int(result.rowcount)


def _merge_snapshots(cur: Any, snapshots: Iterable[Sequence[Any]]) -> _Snapshots:
    snap_cols = ", ".join(SNAPSHOT_STAGE[1:])
    _stage(cur, "pd_stage_snapshots", "LIKE snapshots INCLUDING DEFAULTS, seq integer", SNAPSHOT_STAGE, snapshots)
    cur.execute("""DELETE FROM pd_stage_snapshots t USING snapshots s
                   WHERE s.snapshot_key = t.snapshot_key AND s.run_id <> t.run_id""")
    cur.execute("""DELETE FROM pd_stage_snapshots t USING pd_stage_snapshots u
                   WHERE u.snapshot_key = t.snapshot_key AND u.seq < t.seq""")
    # Stored snapshots whose derived values differ are updated in place, new ones inserted: two plain
    # statements, cheaper per row than one upsert (which probes and locks row by row).
    cur.execute(
        f"""UPDATE snapshots s SET {", ".join(f"{c} = t.{c}" for c in SNAPSHOT_DERIVED)}
            FROM pd_stage_snapshots t
            WHERE s.snapshot_key = t.snapshot_key
              AND ({", ".join(f"s.{c}" for c in SNAPSHOT_DERIVED)})
                  IS DISTINCT FROM ({", ".join(f"t.{c}" for c in SNAPSHOT_DERIVED)})"""  # noqa: S608
    )
    updated = int(cur.rowcount)
    # DO NOTHING: a capture storing the same broker state meanwhile keeps it (and owns it).
    cur.execute(
        f"""INSERT INTO snapshots ({snap_cols})
            SELECT {snap_cols} FROM pd_stage_snapshots t
            WHERE NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.snapshot_key = t.snapshot_key)
            ON CONFLICT (snapshot_key) DO NOTHING"""  # noqa: S608
    )
    inserted = int(cur.rowcount)
    # Each kept snapshot's id and how many positions it has stored: none means its positions can go in by COPY
    # without a merge.
    cur.execute(
        """CREATE TEMP TABLE pd_snapshot_ids ON COMMIT DROP AS
           SELECT t.seq, s.id, (SELECT count(*) FROM positions p WHERE p.snapshot_id = s.id) AS stored
           FROM pd_stage_snapshots t JOIN snapshots s ON s.snapshot_key = t.snapshot_key
           WHERE s.run_id = t.run_id"""
    )
    cur.execute("SELECT seq, id::text, stored FROM pd_snapshot_ids")
    ids = {int(r[0]): (r[1], int(r[2])) for r in cur.fetchall()}
    return _Snapshots(ids=ids, counts=UpsertCounts(inserted=inserted, updated=updated), owned=len(ids))


def _merge_positions(cur: Any, staged: int, stored: int) -> UpsertCounts:
    """Make the stored positions of the staged snapshots exactly the staged rows (``stored``: how many those
    snapshots had)."""
    if not staged and not stored:
        return UpsertCounts()
    cur.execute("ANALYZE pd_snapshot_ids")  # a temporary table has no statistics until analysed
    cur.execute(
        """DELETE FROM positions p USING pd_snapshot_ids m
           WHERE p.snapshot_id = m.id
             AND NOT EXISTS (SELECT 1 FROM pd_stage_positions n
                             WHERE n.snapshot_id = m.id AND n.instrument_id = p.instrument_id)"""
    )
    deleted = int(cur.rowcount)
    # Rows stored already whose derived values differ: updated in place. Their keys do not change, so
    # PostgreSQL checks no foreign key again (a changed fx_rate_id is checked as usual).
    cur.execute(
        f"""UPDATE positions p SET {", ".join(f"{c} = n.{c}" for c in POSITION_DERIVED)}
            FROM pd_stage_positions n
            WHERE p.snapshot_id = n.snapshot_id AND p.instrument_id = n.instrument_id
              AND ({", ".join(f"p.{c}" for c in POSITION_DERIVED)})
                  IS DISTINCT FROM ({", ".join(f"n.{c}" for c in POSITION_DERIVED)})"""  # noqa: S608
    )
    updated = int(cur.rowcount)
    new = staged - (stored - deleted)  # every stored row that was kept matches exactly one staged row
    inserted = 0
    if new:
        with references_checked():
            cur.execute(
                f"""INSERT INTO positions ({", ".join(POSITION_COLUMNS)})
                    SELECT * FROM pd_stage_positions n
                    WHERE NOT EXISTS (SELECT 1 FROM positions p
                                      WHERE p.snapshot_id = n.snapshot_id AND p.instrument_id = n.instrument_id)"""  # noqa: S608
            )
        inserted = int(cur.rowcount)
    return UpsertCounts(inserted=inserted, updated=updated, deleted=deleted)


TRADE_KEY = ("broker", "broker_trade_id")  # trades' unique constraint: a trade is stored once


def upsert_trades(
    conn: Connection,
    run_id: uuid.UUID,
    trades: Sequence[Trade],
    instrument_ids: Mapping[tuple[str, str], uuid.UUID],
    gbp: Mapping[tuple[str, str], tuple[Decimal | None, uuid.UUID | None]],
) -> UpsertCounts:
    """The one trades write, the capture's and reprocess's: insert new trades (conflict key ``TRADE_KEY``);
    update the derived columns of a stored one only where ``run_id`` stored it and a value differs — a trade
    met again by a later run's overlapping window belongs to the run that stored it, and storing the same
    trades twice changes nothing.

    ``gbp`` maps ``(broker, broker_trade_id)`` to the GBP amount and the stored rate's id (None without one)."""
    unique = {(t.broker, t.broker_trade_id): t for t in trades}
    keys = sorted(unique)
    if not keys:
        return UpsertCounts()
    ordered = [unique[k] for k in keys]
    result = conn.execute(
        text(
            f"""INSERT INTO trades (broker, broker_trade_id, broker_account_id, instrument_id, trade_ts, quantity,
                    price_local, amount_local, amount_gbp, currency, commission, realized_pnl, fx_rate_id,
                    description, run_id, taxes, status)
                SELECT * FROM unnest(CAST(:b AS text[]), CAST(:tid AS text[]), CAST(:acct AS text[]),
                    CAST(:iid AS uuid[]), CAST(:ts AS timestamptz[]), CAST(:q AS numeric[]), CAST(:p AS numeric[]),
                    CAST(:amt AS numeric[]), CAST(:gbp AS numeric[]), CAST(:ccy AS text[]),
                    CAST(:comm AS numeric[]), CAST(:pnl AS numeric[]), CAST(:fx AS uuid[]),
                    CAST(:descr AS text[]), CAST(:run AS uuid[]), CAST(:tax AS numeric[]), CAST(:status AS text[]))
                ON CONFLICT ({", ".join(TRADE_KEY)}) DO UPDATE SET {_sets(TRADE_DERIVED)}
                WHERE trades.run_id IS NOT DISTINCT FROM EXCLUDED.run_id AND {_changed("trades", TRADE_DERIVED)}
                RETURNING (xmax = 0)"""  # noqa: S608 - column names are constants, values are bound
        ),
        {
            "b": [t.broker for t in ordered], "tid": [t.broker_trade_id for t in ordered],
            "acct": [t.broker_account_id for t in ordered],
            "iid": [instrument_ids.get(t.instrument.key) for t in ordered],
            "ts": [t.trade_ts for t in ordered], "q": [t.quantity for t in ordered],
            "p": [t.price_local for t in ordered], "amt": [t.amount_local for t in ordered],
            "gbp": [gbp.get(k, (None, None))[0] for k in keys], "ccy": [t.currency for t in ordered],
            "comm": [t.commission for t in ordered], "pnl": [t.realized_pnl for t in ordered],
            "fx": [gbp.get(k, (None, None))[1] for k in keys], "descr": [t.description for t in ordered],
            "run": [run_id] * len(keys), "tax": [t.taxes for t in ordered],
            "status": [t.status for t in ordered],
        },
    ).all()
    return _tally(result)


def tuned_for_rederivable_writes(conn: Connection) -> Connection:
    """Session settings for a transaction whose every row can be derived again from the raw payloads (reprocess):
    a crash losing the last commit loses nothing a rerun would not restore, so do not wait for the WAL flush;
    the merge's joins and sorts stay in memory."""
    conn.execute(text("SET LOCAL synchronous_commit TO off"))
    conn.execute(text("SET LOCAL work_mem TO '64MB'"))
    return conn
