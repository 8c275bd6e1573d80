"""A tax year's capital gains in the shape of the Self Assessment capital gains summary, and its JSON form.

Rounding: the matching carries money at 50 significant digits; here each disposal's proceeds, costs and
match costs are rounded to the penny (half up), its gain is the difference of the rounded figures, and the
year's totals add the rounded figures, so the report adds up exactly as printed.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from portfolio_dashboard.domain.cgt.lineage import ReviewItem
from portfolio_dashboard.domain.cgt.results import Computation, Disposal, Match, Pool, TradeRef
from portfolio_dashboard.domain.cgt.tax_years import RATE_CHANGE_2024, TaxYear

PENNY = Decimal("0.01")
ZERO = Decimal(0)


def pennies(amount: Decimal) -> Decimal:
    return amount.quantize(PENNY, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class GainsSplit:
    """Gains and losses of the disposals in part of a year (2024-25: before and from 30 October 2024)."""

    gains_gbp: Decimal
    losses_gbp: Decimal

    @property
    def net_gain_gbp(self) -> Decimal:
        return self.gains_gbp - self.losses_gbp


@dataclass(frozen=True, slots=True)
class YearTotals:
    """The year's figures over its computed disposals (incomplete ones are counted apart)."""

    tax_year: TaxYear
    disposals: int
    proceeds_gbp: Decimal
    allowable_costs_gbp: Decimal
    gains_gbp: Decimal
    losses_gbp: Decimal
    annual_exempt_amount_gbp: Decimal | None
    losses_brought_forward_gbp: Decimal
    losses_used_gbp: Decimal
    taxable_gain_gbp: Decimal | None
    incomplete_disposals: int
    all_proceeds_gbp: Decimal  # including incomplete disposals: the reporting threshold looks at all of them
    reporting_threshold_gbp: Decimal | None
    before_rate_change: GainsSplit | None
    from_rate_change: GainsSplit | None

    @property
    def net_gain_gbp(self) -> Decimal:
        return self.gains_gbp - self.losses_gbp

    @property
    def losses_carried_forward_gbp(self) -> Decimal:
        """Brought-forward losses not used, plus this year's losses not absorbed by its gains."""
        return self.losses_brought_forward_gbp - self.losses_used_gbp + max(ZERO, -self.net_gain_gbp)

    @property
    def proceeds_over_reporting_threshold(self) -> bool:
        threshold = self.reporting_threshold_gbp
        return threshold is not None and self.all_proceeds_gbp > threshold


def disposals_in(computation: Computation, year: TaxYear) -> tuple[Disposal, ...]:
    """The year's disposals (``computation.disposals`` is in date order, so a slice)."""
    disposals = computation.disposals
    first = bisect_left(disposals, year.start, key=lambda disposal: disposal.day)
    last = bisect_right(disposals, year.end, key=lambda disposal: disposal.day)
    return disposals[first:last]


def _split(disposals: list[Disposal]) -> GainsSplit:
    gains = [rounded_gain(disposal) for disposal in disposals]
    return GainsSplit(
        sum((gain for gain in gains if gain is not None and gain > 0), ZERO),
        sum((-gain for gain in gains if gain is not None and gain < 0), ZERO),
    )


def rounded_gain(disposal: Disposal) -> Decimal | None:
    allowable = disposal.allowable_costs_gbp
    return None if allowable is None else pennies(disposal.proceeds_gbp) - pennies(allowable)


def year_totals(computation: Computation, year: TaxYear, losses_brought_forward: Decimal = ZERO) -> YearTotals:
    """SA-shaped totals; brought-forward losses only bring the net gain down to the exempt amount (S2A)."""
    if losses_brought_forward < 0:
        raise ValueError("losses brought forward are stated as a positive amount")
    disposals = disposals_in(computation, year)
    computed = [disposal for disposal in disposals if disposal.complete]
    whole = _split(computed)
    net = whole.net_gain_gbp
    aea = year.annual_exempt_amount
    if aea is None:
        used, taxable = ZERO, None
    else:
        used = min(losses_brought_forward, max(ZERO, net - aea))
        taxable = max(ZERO, net - aea - used)
    before = from_ = None
    if year.has_rate_change:
        before = _split([disposal for disposal in computed if disposal.day < RATE_CHANGE_2024])
        from_ = _split([disposal for disposal in computed if disposal.day >= RATE_CHANGE_2024])
    return YearTotals(
        tax_year=year,
        disposals=len(computed),
        proceeds_gbp=sum((pennies(disposal.proceeds_gbp) for disposal in computed), ZERO),
        allowable_costs_gbp=sum((pennies(disposal.allowable_costs_gbp or ZERO) for disposal in computed), ZERO),
        gains_gbp=whole.gains_gbp,
        losses_gbp=whole.losses_gbp,
        annual_exempt_amount_gbp=aea,
        losses_brought_forward_gbp=losses_brought_forward,
        losses_used_gbp=used,
        taxable_gain_gbp=taxable,
        incomplete_disposals=len(disposals) - len(computed),
        all_proceeds_gbp=sum((pennies(disposal.proceeds_gbp) for disposal in disposals), ZERO),
        reporting_threshold_gbp=year.reporting_threshold,
        before_rate_change=before,
        from_rate_change=from_,
    )


