"""UK capital gains tax on shares: HMRC share identification across taxable accounts, per tax year.

Pure functions over trades already valued in sterling. See docs/capital-gains.md for the rules applied.
"""

from portfolio_dashboard.domain.cgt.lineage import ReviewItem
from portfolio_dashboard.domain.cgt.matching import compute
from portfolio_dashboard.domain.cgt.model import (
    SHELTERED_WRAPPERS,
    AccountRef,
    CgtEvent,
    OpeningPool,
    Reorganisation,
    ReorganisationKind,
    Security,
    Side,
    Split,
)
from portfolio_dashboard.domain.cgt.report import GainsSplit, YearTotals, report_dict, year_totals
from portfolio_dashboard.domain.cgt.results import Computation, Disposal, Match, Pool, Rule, TradeRef
from portfolio_dashboard.domain.cgt.sterling import GbpRate, RateSource, choose_rate, event_from_trade, event_in_gbp
from portfolio_dashboard.domain.cgt.tax_years import TaxYear, parse_tax_year, tax_year_of
from portfolio_dashboard.domain.cgt.whatif import SaleEstimate, estimate_sale

__all__ = [
    "SHELTERED_WRAPPERS",
    "AccountRef",
    "CgtEvent",
    "Computation",
    "Disposal",
    "GainsSplit",
    "GbpRate",
    "Match",
    "OpeningPool",
    "Pool",
    "RateSource",
    "Reorganisation",
    "ReorganisationKind",
    "ReviewItem",
    "Rule",
    "SaleEstimate",
    "Security",
    "Side",
    "Split",
    "TaxYear",
    "TradeRef",
    "YearTotals",
    "choose_rate",
    "compute",
    "estimate_sale",
    "event_from_trade",
    "event_in_gbp",
    "parse_tax_year",
    "report_dict",
    "tax_year_of",
    "year_totals",
]
