"""'What if I sell N of X today at price P': the sale's effect on the year's gain and exempt amount.

The estimate adds the hypothetical sale to the real history and recomputes, so it is matched exactly as a
real sale would be (with today's purchases under the same-day rule, then the pool). It cannot know about
purchases in the next 30 days, which would take priority over the pool under TCGA92/S106A.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from portfolio_dashboard.domain.cgt.matching import compute
from portfolio_dashboard.domain.cgt.model import (
    AccountRef,
    CgtEvent,
    OpeningPool,
    Reorganisation,
    Security,
    Side,
    Split,
)
from portfolio_dashboard.domain.cgt.report import ZERO, pennies, year_totals
from portfolio_dashboard.domain.cgt.results import Disposal
from portfolio_dashboard.domain.cgt.tax_years import TaxYear, tax_year_of

WHAT_IF_ACCOUNT = AccountRef("what-if", "what-if", "GIA")
WHAT_IF_TRADE_ID = "what-if"


@dataclass(frozen=True, slots=True)
class SaleEstimate:
    tax_year: TaxYear
    security: Security
    quantity: Decimal
    proceeds_gbp: Decimal
    costs_gbp: Decimal
    gain_gbp: Decimal | None  # the change in the year's net gain; None when the sale's cost is unknown
    net_gain_before_gbp: Decimal
    exempt_amount_remaining_gbp: Decimal | None  # before this sale
    taxable_gain_before_gbp: Decimal | None
    taxable_gain_after_gbp: Decimal | None
    disposal: Disposal | None  # the day's disposal of the security including this sale, with its matches

    @property
    def additional_taxable_gain_gbp(self) -> Decimal | None:
        if self.taxable_gain_before_gbp is None or self.taxable_gain_after_gbp is None or self.gain_gbp is None:
            return None
        return self.taxable_gain_after_gbp - self.taxable_gain_before_gbp


def estimate_sale(
    events: Iterable[CgtEvent],
    *,
    security: Security,
    quantity: Decimal,
    price_gbp: Decimal,
    on: date,
    costs_gbp: Decimal = ZERO,
    splits: Iterable[Split] = (),
    reorganisations: Iterable[Reorganisation] = (),
    opening_pools: Iterable[OpeningPool] = (),
    losses_brought_forward: Decimal = ZERO,
) -> SaleEstimate:
    """The effect of selling ``quantity`` of ``security`` at ``price_gbp`` each on ``on``."""
    history = list(events)
    splits, reorganisations, opening_pools = list(splits), list(reorganisations), list(opening_pools)
    year = tax_year_of(on)
    before = year_totals(
        compute(history, splits=splits, reorganisations=reorganisations, opening_pools=opening_pools),
        year,
        losses_brought_forward,
    )
    sale = CgtEvent(
        security=security,
        account=WHAT_IF_ACCOUNT,
        side=Side.SELL,
        trade_date=on,
        quantity=quantity,
        consideration_gbp=quantity * price_gbp,
        costs_gbp=costs_gbp,
        trade_id=WHAT_IF_TRADE_ID,
    )
    computation = compute([*history, sale], splits=splits, reorganisations=reorganisations, opening_pools=opening_pools)
    after = year_totals(computation, year, losses_brought_forward)
    disposal = next(
        (
            item
            for item in computation.disposals
            if item.day == on
            and any(ref.trade_id == WHAT_IF_TRADE_ID and ref.broker == "what-if" for ref in item.trades)
        ),
        None,
    )
    complete = disposal is not None and disposal.complete
    aea = year.annual_exempt_amount
    return SaleEstimate(
        tax_year=year,
        security=security,
        quantity=quantity,
        proceeds_gbp=pennies(quantity * price_gbp),
        costs_gbp=pennies(costs_gbp),
        gain_gbp=after.net_gain_gbp - before.net_gain_gbp if complete else None,
        net_gain_before_gbp=before.net_gain_gbp,
        exempt_amount_remaining_gbp=None if aea is None else max(ZERO, aea - max(ZERO, before.net_gain_gbp)),
        taxable_gain_before_gbp=before.taxable_gain_gbp,
        taxable_gain_after_gbp=after.taxable_gain_gbp if complete else None,
        disposal=disposal,
    )
