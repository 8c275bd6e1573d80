"""Returns arithmetic: TWR (chain-linked Modified Dietz), MWR (XIRR), gain, periods, portfolio series, benchmark.

Pure: no I/O. Money is ``Decimal``; the definitions are in docs/returns.md.
"""

from portfolio_dashboard.domain.returns.benchmark import (
    BROKER_TOLERANCE_PP,
    IBKR_STATEMENT_ZONE,
    BrokerComparison,
    benchmark_cumulative,
    benchmark_return,
    compare_with_broker,
    flex_twr_fraction,
)
from portfolio_dashboard.domain.returns.core import ReturnUndefinedError, annualise, mwr, twr
from portfolio_dashboard.domain.returns.periods import PERIOD_NAMES, custom_period, resolve_period, tax_year_start
from portfolio_dashboard.domain.returns.portfolio import (
    ScopeReturns,
    combine_accounts,
    combine_columns,
    scope_returns,
)
from portfolio_dashboard.domain.returns.series import (
    DEFAULT_MAX_GAP,
    FLOWS_UNKNOWN,
    MonthlyReturn,
    ReturnSeries,
    compute_returns,
    last_per_day,
    monthly_returns,
)
from portfolio_dashboard.domain.returns.types import (
    EXTERNAL_KINDS,
    AccountSeries,
    ExternalFlow,
    ReturnResult,
    SeriesColumns,
    Valuation,
    external_flows,
    is_external,
)

__all__ = [
    "BROKER_TOLERANCE_PP",
    "DEFAULT_MAX_GAP",
    "EXTERNAL_KINDS",
    "FLOWS_UNKNOWN",
    "IBKR_STATEMENT_ZONE",
    "PERIOD_NAMES",
    "AccountSeries",
    "BrokerComparison",
    "ExternalFlow",
    "MonthlyReturn",
    "ReturnResult",
    "ReturnSeries",
    "ReturnUndefinedError",
    "ScopeReturns",
    "SeriesColumns",
    "Valuation",
    "annualise",
    "benchmark_cumulative",
    "benchmark_return",
    "combine_accounts",
    "combine_columns",
    "compare_with_broker",
    "compute_returns",
    "custom_period",
    "external_flows",
    "flex_twr_fraction",
    "is_external",
    "last_per_day",
    "monthly_returns",
    "mwr",
    "resolve_period",
    "scope_returns",
    "tax_year_start",
    "twr",
]
