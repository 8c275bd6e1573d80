"""Global instrument identity: every broker instrument maps to exactly one global instrument.

The rules are in ``domain/matching.py`` (pure); this module applies them to the database:

* at capture time, inside the source's write transaction, every instrument of the capture that has no
  mapping yet is assigned (cash by currency; ISIN / CUSIP / FIGI; the symbol heuristic; else a new global
  instrument), and weak mappings (heuristic, or an identity of its own with nothing to match on) are
  re-assessed: stronger evidence (e.g. Flex now reporting the ISIN) upgrades or moves them, and a heuristic
  mapping whose global instrument turns out to contradict the instrument's identifiers is undone;
* ``manual`` mappings are never touched by a capture (the upsert itself refuses to overwrite them);
* a global instrument learns its identifiers (ISIN, CUSIP, FIGI) and name from identifier-grade members
  the first time they are known;
* nothing the brokers reported (``instruments``, ``positions``) is ever rewritten: re-mapping is metadata,
  and the views follow it immediately.

All writers serialise on one transaction-scoped advisory lock, so two sources capturing at once cannot
create two global instruments for one security.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import Connection, text

from portfolio_dashboard.domain import AssetClass, Instrument
from portfolio_dashboard.domain.matching import Decision, Evidence, display_name, identifiers_to_fill
from portfolio_dashboard.errors import PortfolioError
from portfolio_dashboard.storage.global_ids import global_exists, identity_id
from portfolio_dashboard.storage.mapping_pass import (
    INSTRUMENT_COLUMNS,
    CurrentMapping,
    MappingPass,
    MappingResult,
    instrument_from_row,
    needs_assessment,
    parse_evidence,
)

MAPPING_LOCK = "pd.mapping"
log = logging.getLogger(__name__)


class MappingError(PortfolioError):
    category = "mapping"


def _current(conn: Connection, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, CurrentMapping]:
    rows = conn.execute(
        text("""SELECT instrument_id, global_instrument_id, mapping_source, evidence
                FROM instrument_mapping WHERE instrument_id = ANY(:ids)"""),
        {"ids": list(ids)},
    )
    return {r[0]: CurrentMapping(r[1], r[2], parse_evidence(r[3])) for r in rows}


def load_instruments(conn: Connection, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Instrument]:
    """Instruments as stored: the union of what every source reported (a later Flex ISIN included)."""
    ids = list(ids)
    if not ids:
        return {}
    rows = conn.execute(
        text(f"SELECT {INSTRUMENT_COLUMNS} FROM instruments i WHERE i.id = ANY(:ids)"),  # noqa: S608
        {"ids": ids},
    )
    return {r[0]: instrument_from_row(r) for r in rows}


def _todo(conn: Connection, ids: Sequence[uuid.UUID], settled: set[uuid.UUID] | None = None
          ) -> dict[uuid.UUID, Instrument]:
    """The instruments (as stored) that are unmapped, or weakly mapped and able to change.

    ``settled``: ids known to need nothing (the writer gets them from its instrument upsert, so a daily
    capture reads nothing here). Otherwise one query finds them: weak mappings whose instrument carries no
    identifier at all cannot change and are filtered out in SQL.
    """
    if settled is None:
        settled = {r[0] for r in conn.execute(
            text("""SELECT m.instrument_id FROM instrument_mapping m JOIN instruments i ON i.id = m.instrument_id
                    WHERE m.instrument_id = ANY(:ids) AND NOT COALESCE(
                          (m.mapping_source = 'heuristic' OR m.evidence = 'new')
                          AND (btrim(i.isin) <> '' OR btrim(i.cusip) <> '' OR btrim(i.figi) <> ''), false)"""),
            {"ids": list(ids)},
        )}
    rest = [i for i in ids if i not in settled]
    if not rest:
        return {}
    current = _current(conn, rest)
    loaded = load_instruments(conn, rest)
    return {i: loaded[i] for i in rest if i in loaded and needs_assessment(current.get(i), loaded[i])}


def assign_global_instruments(conn: Connection, instruments: Mapping[tuple[str, str], uuid.UUID],
                              by_key: Mapping[tuple[str, str], Instrument] | None = None,
                              mapped: set[uuid.UUID] | None = None) -> MappingResult:
    """Map every unmapped instrument of ``instruments`` (natural key -> id) and re-assess weak mappings.

    ``by_key`` (what this capture reported) is accepted for the writer's convenience; the decision uses the
    stored rows, which also carry identifiers an earlier source reported. ``mapped``: ids whose mapping is
    settled (``Repository.upsert_instruments_mapped``), skipped without a query. Runs inside the caller's
    transaction; never touches ``manual`` mappings.
    """
    if not instruments or (mapped is not None and mapped.issuperset(instruments.values())):
        return MappingResult()  # a daily capture: every instrument settled, nothing to read
    ids = sorted(set(instruments.values()), key=str)
    if not _todo(conn, ids, mapped):
        return MappingResult()  # everything settled: no lock taken, nothing written
    # Two sources capturing at once could both create a global identity for the same security.
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:n))"), {"n": MAPPING_LOCK})
    result = _run_pass(conn, _todo(conn, ids))  # read again under the lock
    if result.mapped or result.changed:
        log.info("instrument mapping: %d new, %d changed, %d global instruments created",
                 result.mapped, result.changed, result.globals_created)
    return result


def _run_pass(conn: Connection, todo: dict[uuid.UUID, Instrument]) -> MappingResult:
    """Decide ``todo`` in a stable order; a global instrument that learns an ISIN or CUSIP has its heuristic
    members looked at again (each instrument at most twice) in case its identifiers now refute them."""
    work = MappingPass(conn)
    work.load(todo)
    visits: dict[uuid.UUID, int] = {}
    queue = sorted(todo.items(), key=lambda kv: str(kv[0]))
    while queue:
        again: dict[uuid.UUID, Instrument] = {}
        for instrument_id, inst in queue:
            if visits.get(instrument_id, 0) >= 2:
                continue
            visits[instrument_id] = visits.get(instrument_id, 0) + 1
            grown = work.assess(instrument_id, inst)
            if grown is not None:
                again.update(work.heuristic_members(grown))
        if again:
            work.load(again)
        queue = sorted(again.items(), key=lambda kv: str(kv[0]))
    work.flush()
    return work.result


def _write_mapping(conn: Connection, instrument_id: uuid.UUID, global_id: uuid.UUID, evidence: Evidence) -> bool:
    """Upsert one mapping; an automatic write never replaces a manual one (returns False then)."""
    guard = "" if evidence is Evidence.MANUAL else "WHERE instrument_mapping.mapping_source <> 'manual'"
    result = conn.execute(
        text(
            f"""INSERT INTO instrument_mapping (global_instrument_id, instrument_id, mapping_source, confidence,
                    evidence)
                VALUES (:g, :i, :s, :c, :e)
                ON CONFLICT (instrument_id) DO UPDATE
                    SET global_instrument_id = EXCLUDED.global_instrument_id,
                        mapping_source = EXCLUDED.mapping_source, confidence = EXCLUDED.confidence,
                        evidence = EXCLUDED.evidence, updated_at = now()
                {guard}"""  # noqa: S608 - guard is one of two constants
        ),
        {"g": global_id, "i": instrument_id, "s": evidence.source, "c": evidence.confidence, "e": str(evidence)},
    )
    return bool(result.rowcount)


def _drop_if_orphan(conn: Connection, global_id: uuid.UUID) -> None:
    """A global instrument nothing maps to any more names nothing: remove it (its identifiers came from the
    instruments that left, and must not attract them back)."""
    conn.execute(
        text("""DELETE FROM global_instruments g WHERE g.id = :g AND NOT EXISTS
                (SELECT 1 FROM instrument_mapping m WHERE m.global_instrument_id = g.id)"""),
        {"g": global_id},
    )


def _create_global(conn: Connection, inst: Instrument) -> uuid.UUID:
    is_cash = inst.asset_class == AssetClass.CASH
    ids = {} if is_cash else identifiers_to_fill(inst)
    own = identity_id(inst)  # its own id when free (see identity_id), else a fresh one
    row = conn.execute(
        text(
            """INSERT INTO global_instruments (id, name, symbol, asset_class, currency, isin, cusip, figi, exchange)
               VALUES (:id, :name, :symbol, :ac, :ccy, :isin, :cusip, :figi, :exchange) RETURNING id"""
        ),
        {
            "id": uuid.uuid4() if global_exists(conn, own) else own,
            "name": display_name(inst),
            "symbol": inst.currency if is_cash else (inst.symbol or None),
            "ac": str(inst.asset_class),
            "ccy": inst.currency,
            "isin": ids.get("isin"),
            "cusip": ids.get("cusip"),
            "figi": ids.get("figi"),
            "exchange": None if is_cash else inst.exchange,
        },
    ).one()
    gid: uuid.UUID = row[0]
    return gid


# --- manual overrides (the CLI's `mapping set` and the dashboard's mapping page) -------------------------


def _lock(conn: Connection) -> None:
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:n))"), {"n": MAPPING_LOCK})


def set_manual_mapping(conn: Connection, instrument_id: uuid.UUID, global_instrument_id: uuid.UUID) -> None:
    """Map an instrument to a global instrument by hand. Wins over, and is never replaced by, a capture."""
    _lock(conn)
    if conn.execute(text("SELECT 1 FROM instruments WHERE id = :i"), {"i": instrument_id}).first() is None:
        raise MappingError(f"no instrument {instrument_id}", hint="see `portfolio-dashboard mapping list`")
    if conn.execute(text("SELECT 1 FROM global_instruments WHERE id = :g"),
                    {"g": global_instrument_id}).first() is None:
        raise MappingError(f"no global instrument {global_instrument_id}",
                           hint="see `portfolio-dashboard mapping list` for global ids")
    previous = _current(conn, [instrument_id]).get(instrument_id)
    _write_mapping(conn, instrument_id, global_instrument_id, Evidence.MANUAL)
    if previous is not None and previous.global_id != global_instrument_id:
        _drop_if_orphan(conn, previous.global_id)


def split_to_new_global(conn: Connection, instrument_id: uuid.UUID) -> uuid.UUID:
    """Give an instrument a fresh global identity of its own (manual), e.g. to undo a wrong merge."""
    _lock(conn)
    loaded = load_instruments(conn, [instrument_id])
    if instrument_id not in loaded:
        raise MappingError(f"no instrument {instrument_id}", hint="see `portfolio-dashboard mapping list`")
    previous = _current(conn, [instrument_id]).get(instrument_id)
    global_id = _create_global(conn, loaded[instrument_id])
    _write_mapping(conn, instrument_id, global_id, Evidence.MANUAL)
    if previous is not None:
        _drop_if_orphan(conn, previous.global_id)
    return global_id


def clear_manual_mapping(conn: Connection, instrument_id: uuid.UUID) -> Decision | None:
    """Drop a manual override and assign the instrument automatically again; the new decision (``None`` when
    the mapping was not manual: nothing to undo)."""
    _lock(conn)
    previous = _current(conn, [instrument_id]).get(instrument_id)
    if previous is None or previous.source != "manual":
        return None
    conn.execute(text("DELETE FROM instrument_mapping WHERE instrument_id = :i"), {"i": instrument_id})
    _drop_if_orphan(conn, previous.global_id)
    return _run_pass(conn, _todo(conn, [instrument_id])).decisions.get(instrument_id)


def find_instrument(conn: Connection, broker: str, broker_instrument_id: str) -> uuid.UUID:
    row = conn.execute(
        text("SELECT id FROM instruments WHERE broker = :b AND broker_instrument_id = :i"),
        {"b": broker, "i": broker_instrument_id},
    ).first()
    if row is None:
        raise MappingError(f"no instrument {broker}:{broker_instrument_id}",
                           hint="see `portfolio-dashboard mapping list` for broker instrument ids")
    found: uuid.UUID = row[0]
    return found


def global_of(conn: Connection, instrument_id: uuid.UUID) -> uuid.UUID:
    row = conn.execute(text("SELECT global_instrument_id FROM instrument_mapping WHERE instrument_id = :i"),
                       {"i": instrument_id}).first()
    if row is None:
        raise MappingError("that instrument has no global instrument yet",
                           hint="capture once, or map it with `--new`")
    found: uuid.UUID = row[0]
    return found


def resolve_global(conn: Connection, ref: str) -> uuid.UUID:
    """A global instrument id, written in full or as a unique prefix of at least 6 hex digits."""
    ref = ref.strip().lower()
    try:
        return uuid.UUID(ref)
    except ValueError:
        pass
    if len(ref) < 6 or any(c not in "0123456789abcdef-" for c in ref):
        raise MappingError(f"{ref!r} is not a global instrument id",
                           hint="use the id `mapping list` shows (a unique prefix of 6+ characters is enough)")
    rows = conn.execute(text("SELECT id FROM global_instruments WHERE id::text LIKE :p LIMIT 2"),
                        {"p": ref + "%"}).all()
    if len(rows) != 1:
        raise MappingError(f"{'no' if not rows else 'more than one'} global instrument id starts with {ref}",
                           hint="use more characters of the id")
    found: uuid.UUID = rows[0][0]
    return found


__all__ = [
    "MAPPING_LOCK",
    "CurrentMapping",
    "MappingError",
    "MappingResult",
    "assign_global_instruments",
    "clear_manual_mapping",
    "find_instrument",
    "global_of",
    "load_instruments",
    "resolve_global",
    "set_manual_mapping",
    "split_to_new_global",
]
