"""Holdings followed through corporate actions: one lineage per security and its share-for-share successors.

Splits, consolidations and share-for-share exchanges change the number of shares but not the asset
(TCGA92/S127): quantities are brought to one unit of account ("base units", the units before the first
change) so that a disposal before a split can be matched with an acquisition after it, and the pool crosses
the change with its cost intact. Quantities are ``Fraction`` so that a 1-for-3 consolidation stays exact.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction

from portfolio_dashboard.domain.cgt.model import Reorganisation, ReorganisationKind, Security, Split


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """Something the engine did not compute and the user must look at."""

    security: Security
    day: date
    reason: str


@dataclass(slots=True)
class Lineage:
    """A holding across its corporate actions; ``key`` is the instrument id it started as."""

    key: str
    first: Security
    # (effective date, multiplier): from that date each share counts as ``multiplier`` shares.
    changes: list[tuple[date, Fraction]] = field(default_factory=list)
    # (effective date, security current from then) for the pool's name after a share-for-share exchange.
    names: list[tuple[date, Security]] = field(default_factory=list)
    # Dates from which the pool's cost is unknown (unhandled reorganisations).
    unknown_from: list[tuple[date, str]] = field(default_factory=list)
    _days: list[date] = field(default_factory=list)
    _factors: list[Fraction] = field(default_factory=list)

    def freeze(self) -> None:
        """Sort the changes and precompute the cumulative factor per change date."""
        self.changes.sort(key=lambda change: change[0])
        self.names.sort(key=lambda name: name[0])
        factor = Fraction(1)
        self._days, self._factors = [], []
        for day, multiplier in self.changes:
            factor *= multiplier
            self._days.append(day)
            self._factors.append(factor)

    def factor(self, day: date) -> Fraction:
        """Shares on ``day`` per base unit (changes dated ``day`` already apply: the ex-date convention)."""
        index = bisect_right(self._days, day)
        return Fraction(1) if index == 0 else self._factors[index - 1]

    def to_base(self, quantity: Decimal, day: date) -> Fraction:
        base = Fraction(quantity)
        return base / self.factor(day) if self._days else base

    def from_base(self, quantity: Fraction, day: date) -> Fraction:
        return quantity * self.factor(day) if self._days else quantity

    def name_on(self, day: date) -> Security:
        current = self.first
        for effective, security in self.names:
            if effective <= day:
                current = security
        return current


@dataclass(frozen=True, slots=True)
class Lineages:
    by_instrument: dict[str, Lineage]
    review: tuple[ReviewItem, ...]

    def of(self, security: Security) -> Lineage:
        lineage = self.by_instrument.get(security.instrument_id)
        if lineage is None:  # a security with no corporate action: a lineage of its own
            lineage = Lineage(security.instrument_id, security)
            lineage.freeze()
            self.by_instrument[security.instrument_id] = lineage
        return lineage


def build_lineages(
    securities: Iterable[Security], splits: Iterable[Split], reorganisations: Iterable[Reorganisation]
) -> Lineages:
    """Group securities linked by share-for-share exchanges and attach every unit change to its lineage."""
    known: dict[str, Security] = {}
    for security in securities:
        known.setdefault(security.instrument_id, security)
    parent: dict[str, str] = {}

    def root(instrument_id: str) -> str:
        while parent.get(instrument_id, instrument_id) != instrument_id:
            instrument_id = parent[instrument_id]
        return instrument_id

    ordered = sorted(reorganisations, key=lambda reorg: reorg.effective)
    for reorg in ordered:
        if reorg.kind is ReorganisationKind.SHARE_FOR_SHARE and reorg.new_security is not None:
            known.setdefault(reorg.new_security.instrument_id, reorg.new_security)
            parent[root(reorg.new_security.instrument_id)] = root(reorg.instrument_id)
    lineages: dict[str, Lineage] = {}
    for instrument_id, security in known.items():
        key = root(instrument_id)
        if key not in lineages:
            lineages[key] = Lineage(key, known.get(key, security))
        lineages[instrument_id] = lineages[key]
    review: list[ReviewItem] = []

    def lineage_of(instrument_id: str) -> Lineage:
        key = root(instrument_id)
        if key not in lineages:
            placeholder = Security(instrument_id, instrument_id)
            lineages[key] = Lineage(key, known.get(key, placeholder))
        lineages.setdefault(instrument_id, lineages[key])
        return lineages[key]

    for split in splits:
        lineage_of(split.instrument_id).changes.append((split.effective, Fraction(split.new) / Fraction(split.old)))
    for reorg in ordered:
        lineage = lineage_of(reorg.instrument_id)
        subject = known.get(reorg.instrument_id, lineage.first)
        if reorg.kind is ReorganisationKind.SHARE_FOR_SHARE and reorg.new_security is not None and reorg.ratio > 0:
            lineage.changes.append((reorg.effective, Fraction(reorg.ratio)))
            lineage.names.append((reorg.effective, reorg.new_security))
            continue
        reason = f"corporate action not computed ({reorg.kind.value}): {reorg.description}"
        lineage.unknown_from.append((reorg.effective, reason))
        review.append(ReviewItem(subject, reorg.effective, reason))
    for lineage in {id(item): item for item in lineages.values()}.values():
        lineage.freeze()
    return Lineages(lineages, tuple(review))
