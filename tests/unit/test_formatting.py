"""One style per fact, whoever prints it: the CLI's status, the alerts and the dashboard read the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from portfolio_dashboard import formatting
from portfolio_dashboard.brokers.schwab_auth import format_duration
from portfolio_dashboard.ui import fmt


def test_money_puts_the_minus_before_the_symbol() -> None:
    assert formatting.money(Decimal("-5773.87")) == "−£5,773.87"
    assert formatting.money(Decimal("5773.874")) == "£5,773.87"
    assert formatting.money(Decimal("12.5"), "USD", signed=True) == "+$12.50"
    assert formatting.money(None) == "—"


def test_percent() -> None:
    assert formatting.pct(Decimal("0.0125")) == "+1.25%"
    assert formatting.pct(Decimal("-0.5")) == "−50.00%"
    assert formatting.pct(Decimal("0.25"), signed=False) == "25.00%"


def test_one_age_style_for_twenty_six_hours() -> None:
    # users used to see 26h00m (status), 26h (alerts) and 26 h ago (dashboard) for this one age
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    then = now - timedelta(hours=26)
    assert formatting.span(now - then) == "1d 2h"
    assert formatting.ago(then, now) == "1d 2h ago"
    assert format_duration(26 * 3600) == "1d 2h"
    assert fmt.ago(then, now) == formatting.ago(then, now)


def test_span_units() -> None:
    assert formatting.span(timedelta(minutes=12, seconds=59)) == "12m"
    assert formatting.span(3 * 3600 + 12 * 60) == "3h 12m"
    assert formatting.span(timedelta(days=5, hours=3, minutes=59)) == "5d 3h"
    assert formatting.span(-30) == "0m"


def test_account_label_masks_the_number() -> None:
    assert formatting.account_label("ib", "U1234321", "Main") == "IB ••••4321 · Main"
    assert formatting.account_label("schwab", "12") == "Schwab ••••12"
