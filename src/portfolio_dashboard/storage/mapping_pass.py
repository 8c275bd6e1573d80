"""One assignment pass, in memory: load the relevant global instruments once, decide every instrument against
them (updating them as each decision is made, so the second of two same-ISIN instruments sees the first's
new identity), then write every change in a handful of bulk statements.

The rules themselves are in ``domain/matching.py``; what a decision may change is ``resolve`` below.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from portfolio_dashboard.domain import AssetClass, Instrument
from portfolio_dashboard.domain.identifiers import cusip_isin_candidates, isin_to_cusip
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
from portfolio_dashboard.storage.global_ids import global_exists, identity_id


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


def parse_evidence(value: str | None) -> Evidence | None:
    try:
        return None if value is None else Evidence(value)
    except ValueError:
        return None


INSTRUMENT_COLUMNS = """i.id, i.broker, i.broker_instrument_id, i.symbol, i.name, i.asset_class, i.currency,
                        i.isin, i.cusip, i.figi, i.exchange, i.broker_asset_class"""


def instrument_from_row(row: Any) -> Instrument:
    """An ``Instrument`` from the ``INSTRUMENT_COLUMNS`` of a row."""
    try:
        asset_class = AssetClass(row[5])
    except ValueError:
        asset_class = AssetClass.OTHER
    return Instrument(
        broker=row[1], broker_instrument_id=row[2], symbol=row[3] or "", name=row[4] or "",
        asset_class=asset_class, currency=row[6] or "", isin=row[7], cusip=row[8], figi=row[9],
        exchange=row[10], broker_asset_class=row[11],
    )


def needs_assessment(current: CurrentMapping | None, inst: Instrument | None) -> bool:
    """Unmapped, or weak and able to change. A weak mapping changes only on identifier evidence (a
    heuristic never moves an existing mapping), so one whose instrument has no identifiers is left alone —
    which keeps captures of identifier-less sources (the IB gateway) from re-assessing everything."""
    if current is None:
        return True
    return current.strength < STRONG and inst is not None and identity_of(inst).identified


def resolve(inst: Instrument, current: CurrentMapping | None, decision: Decision,
            home: Candidate | None) -> tuple[uuid.UUID | None, Evidence | None]:
    """Turn a fresh decision into what to write given the current mapping: ``(target, evidence)``, where
    target ``None`` with evidence means "a new global instrument" and ``(None, None)`` means "leave it"."""
    if current is None:
        return decision.global_id, decision.evidence
    if current.source == "manual":
        return None, None
    if current.source == "heuristic" and home is not None:
        isins, cusips, _ = home.trusted_ids()
        if conflicts(identity_of(inst), isins, cusips):
            return decision.global_id, decision.evidence  # undo a heuristic merge the identifiers now refute
    strong = decision.evidence.strength >= STRONG and decision.evidence.strength > current.strength
    if strong and decision.global_id is not None:
        return decision.global_id, decision.evidence  # identifier-grade evidence: upgrade or move
    if current.evidence is Evidence.NEW and identity_of(inst).identified:
        # It has learned identifiers nobody else has: it stays its own identity, now known by them (and its
        # global instrument learns them too). A heuristic never moves an existing mapping.
        return current.global_id, Evidence.NEW_IDENTIFIED
    return None, None


@dataclass(slots=True)
class _Member:
    instrument: Instrument
    source: str
    evidence: Evidence | None


@dataclass(slots=True)
class _Global:
    id: uuid.UUID
    created_at: datetime
    name: str | None
    symbol: str | None
    asset_class: str | None
    currency: str | None
    exchange: str | None
    isin: str | None
    cusip: str | None
    figi: str | None
    members: dict[uuid.UUID, _Member] = field(default_factory=dict)
    new: bool = False
    learned: set[str] = field(default_factory=set)

    def candidate(self, exclude: uuid.UUID) -> Candidate:
        return Candidate(self.id, self.created_at, self.asset_class, self.currency, self.isin, self.cusip, self.figi,
                         tuple(Member(i, m.instrument, m.source) for i, m in self.members.items() if i != exclude))


def _keys(inst: Instrument) -> set[str]:
    """Index keys under which a candidate for ``inst`` can be found."""
    if inst.asset_class == AssetClass.CASH:
        return {f"cash:{inst.currency.upper()}"}
    ident = identity_of(inst)
    keys = {f"isin:{x}" for x in ident.isins} | {f"cusip:{x}" for x in ident.cusips}
    if ident.figi:
        keys.add(f"figi:{ident.figi}")
    if ident.symbol:
        keys.add(f"sym:{ident.symbol}")
    return keys


class MappingPass:
    """The relevant slice of global instruments, decided against and changed in memory, flushed in bulk."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.globals: dict[uuid.UUID, _Global] = {}
        self.index: dict[str, set[uuid.UUID]] = defaultdict(set)
        self.home: dict[uuid.UUID, uuid.UUID] = {}
        self.writes: dict[uuid.UUID, tuple[uuid.UUID, Evidence]] = {}
        self.left: set[uuid.UUID] = set()
        self.result = MappingResult()
        self._clock = datetime.now(UTC)

    # --- loading -------------------------------------------------------------------------------------------
    def load(self, instruments: dict[uuid.UUID, Instrument]) -> None:
        """Bring in every stored global instrument that could matter to these instruments."""
        found: dict[str, set[str]] = {"isin": set(), "cusip": set(), "figi": set(), "sym": set(), "cash": set()}
        for inst in instruments.values():
            for key in _keys(inst):
                kind, _, value = key.partition(":")
                found[kind].add(value)
        isins, cusips, figis, syms, cash = (found[k] for k in ("isin", "cusip", "figi", "sym", "cash"))
        # A domestic CUSIP and the US/CA ISIN embedding it find each other in either column.
        isins |= {i for c in cusips for i in cusip_isin_candidates(c)}
        cusips |= {c for c in (isin_to_cusip(i) for i in isins) if c}
        params = {"ids": list(instruments), "isins": sorted(isins), "cusips": sorted(cusips),
                  "figis": sorted(figis), "syms": sorted(syms), "cash": sorted(cash)}
        rows = self.conn.execute(
            text(
                """SELECT g.id FROM global_instruments g
                   WHERE g.isin = ANY(:isins) OR g.cusip = ANY(:cusips) OR g.figi = ANY(:figis)
                      OR (g.asset_class = 'cash' AND upper(g.currency) = ANY(:cash))
                   UNION
                   SELECT m.global_instrument_id FROM instrument_mapping m JOIN instruments i ON i.id = m.instrument_id
                   WHERE m.instrument_id = ANY(:ids)
                      OR upper(btrim(i.isin)) = ANY(:isins) OR upper(btrim(i.cusip)) = ANY(:cusips)
                      OR upper(btrim(i.figi)) = ANY(:figis)
                      OR regexp_replace(upper(i.symbol), '[^A-Z0-9]', '', 'g') = ANY(:syms)"""
            ),
            params,
        )
        wanted = [r[0] for r in rows if r[0] not in self.globals]
        if wanted:
            self._load_globals(wanted)

    def _load_globals(self, ids: list[uuid.UUID]) -> None:
        for r in self.conn.execute(
            text("""SELECT id, created_at, name, symbol, asset_class, currency, exchange, isin, cusip, figi
                    FROM global_instruments WHERE id = ANY(:ids)"""),
            {"ids": ids},
        ):
            self.globals[r[0]] = _Global(*r)
        for r in self.conn.execute(
            text(
                f"""SELECT m.global_instrument_id, m.mapping_source, m.evidence, {INSTRUMENT_COLUMNS}
                    FROM instrument_mapping m JOIN instruments i ON i.id = m.instrument_id
                    WHERE m.global_instrument_id = ANY(:ids)"""  # noqa: S608 - constant column list
            ),
            {"ids": ids},
        ):
            inst = instrument_from_row(r[3:])
            self.globals[r[0]].members[r[3]] = _Member(inst, r[1], parse_evidence(r[2]))
            self.home[r[3]] = r[0]
        for gid in ids:
            self._index(self.globals[gid])

    def _index(self, g: _Global) -> None:
        if g.asset_class == AssetClass.CASH and g.currency:
            self.index[f"cash:{g.currency.upper()}"].add(g.id)
        for isin in [g.isin] if g.isin else []:
            self.index[f"isin:{isin}"].add(g.id)
            if (cusip := isin_to_cusip(isin)) is not None:
                self.index[f"cusip:{cusip}"].add(g.id)
        if g.cusip:
            self.index[f"cusip:{g.cusip}"].add(g.id)
        if g.figi:
            self.index[f"figi:{g.figi}"].add(g.id)
        for m in g.members.values():
            for key in _keys(m.instrument):
                self.index[key].add(g.id)

    # --- deciding ------------------------------------------------------------------------------------------
    def current(self, instrument_id: uuid.UUID) -> CurrentMapping | None:
        gid = self.home.get(instrument_id)
        if gid is None:
            return None
        m = self.globals[gid].members[instrument_id]
        return CurrentMapping(gid, m.source, m.evidence)

    def candidates(self, instrument_id: uuid.UUID, inst: Instrument) -> list[Candidate]:
        """Live global instruments indexed under any of the instrument's keys, plus its current home."""
        gids: set[uuid.UUID] = set()
        for key in _keys(inst):
            gids |= self.index.get(key, set())
        home = self.home.get(instrument_id)
        out = []
        for gid in gids | ({home} if home else set()):
            g = self.globals.get(gid)
            if g is not None and (gid == home or any(i != instrument_id for i in g.members)):
                out.append(g.candidate(exclude=instrument_id))
        return out

    def assess(self, instrument_id: uuid.UUID, inst: Instrument) -> uuid.UUID | None:
        """Decide one instrument; return a global instrument whose identifiers grew (to re-check)."""
        current = self.current(instrument_id)
        if not needs_assessment(current, inst):
            return None
        candidates = self.candidates(instrument_id, inst)
        decision = decide(inst, candidates, instrument_id)
        home = next((c for c in candidates if current and c.global_id == current.global_id), None)
        target, evidence = resolve(inst, current, decision, home)
        if evidence is None:
            return None
        if target is None:
            target = self._create(inst)
        if current is None or current.global_id != target or current.evidence != evidence:
            self._move(instrument_id, inst, target, evidence, current)
        if evidence.source == "broker" and self._fill(target, inst):
            return target
        return None

    def heuristic_members(self, gid: uuid.UUID) -> list[tuple[uuid.UUID, Instrument]]:
        return [(i, m.instrument) for i, m in self.globals[gid].members.items() if m.source == "heuristic"]

    def _create(self, inst: Instrument) -> uuid.UUID:
        is_cash = inst.asset_class == AssetClass.CASH
        ids = {} if is_cash else identifiers_to_fill(inst)
        # Sorts after every stored global instrument, in creation order (ties only matter within a pass).
        self._clock += timedelta(microseconds=1)
        gid = identity_id(inst)
        if gid in self.globals or global_exists(self.conn, gid):
            gid = uuid.uuid4()  # its own id is taken (an earlier split of it still exists): any fresh one
        g = _Global(gid, self._clock, display_name(inst), inst.currency if is_cash else (inst.symbol or None),
                    str(inst.asset_class), inst.currency, None if is_cash else inst.exchange, ids.get("isin"),
                    ids.get("cusip"), ids.get("figi"), new=True)
        self.globals[g.id] = g
        self._index(g)
        self.result.globals_created += 1
        return g.id

    def _move(self, instrument_id: uuid.UUID, inst: Instrument, target: uuid.UUID, evidence: Evidence,
              current: CurrentMapping | None) -> None:
        if current is not None and current.global_id != target:
            self.globals[current.global_id].members.pop(instrument_id, None)
            self.left.add(current.global_id)
        g = self.globals[target]
        g.members[instrument_id] = _Member(inst, evidence.source, evidence)
        for key in _keys(inst):
            self.index[key].add(target)
        self.home[instrument_id] = target
        self.writes[instrument_id] = (target, evidence)
        if current is None:
            self.result.mapped += 1
        else:
            self.result.changed += 1
        self.result.decisions[instrument_id] = Decision(target, evidence)

    def _fill(self, gid: uuid.UUID, inst: Instrument) -> bool:
        """Teach a global instrument the identifiers and name it lacks; True when it learned an ISIN or CUSIP
        (its heuristic members then need a second look)."""
        if inst.asset_class == AssetClass.CASH:
            return False
        g = self.globals[gid]
        learned = {k: v for k, v in identifiers_to_fill(inst).items() if getattr(g, k) is None}
        if not g.name:
            learned["name"] = display_name(inst)
        if not g.symbol and inst.symbol:
            learned["symbol"] = inst.symbol
        for k, v in learned.items():
            setattr(g, k, v)
        g.learned |= set(learned)
        self._index(g)
        return "isin" in learned or "cusip" in learned

    # --- writing -------------------------------------------------------------------------------------------
    def flush(self) -> None:
        """Write every change: new global instruments, learned identifiers, mappings, emptied identities."""
        created = [g for g in self.globals.values() if g.new and g.members]
        if created:
            self.conn.execute(
                text("""INSERT INTO global_instruments (id, name, symbol, asset_class, currency, exchange, isin,
                            cusip, figi)
                        SELECT * FROM unnest(CAST(:id AS uuid[]), CAST(:name AS text[]), CAST(:symbol AS text[]),
                            CAST(:ac AS text[]), CAST(:ccy AS text[]), CAST(:exch AS text[]), CAST(:isin AS text[]),
                            CAST(:cusip AS text[]), CAST(:figi AS text[]))"""),
                _columns(created),
            )
        learned = [g for g in self.globals.values() if g.learned and not g.new]
        if learned:
            self.conn.execute(
                text("""UPDATE global_instruments g
                        SET name = COALESCE(NULLIF(g.name, ''), v.name), symbol = COALESCE(NULLIF(g.symbol, ''),
                            v.symbol), isin = COALESCE(g.isin, v.isin), cusip = COALESCE(g.cusip, v.cusip),
                            figi = COALESCE(g.figi, v.figi)
                        FROM unnest(CAST(:id AS uuid[]), CAST(:name AS text[]), CAST(:symbol AS text[]),
                            CAST(:isin AS text[]), CAST(:cusip AS text[]), CAST(:figi AS text[]))
                            AS v(id, name, symbol, isin, cusip, figi)
                        WHERE g.id = v.id"""),
                {k: v for k, v in _columns(learned).items() if k not in ("ac", "ccy", "exch")},
            )
        if self.writes:
            items = sorted(self.writes.items(), key=lambda kv: str(kv[0]))
            self.conn.execute(
                text("""INSERT INTO instrument_mapping (instrument_id, global_instrument_id, mapping_source,
                            confidence, evidence)
                        SELECT * FROM unnest(CAST(:iid AS uuid[]), CAST(:gid AS uuid[]), CAST(:src AS text[]),
                            CAST(:conf AS numeric[]), CAST(:ev AS text[]))
                        ON CONFLICT (instrument_id) DO UPDATE
                            SET global_instrument_id = EXCLUDED.global_instrument_id,
                                mapping_source = EXCLUDED.mapping_source, confidence = EXCLUDED.confidence,
                                evidence = EXCLUDED.evidence, updated_at = now()
                            WHERE instrument_mapping.mapping_source <> 'manual'"""),
                {"iid": [i for i, _ in items], "gid": [g for _, (g, _e) in items],
                 "src": [e.source for _, (_g, e) in items], "conf": [e.confidence for _, (_g, e) in items],
                 "ev": [str(e) for _, (_g, e) in items]},
            )
        emptied = [gid for gid in self.left if not self.globals[gid].members and not self.globals[gid].new]
        if emptied:
            # An identity nothing maps to names nothing; its identifiers must not attract instruments back.
            self.conn.execute(
                text("""DELETE FROM global_instruments g WHERE g.id = ANY(:ids) AND NOT EXISTS
                        (SELECT 1 FROM instrument_mapping m WHERE m.global_instrument_id = g.id)"""),
                {"ids": emptied},
            )


def _columns(rows: Iterable[_Global]) -> dict[str, list[Any]]:
    rows = list(rows)
    return {"id": [g.id for g in rows], "name": [g.name for g in rows], "symbol": [g.symbol for g in rows],
            "ac": [g.asset_class for g in rows], "ccy": [g.currency for g in rows],
            "exch": [g.exchange for g in rows], "isin": [g.isin for g in rows], "cusip": [g.cusip for g in rows],
            "figi": [g.figi for g in rows]}


__all__ = ["INSTRUMENT_COLUMNS", "CurrentMapping", "MappingPass", "MappingResult", "instrument_from_row",
           "needs_assessment", "normalise_symbol", "parse_evidence", "resolve"]