def review_for(computation: Computation, year: TaxYear) -> tuple[ReviewItem, ...]:
    """Review items dated in the year, and earlier ones on a holding with a disposal in the year."""
    touched: set[str] = set()
    for disposal in disposals_in(computation, year):
        lineage = computation.lineages[disposal.lineage]
        touched.add(lineage.first.instrument_id)
        touched.update(security.instrument_id for _day, security in lineage.names)
    return tuple(
        item
        for item in computation.review
        if year.contains(item.day) or (item.day < year.start and item.security.instrument_id in touched)
    )


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else format(pennies(amount), "f")


def _trade(ref: TradeRef) -> dict[str, object]:
    return {
        "broker": ref.broker,
        "account": ref.account_id,
        "trade_id": ref.trade_id,
        "raw_payload_hash": ref.raw_payload_hash,
        "side": ref.side.value,
        "quantity": format(ref.quantity, "f"),
    }


def _match(match: Match) -> dict[str, object]:
    return {
        "rule": match.rule.value,
        "quantity": format(match.quantity, "f"),
        "cost_gbp": _money(match.cost_gbp),
        "acquired": None if match.acquired is None else match.acquired.isoformat(),
        "trades": [_trade(ref) for ref in match.trades],
    }


def disposal_dict(disposal: Disposal) -> dict[str, object]:
    """One disposal; ``cost_gbp`` is the allowable costs (acquisition cost plus costs of disposal)."""
    return {
        "date": disposal.day.isoformat(),
        "symbol": disposal.security.symbol,
        "isin": disposal.security.isin,
        "quantity": format(disposal.quantity, "f"),
        "proceeds_gbp": _money(disposal.proceeds_gbp),
        "disposal_costs_gbp": _money(disposal.disposal_costs_gbp),
        "acquisition_cost_gbp": _money(disposal.acquisition_cost_gbp),
        "cost_gbp": _money(disposal.allowable_costs_gbp),
        "gain_gbp": _money(rounded_gain(disposal)),
        "complete": disposal.complete,
        "unmatched_quantity": format(disposal.unmatched_quantity, "f"),
        "note": disposal.note,
        "matches": [_match(match) for match in disposal.matches],
        "trades": [_trade(ref) for ref in disposal.trades],
    }


def _pool(pool: Pool) -> dict[str, object]:
    return {
        "symbol": pool.security.symbol,
        "isin": pool.security.isin,
        "quantity": format(pool.quantity, "f"),
        "cost_gbp": _money(pool.cost_gbp) if pool.known else None,
        "complete": pool.known,
    }


def _review(item: ReviewItem) -> dict[str, object]:
    return {
        "date": item.day.isoformat(),
        "symbol": item.security.symbol,
        "isin": item.security.isin,
        "reason": item.reason,
    }


def totals_dict(totals: YearTotals) -> dict[str, object]:
    result: dict[str, object] = {
        "disposals": totals.disposals,
        "proceeds_gbp": _money(totals.proceeds_gbp),
        "allowable_costs_gbp": _money(totals.allowable_costs_gbp),
        "gains_gbp": _money(totals.gains_gbp),
        "losses_gbp": _money(totals.losses_gbp),
        "net_gain_gbp": _money(totals.net_gain_gbp),
        "annual_exempt_amount_gbp": _money(totals.annual_exempt_amount_gbp),
        "losses_brought_forward_gbp": _money(totals.losses_brought_forward_gbp),
        "losses_used_gbp": _money(totals.losses_used_gbp),
        "losses_carried_forward_gbp": _money(totals.losses_carried_forward_gbp),
        "taxable_gain_gbp": _money(totals.taxable_gain_gbp),
        "incomplete_disposals": totals.incomplete_disposals,
        "reporting_threshold_gbp": _money(totals.reporting_threshold_gbp),
        "proceeds_over_reporting_threshold": totals.proceeds_over_reporting_threshold,
    }
    if totals.before_rate_change is not None and totals.from_rate_change is not None:
        for name, part in (
            ("before_2024_10_30", totals.before_rate_change),
            ("from_2024_10_30", totals.from_rate_change),
        ):
            result[name] = {
                "gains_gbp": _money(part.gains_gbp),
                "losses_gbp": _money(part.losses_gbp),
                "net_gain_gbp": _money(part.net_gain_gbp),
            }
    return result


def report_dict(
    computation: Computation, year: TaxYear, *, losses_brought_forward: Decimal = ZERO
) -> dict[str, object]:
    """The ``cgt --json`` document: money as exact decimal strings (pence), dates ISO, pools at year end."""
    totals = year_totals(computation, year, losses_brought_forward)
    review = [_review(item) for item in review_for(computation, year)]
    if totals.annual_exempt_amount_gbp is None:
        review.append(
            {"date": None, "symbol": None, "isin": None, "reason": f"annual exempt amount for {year} not in the table"}
        )
    disposals = disposals_in(computation, year)
    return {
        "tax_year": year.label,
        "complete": not review and all(disposal.complete for disposal in disposals),
        "needs_review": review,
        "disposals": [disposal_dict(disposal) for disposal in disposals],
        "totals": totals_dict(totals),
        "pools": [_pool(pool) for pool in computation.pools_at(year.end)],
        "excluded_sheltered_trades": computation.excluded_sheltered,
    }
