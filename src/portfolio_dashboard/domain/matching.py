"""Which global instrument a broker instrument is: the pure decision, strongest evidence first.

1. Cash: one global "<CCY> cash" per currency, whatever the broker.
2. Identifiers (``broker``, confidence 1): the same ISIN; the same CUSIP, also through the ISIN a US/CA
   CUSIP implies (Schwab reports only CUSIPs, IB's Flex reports ISINs); the same FIGI. An identifier names
   the security, not the listing, so an identifier match merges across exchanges and currencies.
3. Heuristic (``heuristic``): the same symbol (ignoring separators: "BRK B" = "BRK.B"), the same currency
   and the same asset class as an instrument already mapped to the candidate, and the same listing
   exchange when both sides know it (confidence 0.8) or when one side does not (0.6). It NEVER merges
   different currencies, different known exchanges (a candidate already holding a listing in that currency
   on another exchange is refused as a whole), or a candidate whose identifiers contradict the
   instrument's (another ISIN or CUSIP), and never a candidate that already holds a *different* instrument
   of the same broker (a broker's own ids tell its instruments apart). When two candidates tie, the match
   is ambiguous and nothing is merged.
4. Otherwise a new global instrument of its own.

Identifiers count as positive evidence only from instruments mapped by identifier or by hand (a heuristic
member's ISIN is not the global's), but any member's identifiers can veto a heuristic match.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache

from portfolio_dashboard.domain.identifiers import (
    clean,
    cusip_isin_candidates,
    isin_to_cusip,
    valid_cusip,
    valid_figi,
    valid_isin,
)
from portfolio_dashboard.domain.instruments import AssetClass, Instrument

CONFIDENCE_EXCHANGE = Decimal("0.8")  # symbol + currency + asset class + the same exchange
CONFIDENCE_SYMBOL = Decimal("0.6")  # symbol + currency + asset class, one side's exchange unknown
CONFIDENCE_CERTAIN = Decimal(1)


class Evidence(StrEnum):
    """Why an instrument maps where it does (stored in ``instrument_mapping.evidence``)."""

    MANUAL = "manual"
    CASH = "cash"
    ISIN = "isin"
    CUSIP = "cusip"
    FIGI = "figi"
    NEW_IDENTIFIED = "new_identified"  # an identity of its own, carrying the instrument's identifiers
    SYMBOL_EXCHANGE = "symbol_exchange"
    SYMBOL = "symbol"
    NEW = "new"  # an identity of its own, with nothing to match on

    @property
    def strength(self) -> int:
        return _STRENGTH[self]

    @property
    def source(self) -> str:
        """The ``mapping_source`` this evidence is stored under."""
        if self is Evidence.MANUAL:
            return "manual"
        return "heuristic" if self in (Evidence.SYMBOL_EXCHANGE, Evidence.SYMBOL) else "broker"

    @property
    def confidence(self) -> Decimal:
        if self is Evidence.SYMBOL_EXCHANGE:
            return CONFIDENCE_EXCHANGE
        if self is Evidence.SYMBOL:
            return CONFIDENCE_SYMBOL
        return CONFIDENCE_CERTAIN


_STRENGTH = {
    Evidence.MANUAL: 4,
    Evidence.CASH: 3,
    Evidence.ISIN: 3,
    Evidence.CUSIP: 3,
    Evidence.FIGI: 3,
    Evidence.NEW_IDENTIFIED: 3,
    Evidence.SYMBOL_EXCHANGE: 2,
    Evidence.SYMBOL: 1,
    Evidence.NEW: 0,
}
STRONG = 3  # identifier-grade: never re-assessed by a later capture
_ID_RANK = {Evidence.ISIN: 0, Evidence.CUSIP: 1, Evidence.FIGI: 2}

# Listing exchanges as IBKR, market identifier codes (ISO 10383) and common spellings name them.
_EXCHANGE_ALIASES = {
    "LSEETF": "LSE", "LSEIOB1": "LSE", "XLON": "LSE", "LON": "LSE", "LONDON": "LSE",
    "XNAS": "NASDAQ", "NASDAQGS": "NASDAQ", "NASDAQGM": "NASDAQ", "NASDAQCM": "NASDAQ", "NMS": "NASDAQ",
    "XNYS": "NYSE", "NYQ": "NYSE",
    "ARCX": "ARCA", "NYSEARCA": "ARCA", "PCX": "ARCA",
    "XASE": "AMEX", "NYSEAMERICAN": "AMEX", "NYSEMKT": "AMEX",
    "BATS": "CBOE", "BATSBZX": "CBOE", "CBOEBZX": "CBOE", "BZX": "CBOE",
    "IBIS": "XETRA", "IBIS2": "XETRA", "XETR": "XETRA", "GER": "XETRA",
    "FWB": "FRANKFURT", "FWB2": "FRANKFURT", "XFRA": "FRANKFURT",
    "AEB": "AMSTERDAM", "XAMS": "AMSTERDAM", "ENEXT.AMS": "AMSTERDAM",
    "SBF": "PARIS", "XPAR": "PARIS", "ENEXT.PAR": "PARIS",
    "TSE": "TORONTO", "XTSE": "TORONTO", "TSX": "TORONTO",
    "EBS": "SIX", "XSWX": "SIX", "SWX": "SIX", "VIRTX": "SIX",
    "BVME": "MILAN", "XMIL": "MILAN", "BVME.ETF": "MILAN",
    "SEHK": "HONGKONG", "XHKG": "HONGKONG",
    "ASX": "ASX", "XASX": "ASX",
}
_SYMBOL_NOISE = re.compile(r"[^A-Z0-9]")


def normalise_exchange(value: str | None) -> str | None:
    """One spelling per listing venue; ``None`` when unknown ("SMART" routing is not a listing)."""
    text = (value or "").strip().upper().replace(" ", "")
    if not text or text in {"SMART", "VALUE", "NONE", "N/A", "UNKNOWN"}:
        return None
    return _EXCHANGE_ALIASES.get(text, text)


def normalise_symbol(value: str | None) -> str:
    return _SYMBOL_NOISE.sub("", (value or "").upper())


@dataclass(frozen=True, slots=True)
class Identity:
    """What an instrument can be matched on."""

    isins: frozenset[str]  # the reported ISIN, else the US/CA ISINs its CUSIP implies
    isin_reported: bool
    cusips: frozenset[str]
    figi: str | None
    symbol: str
    currency: str
    asset_class: str
    exchange: str | None

    @property
    def identified(self) -> bool:
        return bool(self.isins or self.cusips or self.figi)


@lru_cache(maxsize=8192)  # instruments are frozen values; a pass asks about the same ones many times
def identity_of(inst: Instrument) -> Identity:
    isin = valid_isin(inst.isin)
    cusip = valid_cusip(inst.cusip)
    if isin is not None:
        # The reported ISIN wins over a CUSIP that might disagree with it.
        isins = frozenset({isin})
        embedded = isin_to_cusip(isin)
        cusips = frozenset({embedded}) if embedded else frozenset({cusip} if cusip else ())
    else:
        isins = frozenset(cusip_isin_candidates(cusip))
        cusips = frozenset({cusip} if cusip else ())
    return Identity(
        isins=isins,
        isin_reported=isin is not None,
        cusips=cusips,
        figi=valid_figi(inst.figi),
        symbol=normalise_symbol(inst.symbol),
        currency=(inst.currency or "").upper(),
        asset_class=str(inst.asset_class),
        exchange=normalise_exchange(inst.exchange),
    )


@dataclass(frozen=True, slots=True)
class Member:
    """A broker instrument already mapped to a candidate global instrument."""

    instrument_id: uuid.UUID
    instrument: Instrument
    mapping_source: str  # broker | heuristic | manual


@dataclass(frozen=True, slots=True)
class Candidate:
    """A global instrument that might be the one, with its identifiers and mapped members."""

    global_id: uuid.UUID
    created_at: datetime
    asset_class: str | None
    currency: str | None
    isin: str | None = None
    cusip: str | None = None
    figi: str | None = None
    members: tuple[Member, ...] = ()

    def _ids(self, members: Iterable[Member]) -> tuple[set[str], set[str], set[str]]:
        isins = {x for x in [valid_isin(self.isin)] if x}
        cusips = {x for x in [valid_cusip(self.cusip)] if x}
        figis = {x for x in [valid_figi(self.figi)] if x}
        for m in members:
            ident = identity_of(m.instrument)
            if ident.isin_reported:
                isins |= ident.isins
            cusips |= ident.cusips
            if ident.figi:
                figis.add(ident.figi)
        # A domestic CUSIP and the US/CA ISIN that embeds it name the same security: compare both ways.
        isins |= {i for c in cusips for i in cusip_isin_candidates(c)}
        cusips |= {c for c in (isin_to_cusip(i) for i in isins) if c}
        return isins, cusips, figis

    def trusted_ids(self) -> tuple[set[str], set[str], set[str]]:
        """Identifiers that prove membership: the global's own and those of broker/manual members."""
        return self._ids(m for m in self.members if m.mapping_source != "heuristic")

    def all_ids(self) -> tuple[set[str], set[str], set[str]]:
        """Every identifier any member carries (any of them can veto a heuristic)."""
        return self._ids(self.members)


