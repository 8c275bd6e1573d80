"""Money and securities moving into or out of an account, as the broker states it (never inferred).

A :class:`CashFlow` is one broker-reported movement: a deposit, a dividend, a tax withheld, a fee, a security
transferred in. ``amount_local`` is signed from the account's point of view — money INTO the account is
positive — so the sum of an account's flows over a period is its net money in (including income). Each
flow carries the broker's own id (``broker_flow_id``) so re-capturing the same period stores nothing new.

The broker's own statement of a period (IBKR's ``ChangeInNAV``), its corporate actions and its announced
but unpaid dividends are kept beside the flows: the first cross-checks ours, the others feed later views.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from portfolio_dashboard.domain.instruments import Instrument


class FlowKind(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    TRANSFER_IN = "transfer_in"
    TRANSFER_OUT = "transfer_out"
    DIVIDEND = "dividend"
    PAYMENT_IN_LIEU = "payment_in_lieu"
    INTEREST = "interest"
    WITHHOLDING_TAX = "withholding_tax"
    FEE = "fee"
    FX_CONVERSION = "fx_conversion"
    OTHER = "other"


# Kinds that are the owner's money crossing the account boundary (not income or costs of investing).
CONTRIBUTION_KINDS = frozenset({FlowKind.DEPOSIT, FlowKind.WITHDRAWAL, FlowKind.TRANSFER_IN, FlowKind.TRANSFER_OUT})
INCOME_KINDS = frozenset({FlowKind.DIVIDEND, FlowKind.PAYMENT_IN_LIEU, FlowKind.INTEREST})


@dataclass(frozen=True, slots=True)
class CashFlow:
    broker: str
    broker_account_id: str
    broker_flow_id: str  # stable and unique per broker + account: the idempotency key
    kind: FlowKind
    flow_ts: datetime  # timezone-aware
    currency: str
    amount_local: Decimal  # signed: money INTO the account positive
    instrument: Instrument | None = None
    fx_rate_to_base: Decimal | None = None  # the broker's own rate to the account's base currency
    quantity: Decimal | None = None  # in-kind transfers: the number of units moved (signed like amount)
    description: str | None = None

    def __post_init__(self) -> None:
        if self.flow_ts.tzinfo is None:
            raise ValueError("CashFlow.flow_ts must be timezone-aware")
        if not self.broker_flow_id:
            raise ValueError("CashFlow.broker_flow_id must not be empty")

    @property
    def amount_base(self) -> Decimal | None:
        """The amount in the account's base currency at the broker's rate, when the broker gave one."""
        return None if self.fx_rate_to_base is None else self.amount_local * self.fx_rate_to_base


@dataclass(frozen=True, slots=True)
class CorporateAction:
    """A split, merger, spin-off... as the broker reports it; stored now, interpreted (tax rules) later."""

    broker: str
    broker_account_id: str
    broker_action_id: str  # IBKR transactionID (else actionID): unique per account
    action_ts: datetime  # timezone-aware
    action_type: str | None  # the broker's code, e.g. IBKR "FS" forward split, "TC" merger
    instrument: Instrument | None
    currency: str | None
    quantity: Decimal | None = None
    amount: Decimal | None = None
    proceeds: Decimal | None = None
    value: Decimal | None = None
    fx_rate_to_base: Decimal | None = None
    group_id: str | None = None  # IBKR actionID: every row of one event shares it
    report_date: date | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class NavChange:
    """The broker's own statement of how an account's value changed over a period, in its base currency.

    Field names follow IBKR's ``ChangeInNAV``; every figure is optional because a query may omit any.
    """

    broker: str
    broker_account_id: str
    from_date: date
    to_date: date
    currency: str | None  # the base currency the figures are in, when stated
    starting_value: Decimal | None = None
    ending_value: Decimal | None = None
    mtm: Decimal | None = None
    realized: Decimal | None = None
    change_in_unrealized: Decimal | None = None
    deposits_withdrawals: Decimal | None = None
    internal_cash_transfers: Decimal | None = None
    asset_transfers: Decimal | None = None
    dividends: Decimal | None = None
    withholding_tax: Decimal | None = None
    change_in_dividend_accruals: Decimal | None = None
    interest: Decimal | None = None
    change_in_interest_accruals: Decimal | None = None
    advisor_fees: Decimal | None = None
    broker_fees: Decimal | None = None
    other_fees: Decimal | None = None
    commissions: Decimal | None = None
    fx_translation: Decimal | None = None
    net_fx_trading: Decimal | None = None
    corporate_action_proceeds: Decimal | None = None
    other: Decimal | None = None
    twr: Decimal | None = None  # time-weighted return of the period, in percent as IBKR states it


@dataclass(frozen=True, slots=True)
class DividendAccrual:
    """A dividend announced (past its ex-date) but not yet paid: income the account is owed."""

    broker: str
    broker_account_id: str
    instrument: Instrument
    currency: str
    ex_date: date | None
    pay_date: date | None
    quantity: Decimal | None
    gross_rate: Decimal | None
    gross_amount: Decimal | None
    tax: Decimal | None
    fee: Decimal | None
    net_amount: Decimal | None
    fx_rate_to_base: Decimal | None = None

    @property
    def key(self) -> str:
        """Stable id: one accrual per account, security, ex-date and pay date."""
        return f"{self.broker_account_id}|{self.instrument.broker_instrument_id}|{self.ex_date}|{self.pay_date}"
