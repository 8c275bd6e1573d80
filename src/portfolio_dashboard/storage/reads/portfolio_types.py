"""The rows the portfolio read queries return (``storage.reads.portfolio``). Amounts are Decimal."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class AccountInfo:
    broker: str
    broker_account_id: str
    name: str | None
    currency: str | None
    first_asof: datetime | None
    last_asof: datetime | None


@dataclass(frozen=True, slots=True)
class AccountValue:
    broker: str
    broker_account_id: str
    name: str | None
    account_currency: str | None
    asof_ts: datetime
    value_local: Decimal | None
    value_gbp: Decimal | None
    value: Decimal | None  # in the display currency
    previous_asof: datetime | None
    previous_value: Decimal | None  # the account's previous snapshot, display currency
    fx_complete: bool
    snapshot_id: uuid.UUID | None = None  # the stored snapshot the value comes from (traceability)


@dataclass(frozen=True, slots=True)
class BrokerValue:
    broker: str
    accounts: int
    value: Decimal | None


@dataclass(frozen=True, slots=True)
class Change:
    amount: Decimal
    pct: Decimal | None  # fraction (0.012 = 1.2 %); None when the earlier value is zero
    since: datetime | None  # the earlier point in time


@dataclass(frozen=True, slots=True)
class Summary:
    currency: str
    rate: Decimal | None  # base -> display currency at the newest snapshot; 1 for the base currency
    rate_missing: bool  # True when a non-base display currency has no stored rate (values are None then)
    total: Decimal | None
    total_gbp: Decimal | None
    asof: datetime | None  # the newest snapshot in scope (at or before ``at`` when one is given)
    oldest_asof: datetime | None  # the oldest "latest" snapshot (a stale account shows here)
    accounts_without_value: int
    change_day: Change | None
    change_snapshot: Change | None
    accounts: list[AccountValue]
    brokers: list[BrokerValue]
    at: datetime | None = None  # the time machine's moment; None for the latest view


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    day: date
    broker: str | None  # None when summed over accounts
    broker_account_id: str | None
    value_gbp: Decimal | None
    value: Decimal | None  # display currency, at the rate stored at or before the end of that day
    accounts: int
    accounts_without_value: int


@dataclass(frozen=True, slots=True)
class PositionLine:
    broker: str
    broker_account_id: str
    asof_ts: datetime
    instrument_id: uuid.UUID
    global_instrument_id: uuid.UUID
    symbol: str | None
    name: str | None
    asset_class: str | None
    currency: str | None
    quantity: Decimal
    price_local: Decimal | None
    value_local: Decimal
    value_gbp: Decimal | None
    value: Decimal | None  # display currency
    cost_basis: Decimal | None  # local currency
    pnl_local: Decimal | None  # broker-reported, else value - cost basis
    pnl_gbp: Decimal | None
    pnl_pct: Decimal | None  # fraction of cost basis
    weight: Decimal | None  # of the GBP value of everything in scope
    snapshot_id: uuid.UUID | None = None  # the stored snapshot the row comes from (traceability)


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    asof_ts: datetime
    broker: str
    broker_account_id: str
    symbol: str | None
    quantity: Decimal
    price_local: Decimal | None
    value_local: Decimal
    value_gbp: Decimal | None


@dataclass(frozen=True, slots=True)
class AllocationSlice:
    key: str
    label: str
    value_gbp: Decimal | None
    value: Decimal | None
    weight: Decimal | None
    holdings: int
    holdings_without_value: int
