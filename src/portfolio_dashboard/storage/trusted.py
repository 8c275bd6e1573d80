"""Writing positions whose references are already proven, without the per-row foreign-key triggers.

``positions`` references ``snapshots``, ``instruments`` and ``fx_rates``. PostgreSQL checks each foreign key of
each inserted row with a trigger that runs a query and locks the referenced row ``FOR KEY SHARE``: about 15 µs a
row for the three keys on the target machine, more than writing the row itself (``bench/write_path.py``,
``bench/reprocess.py``). Our writers know every referenced id before they insert, so they make the same check
set-based instead:

1. ``lock_references`` locks every referenced row ``FOR KEY SHARE`` in one statement — the very lock the
   triggers take, so a concurrent ``DELETE`` of a referenced row waits for our commit and its own ``ON DELETE``
   check then sees our rows — and counts them: a missing one raises before anything is written;
2. ``trusted_insert`` runs the insert with ``session_replication_role = replica``, PostgreSQL's own switch for
   bulk loads (``pg_restore --disable-triggers``, logical replication), which skips the per-row triggers, for
   that statement only; the role is back to ``origin`` before anything else runs.

Guarded: the path turns itself off while ``positions`` has any trigger or rule besides its foreign keys' (a
user's audit trigger would be skipped too); a test pins the schema's own triggers, and the rows written are
identical either way. The switch needs superuser (the embedded server's role) or, since PostgreSQL 15,
``GRANT SET ON PARAMETER session_replication_role``; a role without it (the least-privilege app role of
docs/automation.md) writes the same rows with the per-row checks.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from portfolio_dashboard.errors import DatabaseError

Id = uuid.UUID | str

# Skipping is allowed only while positions has no trigger or rule of its own (a user's audit trigger, say): the
# switch would skip those too, so their mere presence turns the trusted path off.
_NOTHING_ELSE = """NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'positions'::regclass AND NOT tgisinternal)
                   AND NOT EXISTS (SELECT 1 FROM pg_rewrite WHERE ev_class = 'positions'::regclass)"""
_MAY_SKIP = f"current_setting('is_superuser') = 'on' AND {_NOTHING_ELSE}"
_MAY_SKIP_15 = (f"(current_setting('is_superuser') = 'on' OR has_parameter_privilege('session_replication_role', "
                f"'SET')) AND {_NOTHING_ELSE}")


def lock_references(cur: Any, *, snapshots: Collection[Id] = (), instruments: Collection[Id] = (),
                    rates: Collection[Id] = ()) -> bool:
    """Lock the referenced rows ``FOR KEY SHARE`` and prove they all exist (``DatabaseError`` if not).

    Ids are UUIDs or their canonical text; each collection holds distinct ids, all of one kind.

    Returns whether this session may skip the per-row foreign-key triggers (see ``trusted_insert``).
    """
    may_skip = _MAY_SKIP_15 if cur.connection.info.server_version >= 150000 else _MAY_SKIP
    if not (snapshots or instruments or rates):  # the caller holds the locks already: only the privilege
        cur.execute(f"SELECT {may_skip}")  # one of two constant expressions
        only = cur.fetchone()
        return bool(only and only[0])
    cur.execute(
        f"""SELECT (SELECT count(*) FROM (SELECT 1 FROM snapshots WHERE id = ANY(%(s)s::uuid[]) FOR KEY SHARE) s),
                   (SELECT count(*) FROM (SELECT 1 FROM instruments WHERE id = ANY(%(i)s::uuid[]) FOR KEY SHARE) i),
                   (SELECT count(*) FROM (SELECT 1 FROM fx_rates WHERE id = ANY(%(f)s::uuid[]) FOR KEY SHARE) f),
                   {may_skip}""",  # noqa: S608 - one of two constant expressions
        {"s": uuid_array(snapshots), "i": uuid_array(instruments), "f": uuid_array(rates)},
    )
    row = cur.fetchone()
    wanted = (len(snapshots), len(instruments), len(rates))
    if row is None or tuple(row[:3]) != wanted:
        found = tuple(row[:3]) if row else (0, 0, 0)
        missing = ", ".join(f"{w - f} {name}" for name, w, f in zip(("snapshot(s)", "instrument(s)", "FX rate(s)"),
                                                                    wanted, found, strict=True) if w != f)
        raise DatabaseError(f"positions reference rows that no longer exist ({missing})",
                            hint="another process deleted them meanwhile (e.g. `demo clear`); run it again")
    return bool(row[3])


def uuid_array(ids: Iterable[Id]) -> str:
    """A ``uuid[]`` literal: psycopg adapts a list of UUIDs one object at a time (~1 ms for 500), and a UUID's
    text form needs no quoting."""
    return "{" + ",".join(map(str, ids)) + "}"


POSITION_COLUMNS = ("snapshot_id", "instrument_id", "quantity", "price_local", "market_value_local",
                    "market_value_gbp", "fx_rate_id", "cost_basis", "unrealized_pnl")


def copy_positions(cur: Any, rows: Iterable[Sequence[Any]], allowed: bool) -> None:
    """COPY ``rows`` (in ``POSITION_COLUMNS`` order) into ``positions``; without the per-row triggers when
    ``allowed`` (from ``lock_references``)."""
    with trusted_insert(cur, allowed), cur.copy(f"COPY positions ({', '.join(POSITION_COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


@contextmanager
def trusted_insert(cur: Any, allowed: bool) -> Iterator[None]:
    """Run the statement inside without per-row triggers when ``allowed`` (from ``lock_references``)."""
    if not allowed:
        yield
        return
    cur.execute("SET LOCAL session_replication_role = replica")
    yield
    # Only on success: after an error the transaction is aborted (or rolled back to a savepoint), and either
    # way PostgreSQL undoes the SET LOCAL itself.
    cur.execute("SET LOCAL session_replication_role = origin")
