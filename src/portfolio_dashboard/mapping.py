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
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from portfolio_dashboard.domain import AssetClass, Instrument
from portfolio_dashboard.domain.matching import (
    STRONG,
    Candidate,
    Decision,
    Evidence,
    Member,
    conflicts,
    decide,
    display_name,
    identifiers_to_fill,
    identity_of,
    normalise_symbol,
)
from portfolio_dashboard.errors import PortfolioError

MAPPING_LOCK = "pd.mapping"
log = logging.getLogger(__name__)


class MappingError(PortfolioError):
    category = "mapping"


@dataclass(frozen=True, slots=True)
class CurrentMapping:
    global_id: uuid.UUID
    source: str
    evidence: Evidence | None  # None: written before evidence was recorded; treated as settled

    @property
    def strength(self) -> int:
        if self.source == "manual":
            return Evidence.MANUAL.strength
        return STRONG if self.evidence is None else self.evidence.strength


@dataclass(slots=True)
class MappingResult:
    """What one assignment pass did."""

    mapped: int = 0  # instruments that had no mapping
    changed: int = 0  # existing mappings upgraded, moved or undone
    globals_created: int = 0
    decisions: dict[uuid.UUID, Decision] = field(default_factory=dict)


def _evidence(value: str | None) -> Evidence | None:
    try:
        return None if value is None else Evidence(value)
    except ValueError:
        return None


def _current(conn: Connection, ids: Iterable[uuid.UUID], *, weak_only: bool = False
             ) -> dict[uuid.UUID, CurrentMapping]:
    weak = " AND (mapping_source = 'heuristic' OR evidence = 'new')" if weak_only else ""
    rows = conn.execute(
        text(f"""SELECT instrument_id, global_instrument_id, mapping_source, evidence
                 FROM instrument_mapping WHERE instrument_id = ANY(:ids){weak}"""),  # noqa: S608 - constant
        {"ids": list(ids)},
    )
    return {r[0]: CurrentMapping(r[1], r[2], _evidence(r[3])) for r in rows}


# Stands for a mapping known to exist and to be settled (its row was not read).
_SETTLED = CurrentMapping(uuid.UUID(int=0), "broker", None)


def _needs_assessment(current: CurrentMapping | None, inst: Instrument | None) -> bool:
    """Unmapped, or weak and able to change. A weak mapping changes only on identifier evidence (a
    heuristic never moves an existing mapping), so one whose instrument has no identifiers is left alone —
    which keeps captures of identifier-less sources (the IB gateway) from re-assessing everything."""
    if current is None:
        return True
    return current.strength < STRONG and inst is not None and identity_of(inst).identified


def _todo(conn: Connection, ids: Sequence[uuid.UUID], mapped: set[uuid.UUID] | None = None
          ) -> tuple[dict[uuid.UUID, CurrentMapping], list[uuid.UUID], dict[uuid.UUID, Instrument]]:
    """Current mappings, the instruments to assess, and those instruments as stored."""
    if mapped is None:
        current = _current(conn, ids)
    else:
        # Only the weak mappings can need work: a query that usually returns nothing.
        current = _current(conn, [i for i in ids if i in mapped], weak_only=True)
        current.update({i: _SETTLED for i in mapped if i not in current})
    loaded = load_instruments(conn, [i for i in ids if i not in current or current[i].strength < STRONG])
    todo = [i for i in ids if i in loaded and _needs_assessment(current.get(i), loaded[i])]
    return current, todo, loaded


_INSTRUMENT_COLUMNS = """i.id, i.broker, i.broker_instrument_id, i.symbol, i.name, i.asset_class, i.currency,
                         i.isin, i.cusip, i.figi, i.exchange, i.broker_asset_class"""


def _instrument(row: Any) -> Instrument:
    try:
        asset_class = AssetClass(row[5])
    except ValueError:
        asset_class = AssetClass.OTHER
    return Instrument(
        broker=row[1], broker_instrument_id=row[2], symbol=row[3] or "", name=row[4] or "",
        asset_class=asset_class, currency=row[6] or "", isin=row[7], cusip=row[8], figi=row[9],
        exchange=row[10], broker_asset_class=row[11],
    )


def load_instruments(conn: Connection, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Instrument]:
    """Instruments as stored: the union of what every source reported (a later Flex ISIN included)."""
    rows = conn.execute(
        text(f"SELECT {_INSTRUMENT_COLUMNS} FROM instruments i WHERE i.id = ANY(:ids)"),  # noqa: S608
        {"ids": list(ids)},
    )
    return {r[0]: _instrument(r) for r in rows}


