"""HMRC share identification for capital gains tax (disposals from 6 April 2008).

For each holding, across every taxable account at every broker (CG51550+):
1. Same day: disposals of one day are one disposal, acquisitions of one day one acquisition (TCGA92/S105(1)(a)),
   and the disposal is first identified with that day's acquisition (S105(1)(b)).
2. Thirty days: then with acquisitions in the 30 days after the disposal, earliest first (S106A(5)). This
   takes priority over everything but the same-day rule, so every day's same-day match is made first
   (CG51560), then disposals claim later acquisitions in date order.
3. Section 104 holding: the rest comes out of the pool at average cost (S104); acquisitions not identified by
   rules 1 and 2 join the pool on their day (S105(3), S106A(5ZA)).
"""

from __future__ import annotations

import decimal
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from portfolio_dashboard.domain.cgt.lineage import Lineage, Lineages, ReviewItem, build_lineages
from portfolio_dashboard.domain.cgt.model import CgtEvent, OpeningPool, Reorganisation, Side, Split
from portfolio_dashboard.domain.cgt.results import (
    WORKING_PRECISION,
    Computation,
    Disposal,
    Match,
    PoolPoint,
    Rule,
    TradeRef,
    fraction_to_decimal,
)

BED_AND_BREAKFAST_DAYS = 30
_BEFORE_OPENING = "disposal on or before the stated opening pool's date: not computed"


def _ref(event: CgtEvent) -> TradeRef:
    return TradeRef(
        event.account.broker,
        event.account.account_id,
        event.trade_id,
        event.raw_payload_hash,
        event.side,
        event.quantity,
    )


def _portion(amount: Decimal, part: Fraction, whole: Fraction) -> Decimal:
    """``amount x part / whole`` at working precision; the whole amount when part is the whole."""
    if part == whole:
        return amount
    ratio = part / whole
    return amount * Decimal(ratio.numerator) / Decimal(ratio.denominator)


@dataclass(slots=True)
class _Acquisition:
    day: date
    quantity: Fraction = Fraction(0)
    cost: Decimal = Decimal(0)
    remaining: Fraction = Fraction(0)
    remaining_cost: Decimal = Decimal(0)
    trades: list[TradeRef] = field(default_factory=list)

    def take(self, quantity: Fraction) -> Decimal:
        """Identify ``quantity`` with this acquisition; the cost that goes with it (exactly conserved)."""
        cost = _portion(self.remaining_cost, quantity, self.remaining)
        self.remaining -= quantity
        self.remaining_cost -= cost
        return cost


@dataclass(slots=True)
class _Disposal:
    day: date
    quantity: Fraction = Fraction(0)
    proceeds: Decimal = Decimal(0)
    costs: Decimal = Decimal(0)
    remaining: Fraction = Fraction(0)
    matches: list[tuple[Rule, Fraction, Decimal, date | None, tuple[TradeRef, ...]]] = field(default_factory=list)
    trades: list[TradeRef] = field(default_factory=list)
    events: list[CgtEvent] = field(default_factory=list)
    note: str | None = None


@dataclass(slots=True)
class _Holding:
    lineage: Lineage
    acquisitions: dict[date, _Acquisition] = field(default_factory=dict)
    disposals: dict[date, _Disposal] = field(default_factory=dict)
    opening: OpeningPool | None = None


def compute(
    events: Iterable[CgtEvent],
    *,
    splits: Iterable[Split] = (),
    reorganisations: Iterable[Reorganisation] = (),
    opening_pools: Iterable[OpeningPool] = (),
) -> Computation:
    """Identify every taxable disposal with acquisitions; pure and deterministic (inputs in any order)."""
    with decimal.localcontext() as context:
        context.prec = WORKING_PRECISION
        return _compute(list(events), list(splits), list(reorganisations), list(opening_pools))


def _compute(
    events: list[CgtEvent], splits: list[Split], reorganisations: list[Reorganisation], opening: list[OpeningPool]
) -> Computation:
    taxable = [event for event in events if event.account.taxable]
    securities = [event.security for event in taxable] + [pool.security for pool in opening]
    lineages = build_lineages(securities, splits, reorganisations)
    review: list[ReviewItem] = []
    holdings = _collect(taxable, opening, lineages, review)
    # A corporate action on a security never held in a taxable account (only in an ISA, say) needs no review.
    review.extend(item for item in lineages.review if lineages.of(item.security).key in holdings)
    disposals: list[Disposal] = []
    history: dict[str, tuple[PoolPoint, ...]] = {}
    for key, holding in holdings.items():
        _same_day(holding)
        _thirty_day(holding)
        history[key] = _section_104(holding, review)
        disposals.extend(_finish(holding))
    disposals.sort(key=lambda disposal: (disposal.day, disposal.security.symbol, disposal.lineage))
    review.sort(key=lambda item: (item.day, item.security.symbol))
    all_lineages = {lineage.key: lineage for lineage in lineages.by_instrument.values()}
    return Computation(tuple(disposals), all_lineages, history, tuple(review), len(events) - len(taxable))


