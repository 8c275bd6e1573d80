"""A statement for a period: what was held at each end, what moved, what it earned and what was realised.

Pure data, no I/O. Every row carries the SHA-256 of the raw broker payload it was read from, so a reader can
trace any figure back to the stored response. Totals are never stored: each is a sum over the rows, so the
statement cannot disagree with itself ("the totals equal the sum of the rows" holds by construction).

Sign conventions follow the brokers' cash effect: a withdrawal or a fee is negative, a deposit positive;
withholding tax is the (negative or zero) amount withheld, so ``net = gross + withholding_tax``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

ZERO = Decimal(0)
IncomeKind = Literal["dividend", "interest"]
PERIOD_KINDS = ("tax-year", "calendar-year", "range")


@dataclass(frozen=True, slots=True)
class Period:
    """An inclusive date range with a human label ("Tax year 2025-26", "2025", "2025-01-01 to 2025-03-31")."""

    start: date
    end: date
    label: str
    kind: str = "range"  # one of PERIOD_KINDS

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")
        if self.kind not in PERIOD_KINDS:
            raise ValueError(f"unknown period kind {self.kind!r}")

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def period_for(
    *,
    tax_year: str | None = None,
    year: int | None = None,
    start: date | None = None,
    end: date | None = None,
) -> Period:
    """The period of a UK tax year ("2025-26": 6 Apr 2025 – 5 Apr 2026), a calendar year, or a range.

    Exactly one of ``tax_year``, ``year`` or the pair ``start``/``end`` must be given.
    """
    given = [tax_year is not None, year is not None, start is not None or end is not None]
    if sum(given) != 1:
        raise ValueError("give exactly one of tax_year, year, or start and end")
    if tax_year is not None:
        first = _parse_tax_year(tax_year)
        return Period(date(first, 4, 6), date(first + 1, 4, 5), f"Tax year {first}-{(first + 1) % 100:02d}", "tax-year")
    if year is not None:
        return Period(date(year, 1, 1), date(year, 12, 31), f"Calendar year {year}", "calendar-year")
    if start is None or end is None:
        raise ValueError("a range needs both start and end")
    return Period(start, end, f"{start.isoformat()} to {end.isoformat()}", "range")


def _parse_tax_year(text: str) -> int:
    """``"2025-26"`` (or ``"2025/26"``) -> 2025; the second half must be the year after the first."""
    parts = text.strip().replace("/", "-").split("-")
    if len(parts) != 2 or not (parts[0].isdigit() and parts[1].isdigit()) or len(parts[0]) != 4:
        raise ValueError(f"tax year must look like 2025-26, not {text!r}")
    first = int(parts[0])
    second = int(parts[1])
    if second not in (first + 1, (first + 1) % 100):
        raise ValueError(f"tax year {text!r}: the second year must follow the first")
    return first


def tax_year_of(day: date) -> str:
    """The UK tax year a date falls in: 5 Apr 2026 -> "2025-26", 6 Apr 2026 -> "2026-27"."""
    first = day.year if (day.month, day.day) >= (4, 6) else day.year - 1
    return f"{first}-{(first + 1) % 100:02d}"


@dataclass(frozen=True, slots=True)
class StatementAccount:
    broker: str
    account_id: str  # the broker's own number; rows refer to accounts by it
    wrapper: str  # "GIA", "ISA", "SIPP", ... as the user declared it
    currency: str  # the account's base currency

    def shown_id(self, masked: bool) -> str:
        """The id as printed: all but the last four characters hidden when ``masked``."""
        if not masked or len(self.account_id) <= 4:
            return self.account_id
        return "*" * (len(self.account_id) - 4) + self.account_id[-4:]


@dataclass(frozen=True, slots=True)
class FxUsed:
    """The rate that turned a local amount into GBP: GBP per one unit of ``currency``."""

    rate: Decimal
    provider: str  # "ecb", "ib", "identity" (GBP itself), ...
    on: date


@dataclass(frozen=True, slots=True)
class Holding:
    account_id: str
    security: str
    isin: str | None
    quantity: Decimal
    price: Decimal
    currency: str
    value_local: Decimal
    fx: FxUsed
    value_gbp: Decimal
    snapshot_id: str
    source_sha256: str


@dataclass(frozen=True, slots=True)
class Flow:
    account_id: str
    on: date
    kind: str  # "deposit", "withdrawal", "transfer_in", "transfer_out", "fee", ...
    currency: str
    amount_local: Decimal  # signed cash effect
    amount_gbp: Decimal
    description: str
    source_sha256: str


@dataclass(frozen=True, slots=True)
class IncomeRow:
    account_id: str
    on: date
    kind: IncomeKind
    security: str  # the paying security; for interest the cash currency, e.g. "GBP cash"
    isin: str | None
    currency: str
    gross_local: Decimal
    withholding_tax_local: Decimal  # negative or zero
    fx_rate: Decimal  # GBP per unit of currency on ``on``
    gross_gbp: Decimal
    withholding_tax_gbp: Decimal  # negative or zero
    source_sha256: str

    @property
    def net_local(self) -> Decimal:
        return self.gross_local + self.withholding_tax_local

    @property
    def net_gbp(self) -> Decimal:
        return self.gross_gbp + self.withholding_tax_gbp


@dataclass(frozen=True, slots=True)
class IncomeTotal:
    """Income summed over a group of rows (one security, one month, or the whole period), in GBP."""

    key: str
    gross_gbp: Decimal
    withholding_tax_gbp: Decimal
    rows: int

    @property
    def net_gbp(self) -> Decimal:
        return self.gross_gbp + self.withholding_tax_gbp


@dataclass(frozen=True, slots=True)
class RealisedGain:
    account_id: str
    on: date
    security: str
    isin: str | None
    quantity: Decimal  # quantity disposed of (positive)
    currency: str
    proceeds_local: Decimal
    cost_local: Decimal
    fx_rate: Decimal  # GBP per unit of currency at the trade date
    gain_gbp: Decimal  # (proceeds - cost) in GBP at the trade date's rate
    broker_realised_local: Decimal | None  # IB fifoPnlRealized where the broker gives one
    source_sha256: str

    @property
    def gain_local(self) -> Decimal:
        return self.proceeds_local - self.cost_local


@dataclass(frozen=True, slots=True)
class ReturnsSummary:
    """Time- and money-weighted returns for the period, or why they could not be computed."""

    twr: Decimal | None  # a fraction: 0.0523 is 5.23 %
    mwr: Decimal | None  # annualised, a fraction
    gain_gbp: Decimal | None
    net_flows_gbp: Decimal | None
    unavailable: str | None = None  # the reason, when the figures are None
    sources: tuple[str, ...] = ()  # payload hashes the figures were computed from


@dataclass(frozen=True)
class Statement:
    period: Period
    generated_at: datetime  # fixed by the caller so the same input renders to the same bytes
    accounts: tuple[StatementAccount, ...]
    holdings_start: tuple[Holding, ...] = ()
    holdings_end: tuple[Holding, ...] = ()
    flows: tuple[Flow, ...] = ()
    income: tuple[IncomeRow, ...] = ()
    realised_gains: tuple[RealisedGain, ...] = ()
    returns: ReturnsSummary | None = None
    capital_gains: Mapping[str, object] | None = None  # the `cgt --json` shape, as returned by the CGT report
    mask_account_ids: bool = True
    title: str = "Portfolio statement"
    base_currency: str = field(default="GBP")

    def __post_init__(self) -> None:
        known = {a.account_id for a in self.accounts}
        for row in self.rows():
            if row.account_id not in known:
                raise ValueError(f"row refers to account {row.account_id!r}, which is not in the statement")
        for flow in self.flows:
            if not self.period.contains(flow.on):
                raise ValueError(f"flow on {flow.on} lies outside {self.period.label}")

    def rows(self) -> tuple[Holding | Flow | IncomeRow | RealisedGain, ...]:
        """Every row in statement order: start holdings, end holdings, flows, income, realised gains."""
        return (*self.holdings_start, *self.holdings_end, *self.flows, *self.income, *self.realised_gains)

    # ---- accounts -------------------------------------------------------------------------------------------
    def account_label(self, account_id: str) -> str:
        for account in self.accounts:
            if account.account_id == account_id:
                return f"{account.broker} {account.shown_id(self.mask_account_ids)}"
        raise KeyError(account_id)

    # ---- derived totals: always sums over the rows ------------------------------------------------------------
    @property
    def value_start_gbp(self) -> Decimal:
        return _sum(h.value_gbp for h in self.holdings_start)

    @property
    def value_end_gbp(self) -> Decimal:
        return _sum(h.value_gbp for h in self.holdings_end)

    @property
    def net_flows_gbp(self) -> Decimal:
        return _sum(f.amount_gbp for f in self.flows)

    def flows_by_kind(self) -> tuple[tuple[str, Decimal], ...]:
        totals: dict[str, Decimal] = {}
        for flow in self.flows:
            totals[flow.kind] = totals.get(flow.kind, ZERO) + flow.amount_gbp
        return tuple(sorted(totals.items()))

    @property
    def income_total(self) -> IncomeTotal:
        return _income_total("all", self.income)

    def income_by_security(self) -> tuple[IncomeTotal, ...]:
        return _group_income(self.income, lambda r: r.security)

    def income_by_month(self) -> tuple[IncomeTotal, ...]:
        return _group_income(self.income, lambda r: r.on.strftime("%Y-%m"))

    @property
    def realised_gain_gbp(self) -> Decimal:
        return _sum(g.gain_gbp for g in self.realised_gains)

    def realised_by_security(self) -> tuple[tuple[str, Decimal], ...]:
        totals: dict[str, Decimal] = {}
        for gain in self.realised_gains:
            totals[gain.security] = totals.get(gain.security, ZERO) + gain.gain_gbp
        return tuple(sorted(totals.items()))

    # ---- traceability ---------------------------------------------------------------------------------------
    def sources(self) -> tuple[str, ...]:
        """Every payload hash the statement cites, in order of first appearance (the PDF numbers them so)."""
        seen: dict[str, None] = {}
        for row in self.rows():
            seen.setdefault(row.source_sha256, None)
        if self.returns is not None:
            for sha in self.returns.sources:
                seen.setdefault(sha, None)
        return tuple(seen)


def _sum(values: Iterable[Decimal]) -> Decimal:
    return sum(values, ZERO)


def _income_total(key: str, rows: Iterable[IncomeRow]) -> IncomeTotal:
    gross = ZERO
    withheld = ZERO
    count = 0
    for row in rows:
        gross += row.gross_gbp
        withheld += row.withholding_tax_gbp
        count += 1
    return IncomeTotal(key, gross, withheld, count)


def _group_income(rows: Iterable[IncomeRow], key_of: Callable[[IncomeRow], str]) -> tuple[IncomeTotal, ...]:
    groups: dict[str, list[IncomeRow]] = {}
    for row in rows:
        groups.setdefault(key_of(row), []).append(row)
    return tuple(_income_total(key, groups[key]) for key in sorted(groups))