def _candidate_ids(conn: Connection, instrument_id: uuid.UUID, inst: Instrument) -> set[uuid.UUID]:
    """Global instruments sharing an identifier, or (for the heuristic) a symbol/currency/class member."""
    if inst.asset_class == AssetClass.CASH:
        rows = conn.execute(
            text("""SELECT g.id FROM global_instruments g
                    WHERE g.asset_class = 'cash' AND upper(g.currency) = :c AND EXISTS
                          (SELECT 1 FROM instrument_mapping m WHERE m.global_instrument_id = g.id)"""),
            {"c": inst.currency.upper()},
        )
        return {r[0] for r in rows}
    ident = identity_of(inst)
    params = {
        "self": instrument_id, "isins": sorted(ident.isins), "cusips": sorted(ident.cusips),
        "figi": ident.figi or "", "sym": ident.symbol, "ccy": ident.currency, "ac": ident.asset_class,
    }
    rows = conn.execute(
        text(
            """SELECT g.id FROM global_instruments g
               WHERE (g.isin = ANY(:isins) OR g.cusip = ANY(:cusips) OR g.figi = :figi)
                 AND EXISTS (SELECT 1 FROM instrument_mapping m WHERE m.global_instrument_id = g.id)
               UNION
               SELECT m.global_instrument_id FROM instrument_mapping m JOIN instruments i ON i.id = m.instrument_id
               WHERE i.id <> :self AND (
                     upper(btrim(i.isin)) = ANY(:isins) OR upper(btrim(i.cusip)) = ANY(:cusips)
                  OR upper(btrim(i.figi)) = :figi
                  OR (upper(i.currency) = :ccy AND i.asset_class = :ac
                      AND regexp_replace(upper(i.symbol), '[^A-Z0-9]', '', 'g') = :sym))"""
        ),
        params,
    )
    return {r[0] for r in rows}


def load_candidates(conn: Connection, global_ids: Iterable[uuid.UUID],
                    exclude: uuid.UUID | None = None) -> list[Candidate]:
    """Candidate global instruments with their members (``exclude``: the instrument being assessed, which
    must not count as evidence about itself)."""
    ids = list(global_ids)
    if not ids:
        return []
    members: dict[uuid.UUID, list[Member]] = {}
    rows = conn.execute(
        text(
            f"""SELECT m.global_instrument_id, m.mapping_source, {_INSTRUMENT_COLUMNS}
                FROM instrument_mapping m JOIN instruments i ON i.id = m.instrument_id
                WHERE m.global_instrument_id = ANY(:ids)"""  # noqa: S608 - constant column list
        ),
        {"ids": ids},
    )
    for r in rows:
        if r[2] != exclude:
            members.setdefault(r[0], []).append(Member(r[2], _instrument(r[2:]), r[1]))
    rows = conn.execute(
        text("""SELECT id, created_at, asset_class, currency, isin, cusip, figi
                FROM global_instruments WHERE id = ANY(:ids)"""),
        {"ids": ids},
    )
    return [Candidate(r[0], r[1], r[2], r[3], r[4], r[5], r[6], tuple(members.get(r[0], ()))) for r in rows]


def assign_global_instruments(conn: Connection, instruments: Mapping[tuple[str, str], uuid.UUID],
                              by_key: Mapping[tuple[str, str], Instrument] | None = None,
                              mapped: set[uuid.UUID] | None = None) -> MappingResult:
    """Map every unmapped instrument of ``instruments`` (natural key -> id) and re-assess weak mappings.

    ``by_key`` (what this capture reported) is accepted for the writer's convenience; the decision uses the
    stored rows, which also carry identifiers an earlier source reported. ``mapped`` (ids the caller knows
    are mapped) narrows the capture's hot-path check to the weak mappings among them. Runs inside the
    caller's transaction; never touches ``manual`` mappings.
    """
    result = MappingResult()
    if not instruments:
        return result
    ids = sorted(set(instruments.values()), key=str)
    if not _todo(conn, ids, mapped)[1]:
        return result  # everything settled: no lock taken, nothing written
    # Two sources capturing at once could both create a global identity for the same security.
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:n))"), {"n": MAPPING_LOCK})
    _assess_all(conn, ids, result)
    if result.mapped or result.changed:
        log.info("instrument mapping: %d new, %d changed, %d global instruments created",
                 result.mapped, result.changed, result.globals_created)
    return result


def _assess_all(conn: Connection, ids: Iterable[uuid.UUID], result: MappingResult) -> None:
    """Assess instruments in a stable order; a global that learns identifiers has its heuristic members
    re-checked (once each) in case they now contradict it."""
    queue = sorted(ids, key=str)
    seen: set[uuid.UUID] = set()
    while queue:
        batch = [i for i in queue if i not in seen]
        seen.update(batch)
        queue = []
        current, todo, loaded = _todo(conn, batch)
        for instrument_id in todo:
            filled = _assess(conn, instrument_id, loaded[instrument_id], current.get(instrument_id), result)
            if filled is not None:
                queue.extend(_heuristic_members(conn, filled))