@dataclass(frozen=True, slots=True)
class Decision:
    """Map to ``global_id`` (``None``: create a new global instrument) because of ``evidence``."""

    global_id: uuid.UUID | None
    evidence: Evidence

    @property
    def source(self) -> str:
        return self.evidence.source

    @property
    def confidence(self) -> Decimal:
        return self.evidence.confidence


def conflicts(ident: Identity, isins: set[str], cusips: set[str]) -> bool:
    """Both sides know an ISIN (or a CUSIP) and none is shared: different securities."""
    if ident.isins and isins and not (ident.isins & isins):
        return True
    return bool(ident.cusips and cusips and not (ident.cusips & cusips))


def identifier_evidence(ident: Identity, cand: Candidate) -> Evidence | None:
    isins, cusips, figis = cand.trusted_ids()
    if conflicts(ident, isins, cusips):
        return None
    if ident.isin_reported and ident.isins & isins:
        return Evidence.ISIN
    if ident.cusips & cusips or (ident.isins & isins):
        return Evidence.CUSIP  # the same CUSIP, or the ISIN a CUSIP implies
    if ident.figi and ident.figi in figis:
        return Evidence.FIGI
    return None


def heuristic_evidence(inst: Instrument, instrument_id: uuid.UUID | None, ident: Identity,
                       cand: Candidate) -> Evidence | None:
    others = [m for m in cand.members if m.instrument_id != instrument_id]
    if any(m.instrument.broker == inst.broker for m in others):
        return None  # the same broker already told this instrument apart from the candidate's
    all_isins, all_cusips, _ = cand.all_ids()
    if conflicts(ident, all_isins, all_cusips) or not ident.symbol:
        return None
    same_ccy = [m.instrument for m in others if (m.instrument.currency or "").upper() == ident.currency]
    listed = {x for x in (normalise_exchange(mi.exchange) for mi in same_ccy) if x}
    if ident.exchange and listed - {ident.exchange}:
        return None  # it already holds this currency's listing on another exchange: another instrument
    best: Evidence | None = None
    for mi in same_ccy:
        if normalise_symbol(mi.symbol) != ident.symbol or str(mi.asset_class) != ident.asset_class:
            continue
        if ident.exchange and normalise_exchange(mi.exchange) == ident.exchange:
            return Evidence.SYMBOL_EXCHANGE
        best = Evidence.SYMBOL
    return best