def _collect(
    taxable: list[CgtEvent], opening: list[OpeningPool], lineages: Lineages, review: list[ReviewItem]
) -> dict[str, _Holding]:
    holdings: dict[str, _Holding] = {}

    def holding_of(lineage: Lineage) -> _Holding:
        if lineage.key not in holdings:
            holdings[lineage.key] = _Holding(lineage)
        return holdings[lineage.key]

    for pool in opening:
        holding = holding_of(lineages.of(pool.security))
        if holding.opening is not None:
            review.append(ReviewItem(pool.security, pool.as_of, "two opening pools stated; the later one is used"))
            if holding.opening.as_of > pool.as_of:
                continue
        holding.opening = pool
    for event in taxable:
        lineage = lineages.of(event.security)
        holding = holding_of(lineage)
        if holding.opening is not None and event.trade_date <= holding.opening.as_of:
            if event.side is Side.SELL:
                review.append(
                    ReviewItem(
                        event.security,
                        event.trade_date,
                        _BEFORE_OPENING,
                    )
                )
            continue
        quantity = lineage.to_base(event.quantity, event.trade_date)
        if event.side is Side.BUY:
            acquisition = holding.acquisitions.setdefault(event.trade_date, _Acquisition(event.trade_date))
            acquisition.quantity += quantity
            acquisition.cost += event.consideration_gbp + event.costs_gbp
            acquisition.trades.append(_ref(event))
        else:
            disposal = holding.disposals.setdefault(event.trade_date, _Disposal(event.trade_date))
            disposal.quantity += quantity
            disposal.proceeds += event.consideration_gbp
            disposal.costs += event.costs_gbp
            disposal.trades.append(_ref(event))
            disposal.events.append(event)
    for holding in holdings.values():
        for acquisition in holding.acquisitions.values():
            acquisition.remaining, acquisition.remaining_cost = acquisition.quantity, acquisition.cost
        for disposal in holding.disposals.values():
            disposal.remaining = disposal.quantity
    return holdings


def _same_day(holding: _Holding) -> None:
    for day, disposal in holding.disposals.items():
        acquisition = holding.acquisitions.get(day)
        if acquisition is None or acquisition.remaining == 0:
            continue
        quantity = min(disposal.remaining, acquisition.remaining)
        cost = acquisition.take(quantity)
        disposal.remaining -= quantity
        disposal.matches.append((Rule.SAME_DAY, quantity, cost, day, tuple(acquisition.trades)))


def _thirty_day(holding: _Holding) -> None:
    acquisition_days = sorted(holding.acquisitions)
    for day in sorted(holding.disposals):
        disposal = holding.disposals[day]
        window_end = day + timedelta(days=BED_AND_BREAKFAST_DAYS)
        for acquired in acquisition_days[bisect_right(acquisition_days, day) :]:
            if disposal.remaining == 0 or acquired > window_end:
                break
            acquisition = holding.acquisitions[acquired]
            if acquisition.remaining == 0:
                continue
            quantity = min(disposal.remaining, acquisition.remaining)
            cost = acquisition.take(quantity)
            disposal.remaining -= quantity
            disposal.matches.append((Rule.THIRTY_DAY, quantity, cost, acquired, tuple(acquisition.trades)))


def _section_104(holding: _Holding, review: list[ReviewItem]) -> tuple[PoolPoint, ...]:
    """Walk the days in order; acquisitions' remainders join the pool, disposals' remainders leave it."""
    lineage = holding.lineage
    quantity, cost, known = Fraction(0), Decimal(0), True
    points: list[PoolPoint] = []
    starts = date.min
    if holding.opening is not None:
        opening = holding.opening
        quantity = lineage.to_base(opening.quantity, opening.as_of)
        cost = opening.cost_gbp
        points.append(PoolPoint(opening.as_of, quantity, cost, known))
        starts = opening.as_of  # the stated pool already reflects anything before its date
    unknown = {day for day, _reason in lineage.unknown_from if day > starts}
    days = sorted(set(holding.acquisitions) | set(holding.disposals) | unknown)
    for day in days:
        if day in unknown:
            known = False  # the lineage builder has listed the corporate action for review
        disposal = holding.disposals.get(day)
        if disposal is not None and disposal.remaining > 0:
            if not known:
                disposal.note = "the Section 104 holding's cost is unknown (see the review list)"
                quantity = max(Fraction(0), quantity - disposal.remaining)
            elif disposal.remaining > quantity:
                disposal.note = "more shares sold than any known acquisition or opening pool: state an opening pool"
                review.append(ReviewItem(disposal.events[0].security, day, disposal.note))
                known = False
                quantity, cost = Fraction(0), Decimal(0)
            else:
                taken = _portion(cost, disposal.remaining, quantity)
                disposal.matches.append((Rule.S104, disposal.remaining, taken, None, ()))
                quantity -= disposal.remaining
                cost -= taken
                disposal.remaining = Fraction(0)
        acquisition = holding.acquisitions.get(day)
        if acquisition is not None and acquisition.remaining > 0:
            quantity += acquisition.remaining
            cost += acquisition.take(acquisition.remaining)
        points.append(PoolPoint(day, quantity, cost, known))
    return tuple(points)


def _finish(holding: _Holding) -> list[Disposal]:
    lineage = holding.lineage
    finished: list[Disposal] = []
    for day in sorted(holding.disposals):
        raw = holding.disposals[day]
        matches = tuple(
            Match(rule, fraction_to_decimal(lineage.from_base(quantity, day)), cost, acquired, trades)
            for rule, quantity, cost, acquired, trades in raw.matches
        )
        finished.append(
            Disposal(
                security=raw.events[0].security,
                lineage=lineage.key,
                day=day,
                quantity=fraction_to_decimal(lineage.from_base(raw.quantity, day)),
                proceeds_gbp=raw.proceeds,
                disposal_costs_gbp=raw.costs,
                matches=matches,
                unmatched_quantity=fraction_to_decimal(lineage.from_base(raw.remaining, day)),
                trades=tuple(raw.trades),
                note=raw.note,
            )
        )
    return finished
