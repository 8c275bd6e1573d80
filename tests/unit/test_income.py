"""Income summaries (pure): net of withholding, by month, security, account and UK tax year."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from portfolio_dashboard.domain.income import summarise


@dataclass(frozen=True)
class Line:
    kind: str
    day: date
    amount_gbp: Decimal | None
    symbol: str | None = None
    isin: str | None = None
    broker: str = "ib"
    broker_account_id: str = "U1"


def test_net_income_splits_at_the_uk_tax_year_and_ignores_deposits() -> None:
    lines = [
        Line("dividend", date(2026, 4, 5), Decimal("10.00"), "AAPL", "US0378331005"),
        Line("withholding_tax", date(2026, 4, 5), Decimal("-1.50"), "AAPL", "US0378331005"),
        Line("dividend", date(2026, 4, 6), Decimal("20.00"), "AAPL", "US0378331005"),
        Line("interest", date(2026, 4, 30), Decimal("3.21"), broker_account_id="U2"),
        Line("deposit", date(2026, 4, 7), Decimal("5000")),
        Line("dividend", date(2026, 5, 1), None, "SAP"),
    ]
    s = summarise(lines)
    assert s.gross_gbp == Decimal("33.21") and s.withholding_gbp == Decimal("-1.50")
    assert s.total_gbp == Decimal("31.71")
    assert s.by_tax_year == {"2025-26": Decimal("8.50"), "2026-27": Decimal("23.21")}
    assert s.by_month == {date(2026, 4, 1): Decimal("31.71")}
    assert s.by_account == {("ib", "U1"): Decimal("28.50"), ("ib", "U2"): Decimal("3.21")}
    aapl = next(x for x in s.by_security if x.symbol == "AAPL")
    assert (aapl.gross_gbp, aapl.withholding_gbp, aapl.net_gbp) == (Decimal("30.00"), Decimal("-1.50"),
                                                                      Decimal("28.50"))
    assert s.unvalued == 1  # counted, never read as zero