def _assess(conn: Connection, instrument_id: uuid.UUID, inst: Instrument, current: CurrentMapping | None,
            result: MappingResult) -> uuid.UUID | None:
    """Decide and write one instrument's mapping; return a global instrument whose identifiers grew."""
    cand_ids = _candidate_ids(conn, instrument_id, inst)
    if current is not None:
        cand_ids.add(current.global_id)
    candidates = load_candidates(conn, cand_ids, exclude=instrument_id)
    decision = decide(inst, candidates, instrument_id)
    target, evidence = _resolve(inst, current, decision, candidates)
    if target is None and evidence is None:
        return None  # keep the current mapping as it is
    assert evidence is not None
    if target is None:
        target = _create_global(conn, inst)
        result.globals_created += 1
    unchanged = current is not None and current.global_id == target and current.evidence == evidence
    if not unchanged and _write_mapping(conn, instrument_id, target, evidence):
        if current is None:
            result.mapped += 1
        else:
            result.changed += 1
            _drop_if_orphan(conn, current.global_id)
        result.decisions[instrument_id] = Decision(target, evidence)
    if evidence.source == "broker" and _fill_identifiers(conn, target, inst):
        return target
    return None


def _resolve(
    inst: Instrument, current: CurrentMapping | None, decision: Decision, candidates: list[Candidate]
) -> tuple[uuid.UUID | None, Evidence | None]:
    """Turn a fresh decision into what to write given the current mapping: ``(target, evidence)``, where
    target ``None`` with evidence means "a new global instrument" and ``(None, None)`` means "leave it"."""
    if current is None:
        return decision.global_id, decision.evidence
    if current.source == "manual":
        return None, None
    if _contradicted(inst, current, candidates):
        return decision.global_id, decision.evidence  # undo a heuristic merge the identifiers now refute
    strong = decision.evidence.strength >= STRONG and decision.evidence.strength > current.strength
    if strong and decision.global_id is not None:
        return decision.global_id, decision.evidence  # identifier-grade evidence: upgrade or move
    if current.evidence is Evidence.NEW and identity_of(inst).identified:
        # It has learned identifiers nobody else has: it stays its own identity, now known by them (and its
        # global instrument learns them too). A heuristic never moves an existing mapping.
        return current.global_id, Evidence.NEW_IDENTIFIED
    return None, None


def _contradicted(inst: Instrument, current: CurrentMapping, candidates: list[Candidate]) -> bool:
    """A heuristic mapping whose global instrument now carries identifiers that refute the instrument's."""
    if current.source != "heuristic":
        return False
    home = next((c for c in candidates if c.global_id == current.global_id), None)
    if home is None:
        return False
    isins, cusips, _ = home.trusted_ids()
    return conflicts(identity_of(inst), isins, cusips)


def _heuristic_members(conn: Connection, global_id: uuid.UUID) -> list[uuid.UUID]:
    rows = conn.execute(
        text("""SELECT instrument_id FROM instrument_mapping
                WHERE global_instrument_id = :g AND mapping_source = 'heuristic'"""),
        {"g": global_id},
    )
    return [r[0] for r in rows]


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
    row = conn.execute(
        text(
            """INSERT INTO global_instruments (name, symbol, asset_class, currency, isin, cusip, figi, exchange)
               VALUES (:name, :symbol, :ac, :ccy, :isin, :cusip, :figi, :exchange) RETURNING id"""
        ),
        {
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


def _fill_identifiers(conn: Connection, global_id: uuid.UUID, inst: Instrument) -> bool:
    """Teach a global instrument the identifiers and name it lacks; True when it learned an ISIN or CUSIP
    (its heuristic members then need a second look)."""
    if inst.asset_class == AssetClass.CASH:
        return False
    row = conn.execute(
        text("SELECT isin, cusip, figi, name, symbol FROM global_instruments WHERE id = :g FOR UPDATE"),
        {"g": global_id},
    ).one()
    have = {"isin": row[0], "cusip": row[1], "figi": row[2], "name": row[3] or None, "symbol": row[4] or None}
    learned = {k: v for k, v in identifiers_to_fill(inst).items() if have[k] is None}
    if have["name"] is None:
        learned["name"] = display_name(inst)
    if have["symbol"] is None and inst.symbol:
        learned["symbol"] = inst.symbol
    if not learned:
        return False
    sets = ", ".join(f"{k} = :{k}" for k in learned)  # keys are the fixed column names above
    conn.execute(text(f"UPDATE global_instruments SET {sets} WHERE id = :g"),  # noqa: S608
                 {"g": global_id, **learned})
    return "isin" in learned or "cusip" in learned


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
    result = MappingResult()
    _assess_all(conn, [instrument_id], result)
    return result.decisions.get(instrument_id)


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
    "load_candidates",
    "load_instruments",
    "normalise_symbol",
    "resolve_global",
    "set_manual_mapping",
    "split_to_new_global",
]
