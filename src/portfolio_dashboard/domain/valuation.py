"""Validation of a parsed snapshot and its valuation in the base currency (pure)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from portfolio_dashboard.domain.currency import is_iso_currency
from portfolio_dashboard.domain.fx import FxRate
from portfolio_dashboard.domain.instruments import AssetClass
from portfolio_dashboard.domain.positions import Position
from portfolio_dashboard.domain.snapshots import AccountSnapshot

# Asset classes whose market value is not quantity x price (contract multipliers, bonds quoted per 100).
_MULTIPLIED = {AssetClass.OPTION, AssetClass.FUTURE, AssetClass.BOND, AssetClass.WARRANT}


@dataclass(frozen=True, slots=True)
class ValuedPosition:
    position: Position
    market_value_base: Decimal | None
    rate: FxRate | None  # the stored rate used; None for base-currency holdings or when none was found


@dataclass(frozen=True, slots=True)
class ValuedSnapshot:
    snapshot: AccountSnapshot
    positions: tuple[ValuedPosition, ...]  # including one per cash currency
    total_base: Decimal | None  # sum of positions in base currency; None when any lacks a rate
    reported_total_base: Decimal | None  # the broker's total converted to base
    total_rate: FxRate | None
    warnings: tuple[str, ...] = field(default=())
    # Reconciliation: positions + cash + the broker's own components (accruals) minus the broker's total, in
    # base currency and as a fraction of that total; None when either side is unknown.
    residual_base: Decimal | None = None
    residual_fraction: Decimal | None = None
    components_base: tuple[tuple[str, Decimal], ...] = ()  # e.g. ("accrued_dividends", 12.30)

    @property
    def fx_complete(self) -> bool:
        return all(p.market_value_base is not None for p in self.positions)


class InvalidSnapshotError(ValueError):
    """A snapshot that must not be stored (the raw payloads are still kept)."""


def _finite(value: Decimal | None) -> bool:
    return value is None or value.is_finite()


def validate(snapshot: AccountSnapshot) -> tuple[AccountSnapshot, list[str]]:
    """Reject what cannot be right; return the snapshot (exact duplicate rows dropped) and warnings."""
    warnings: list[str] = []
    account = snapshot.account.broker_account_id
    if not is_iso_currency(snapshot.account.base_currency):
        raise InvalidSnapshotError(f"account {account}: unknown base currency {snapshot.account.base_currency!r}")
    if not _finite(snapshot.total_value_local):
        raise InvalidSnapshotError(f"account {account}: total value is not a finite number")
    seen: dict[tuple[str, str], Position] = {}
    kept: list[Position] = []
    for p in snapshot.positions:
        label = f"account {account}, {p.instrument.symbol} ({p.instrument.broker_instrument_id})"
        if not is_iso_currency(p.instrument.currency):
            raise InvalidSnapshotError(f"{label}: unknown currency {p.instrument.currency!r}")
        for name in ("quantity", "price_local", "market_value_local", "cost_basis", "unrealized_pnl"):
            if not _finite(getattr(p, name)):
                raise InvalidSnapshotError(f"{label}: {name} is not a finite number")
        if p.price_local < 0 and p.instrument.asset_class not in (AssetClass.FUTURE, AssetClass.OPTION):
            raise InvalidSnapshotError(f"{label}: negative price {p.price_local}")
        previous = seen.get(p.instrument.key)
        if previous is not None:
            if previous == p:
                warnings.append(f"{label}: duplicate position row ignored")
                continue
            raise InvalidSnapshotError(f"{label}: two different position rows for the same instrument")
        seen[p.instrument.key] = p
        kept.append(p)
        if p.instrument.asset_class not in _MULTIPLIED and p.price_local != 0:
            expected = p.quantity * p.price_local
            # Brokers round market value to cents and price to a few decimals: allow both roundings.
            slack = max(Decimal("0.02"), abs(p.quantity) * Decimal("0.0001"), abs(expected) * Decimal("0.001"))
            if abs(expected - p.market_value_local) > slack:
                warnings.append(
                    f"{label}: market value {p.market_value_local} differs from quantity x price {expected}"
                )
    currencies = [c.currency for c in snapshot.cash]
    for c in snapshot.cash:
        if not is_iso_currency(c.currency):
            raise InvalidSnapshotError(f"account {account}: unknown cash currency {c.currency!r}")
        if not c.amount.is_finite():
            raise InvalidSnapshotError(f"account {account}: {c.currency} cash is not a finite number")
    if len(set(currencies)) != len(currencies):
        raise InvalidSnapshotError(f"account {account}: more than one cash balance for a currency")
    if len(kept) != len(snapshot.positions):
        snapshot = replace(snapshot, positions=tuple(kept))  # keeps the accruals reconciliation needs
    return snapshot, warnings


ConversionFn = Callable[[str, datetime], tuple[Decimal | None, FxRate | None, str | None]]


def value(snapshot: AccountSnapshot, convert: ConversionFn, tolerance: Decimal) -> ValuedSnapshot:
    """Convert every position to base currency and reconcile with the broker's reported total.

    ``convert(currency, at)`` returns ``(factor, rate used, warning)``. A positions-vs-total mismatch beyond
    ``tolerance`` (relative, with a floor of one penny per position) is a warning, never silently ignored.
    """
    warnings: list[str] = []
    valued: list[ValuedPosition] = []
    for p in snapshot.all_positions():
        factor, rate, warning = convert(p.instrument.currency, snapshot.asof_ts)
        if warning and warning not in warnings:
            warnings.append(warning)
        mv = None if factor is None else p.market_value_local * factor
        valued.append(ValuedPosition(p, mv, rate))
    total = None
    if all(v.market_value_base is not None for v in valued):
        total = sum((v.market_value_base for v in valued if v.market_value_base is not None), Decimal(0))
    reported = None
    total_rate = None
    components: list[tuple[str, Decimal]] = []
    if snapshot.total_value_local is not None:
        factor, total_rate, warning = convert(snapshot.account.base_currency, snapshot.asof_ts)
        if warning and warning not in warnings:
            warnings.append(warning)
        if factor is not None:
            reported = snapshot.total_value_local * factor
            components = [(name, amount * factor) for name, amount in _components(snapshot)]
    if not valued and reported is not None:
        # The broker gave only its total for this instant (a Flex statement's NAV for a past report date):
        # the holdings are unknown, not zero, so the total is the broker's and there is nothing to reconcile.
        return ValuedSnapshot(snapshot, (), reported, reported, total_rate, tuple(warnings))
    residual = fraction = None
    if total is not None and reported is not None:
        # The broker's total includes what it has accrued but not yet paid (dividends, bond interest): with
        # those added, positions + cash should meet the total to within rounding.
        residual = total + sum((amount for _name, amount in components), Decimal(0)) - reported
        fraction = residual / abs(reported) if reported else None
        allowed = max(abs(reported) * tolerance, Decimal("0.01") * max(1, len(valued)))
        if abs(residual) > allowed:
            warnings.append(
                f"account {snapshot.account.broker_account_id}: positions + cash {total:.2f}"
                f"{_components_text(components)} do not match the broker's total {reported:.2f} "
                f"(difference {residual:.2f}, tolerance {(tolerance * 100).normalize():f}%)"
            )
    return ValuedSnapshot(snapshot, tuple(valued), total, reported, total_rate, tuple(warnings),
                          residual, fraction, tuple(components))


def _components(snapshot: AccountSnapshot) -> list[tuple[str, Decimal]]:
    """The broker's own parts of its total beyond positions and cash, in the account's base currency."""
    parts = (("accrued_dividends", snapshot.accrued_dividends_local),
             ("accrued_interest", snapshot.accrued_interest_local))
    return [(name, amount) for name, amount in parts if amount is not None and amount.is_finite() and amount]


def _components_text(components: list[tuple[str, Decimal]]) -> str:
    return "".join(f" + {name.replace('_', ' ')} {amount:.2f}" for name, amount in components)
