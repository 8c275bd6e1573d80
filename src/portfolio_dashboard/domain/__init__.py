"""The canonical model: pure values, no I/O.

Everything a broker says is translated into these types by a broker's ``parse`` half; storage writes them.
Money, quantities, prices and rates are ``Decimal`` throughout, never ``float``.
"""

from portfolio_dashboard.domain.accounts import Account
from portfolio_dashboard.domain.coverage import NO_LOSS, CoverageCounter, CoverageLine, skip_warnings, unbalanced
from portfolio_dashboard.domain.currency import normalise_currency
from portfolio_dashboard.domain.flows import CashFlow, CorporateAction, DividendAccrual, FlowKind, NavChange
from portfolio_dashboard.domain.fx import FxRate
from portfolio_dashboard.domain.instruments import AssetClass, Instrument, cash_instrument
from portfolio_dashboard.domain.positions import CashBalance, Position, add_lot
from portfolio_dashboard.domain.raw import RawResponse
from portfolio_dashboard.domain.runs import (
    RunResult,
    RunStatus,
    SourceOutcome,
    SourceStatus,
    TriggerContext,
    TriggerType,
)
from portfolio_dashboard.domain.snapshots import AccountSnapshot, ParseResult, snapshot_key
from portfolio_dashboard.domain.trades import FxConversion, Trade, TradeStatus

__all__ = [
    "NO_LOSS",
    "Account",
    "AccountSnapshot",
    "AssetClass",
    "CashBalance",
    "CashFlow",
    "CorporateAction",
    "CoverageCounter",
    "CoverageLine",
    "DividendAccrual",
    "FlowKind",
    "FxConversion",
    "FxRate",
    "Instrument",
    "NavChange",
    "ParseResult",
    "Position",
    "RawResponse",
    "RunResult",
    "RunStatus",
    "SourceOutcome",
    "SourceStatus",
    "Trade",
    "TradeStatus",
    "TriggerContext",
    "TriggerType",
    "add_lot",
    "cash_instrument",
    "normalise_currency",
    "skip_warnings",
    "snapshot_key",
    "unbalanced",
]