def decide(inst: Instrument, candidates: Sequence[Candidate], instrument_id: uuid.UUID | None = None) -> Decision:
    """The global instrument ``inst`` should map to among ``candidates`` (strongest evidence, then oldest)."""
    ordered = sorted(candidates, key=lambda c: (c.created_at, str(c.global_id)))
    if inst.asset_class == AssetClass.CASH:
        for cand in ordered:
            if cand.asset_class == AssetClass.CASH and (cand.currency or "").upper() == inst.currency.upper():
                return Decision(cand.global_id, Evidence.CASH)
        return Decision(None, Evidence.CASH)
    ident = identity_of(inst)
    by_id = [(ev, c) for c in ordered if (ev := identifier_evidence(ident, c)) is not None]
    if by_id:
        ev, cand = min(by_id, key=lambda x: _ID_RANK[x[0]])  # min() keeps the oldest among equals
        return Decision(cand.global_id, ev)
    by_symbol = [(ev, c) for c in ordered if (ev := heuristic_evidence(inst, instrument_id, ident, c)) is not None]
    if by_symbol:
        top = max(ev.strength for ev, _ in by_symbol)
        best = [(ev, c) for ev, c in by_symbol if ev.strength == top]
        if len(best) == 1:
            return Decision(best[0][1].global_id, best[0][0])
    return Decision(None, Evidence.NEW_IDENTIFIED if ident.identified else Evidence.NEW)


def identifiers_to_fill(inst: Instrument) -> dict[str, str]:
    """The valid identifiers of ``inst`` a global instrument may learn from it (ISIN, CUSIP, FIGI)."""
    ident = identity_of(inst)
    out: dict[str, str] = {}
    if ident.isin_reported:
        out["isin"] = next(iter(ident.isins))
    if len(ident.cusips) == 1:
        out["cusip"] = next(iter(ident.cusips))
    if ident.figi:
        out["figi"] = ident.figi
    return out


def display_name(inst: Instrument) -> str:
    if inst.asset_class == AssetClass.CASH:
        return f"{inst.currency} cash"
    return (inst.name or "").strip() or clean(inst.symbol) or inst.broker_instrument_id
