"""Provenance of rates and the reconciliation residual (pure parts of issue 16's exact record)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from portfolio_dashboard.domain import Account, AccountSnapshot, CashBalance, FxRate
from portfolio_dashboard.domain.valuation import value
from portfolio_dashboard.services.fx import FxChain, is_demo_rate

T = datetime(2026, 6, 30, 16, tzinfo=UTC)
DEMO = FxRate("USD", "GBP", Decimal("0.9"), T, "demo")


def test_demo_rates_and_crosses_built_from_them_are_recognised() -> None:
    assert is_demo_rate(DEMO)
    assert is_demo_rate(FxRate("USD", "GBP", Decimal(1), T, "ib/demo+cross"))
    assert is_demo_rate(FxRate("USD", "GBP", Decimal(1), T, "demo+cross"))
    assert not is_demo_rate(FxRate("USD", "GBP", Decimal(1), T, "ecb"))


def test_a_real_account_never_converts_at_a_demo_rate_from_any_tier() -> None:
    chain = FxChain("GBP", timedelta(days=4), stored_lookup=lambda *a: DEMO)
    chain.publish([DEMO])
    real = chain.conversion("USD", T, [DEMO], allow_demo=False)
    assert (real.factor, real.rate) == (None, None)
    assert real.warning is not None and "no USD->GBP rate" in real.warning
    assert chain.conversion("USD", T, allow_demo=True).rate == DEMO  # the demo's own accounts still may


def snapshot(total: str, dividends: str | None = None, interest: str | None = None) -> AccountSnapshot:
    return AccountSnapshot(
        Account("ib", "U1", "U1", "USD"), T, "test", (), (CashBalance("USD", Decimal(1000)),),
        total_value_local=Decimal(total),
        accrued_dividends_local=None if dividends is None else Decimal(dividends),
        accrued_interest_local=None if interest is None else Decimal(interest),
    )


def at_080(currency: str, at: datetime) -> tuple[Decimal | None, FxRate | None, str | None]:
    return (Decimal(1), None, None) if currency == "GBP" else (Decimal("0.8"), None, None)


def test_the_residual_counts_the_brokers_accruals_in_base_currency() -> None:
    valued = value(snapshot("1003", dividends="2", interest="1"), at_080, Decimal("0.001"))
    assert valued.residual_base == 0
    assert valued.residual_fraction == 0
    assert dict(valued.components_base) == {"accrued_dividends": Decimal("1.6"), "accrued_interest": Decimal("0.8")}
    assert not valued.warnings


def test_a_residual_beyond_a_tenth_of_a_percent_is_a_warning() -> None:
    valued = value(snapshot("1003"), at_080, Decimal("0.001"))
    assert valued.residual_base == Decimal("-2.4")  # 3 USD of accruals the broker did not itemise, at 0.8
    assert valued.residual_fraction is not None and abs(valued.residual_fraction) > Decimal("0.001")
    assert any("tolerance 0.1%" in w for w in valued.warnings)
    within = value(snapshot("1000.5"), at_080, Decimal("0.001"))
    assert not within.warnings and within.residual_base == Decimal("-0.4")
