"""The Statement model: periods, derived totals, traceability — and the demo-like statement other tests render."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest

from portfolio_dashboard.domain.statement import (
    Flow,
    FxUsed,
    Holding,
    IncomeRow,
    RealisedGain,
    ReturnsSummary,
    Statement,
    StatementAccount,
    period_for,
    tax_year_of,
)

CENT = Decimal("0.01")
SECURITIES = (
    ("VWRL", "IE00B3RBWM25", "GBP", Decimal("104.36")),
    ("ISF", "IE0005042456", "GBP", Decimal("8.4125")),
    ("AAPL", "US0378331005", "USD", Decimal("227.52")),
    ("MSFT", "US5949181045", "USD", Decimal("415.1")),
    ("SAP", "DE0007164600", "EUR", Decimal("251.35")),
    ("VUSA", "IE00B3XXRP09", "GBP", Decimal("91.035")),
    ("BRK B", "US0846707026", "USD", Decimal("452.2")),
    ("ASML", "NL0010273215", "EUR", Decimal("612.9")),
)
RATES = {"GBP": Decimal(1), "USD": Decimal("0.78125"), "EUR": Decimal("0.8462")}


def sha(text: str) -> str:
    """A stand-in for the SHA-256 of a stored raw payload (the payload here is a label)."""
    return hashlib.sha256(text.encode()).hexdigest()


def gbp(amount: Decimal, currency: str) -> Decimal:
    return (amount * RATES[currency]).quantize(CENT, rounding=ROUND_HALF_UP)


def _holdings(day: date, scale: int) -> tuple[Holding, ...]:
    rows = []
    for a, account in enumerate(("U1234567", "U7654321", "23456789")):
        for s, (symbol, isin, ccy, price) in enumerate(SECURITIES):
            qty = Decimal(10 * (s + 1) + a * 7 + scale)
            value = (qty * price).quantize(CENT, rounding=ROUND_HALF_UP)
            rows.append(
                Holding(
                    account,
                    symbol,
                    isin,
                    qty,
                    price,
                    ccy,
                    value,
                    FxUsed(RATES[ccy], "ecb" if ccy != "GBP" else "identity", day),
                    gbp(value, ccy),
                    f"snap-{account}-{day:%Y%m%d}",
                    sha(f"{account}/{day}"),
                )
            )
    return tuple(rows)


def demo_statement(**changes: object) -> Statement:
    period = period_for(tax_year="2025-26")
    accounts = (
        StatementAccount("ib", "U1234567", "GIA", "GBP"),
        StatementAccount("ib", "U7654321", "ISA", "GBP"),
        StatementAccount("schwab", "23456789", "GIA", "USD"),
    )
    flows = (
        Flow(
            "U1234567",
            date(2025, 4, 10),
            "deposit",
            "GBP",
            Decimal("5000.00"),
            Decimal("5000.00"),
            "Bank transfer",
            sha("flow1"),
        ),
        Flow(
            "U7654321",
            date(2025, 4, 12),
            "deposit",
            "GBP",
            Decimal("20000.00"),
            Decimal("20000.00"),
            "ISA subscription",
            sha("flow2"),
        ),
        Flow(
            "23456789",
            date(2025, 9, 1),
            "withdrawal",
            "USD",
            Decimal("-7390.55"),
            gbp(Decimal("-7390.55"), "USD"),
            "Wire out",
            sha("flow3"),
        ),
        Flow(
            "U1234567",
            date(2026, 1, 3),
            "fee",
            "GBP",
            Decimal("-3.00"),
            Decimal("-3.00"),
            "Market data fee",
            sha("flow4"),
        ),
    )
    income = []
    for month in range(12):
        day = date(2025 + (month + 4) // 13, (month + 3) % 12 + 1, 15)
        if not period.contains(day):
            continue
        for symbol, isin, ccy, _ in SECURITIES[2:5]:
            gross = Decimal("12.34") + month
            wht = -(gross * Decimal("0.15")).quantize(CENT, rounding=ROUND_HALF_UP)
            income.append(
                IncomeRow(
                    "23456789" if ccy == "USD" else "U1234567",
                    day,
                    "dividend",
                    symbol,
                    isin,
                    ccy,
                    gross,
                    wht,
                    RATES[ccy],
                    gbp(gross, ccy),
                    gbp(wht, ccy),
                    sha(f"div/{symbol}/{day}"),
                )
            )
        income.append(
            IncomeRow(
                "U1234567",
                day,
                "interest",
                "GBP cash",
                None,
                "GBP",
                Decimal("4.07"),
                Decimal(0),
                Decimal(1),
                Decimal("4.07"),
                Decimal(0),
                sha(f"int/{day}"),
            )
        )
    gains = (
        RealisedGain(
            "U1234567",
            date(2025, 6, 2),
            "VWRL",
            "IE00B3RBWM25",
            Decimal(20),
            "GBP",
            Decimal("2087.20"),
            Decimal("1810.40"),
            Decimal(1),
            Decimal("276.80"),
            Decimal("276.80"),
            sha("trade1"),
        ),
        RealisedGain(
            "23456789",
            date(2025, 11, 20),
            "AAPL",
            "US0378331005",
            Decimal(15),
            "USD",
            Decimal("3412.80"),
            Decimal("2559.75"),
            RATES["USD"],
            gbp(Decimal("853.05"), "USD"),
            None,
            sha("trade2"),
        ),
        RealisedGain(
            "U1234567",
            date(2026, 2, 9),
            "SAP",
            "DE0007164600",
            Decimal(8),
            "EUR",
            Decimal("1810.80"),
            Decimal("2010.80"),
            RATES["EUR"],
            gbp(Decimal("-200.00"), "EUR"),
            Decimal("-200.00"),
            sha("trade3"),
        ),
    )
    cgt = {
        "tax_year": "2025-26",
        "complete": True,
        "needs_review": [],
        "disposals": [
            {
                "date": "2025-06-02",
                "symbol": "VWRL",
                "isin": "IE00B3RBWM25",
                "quantity": "20",
                "proceeds_gbp": "2087.20",
                "cost_gbp": "1795.00",
                "gain_gbp": "292.20",
                "matches": [
                    {"rule": "30-day", "quantity": "5", "cost_gbp": "520.00", "acquired": "2025-06-20"},
                    {"rule": "s104", "quantity": "15", "cost_gbp": "1275.00", "acquired": None},
                ],
            },
        ],
        "totals": {
            "disposals": 1,
            "proceeds_gbp": "2087.20",
            "allowable_costs_gbp": "1795.00",
            "gains_gbp": "292.20",
            "losses_gbp": "0.00",
            "net_gain_gbp": "292.20",
            "annual_exempt_amount_gbp": "3000.00",
            "losses_brought_forward_gbp": "0.00",
            "taxable_gain_gbp": "0.00",
        },
        "pools": [],
    }
    fields: dict[str, object] = {
        "period": period,
        "generated_at": datetime(2026, 4, 30, 9, 0, tzinfo=UTC),
        "accounts": accounts,
        "holdings_start": _holdings(period.start, 0),
        "holdings_end": _holdings(period.end, 3),
        "flows": flows,
        "income": tuple(income),
        "realised_gains": gains,
        "returns": ReturnsSummary(
            Decimal("0.0731"),
            Decimal("0.0688"),
            Decimal("9876.54"),
            sum((f.amount_gbp for f in flows), Decimal(0)),
            sources=(sha("U1234567/2025-04-06"),),
        ),
        "capital_gains": cgt,
    }
    fields.update(changes)
    return Statement(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "start", "end"),
    [
        ({"tax_year": "2025-26"}, date(2025, 4, 6), date(2026, 4, 5)),
        ({"tax_year": "1999/00"}, date(1999, 4, 6), date(2000, 4, 5)),
        ({"year": 2024}, date(2024, 1, 1), date(2024, 12, 31)),
        ({"start": date(2025, 2, 1), "end": date(2025, 2, 28)}, date(2025, 2, 1), date(2025, 2, 28)),
    ],
)
def test_period_for(kwargs: dict[str, object], start: date, end: date) -> None:
    period = period_for(**kwargs)  # type: ignore[arg-type]
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"tax_year": "2025-27"},
        {"tax_year": "25-26"},
        {"year": 2025, "tax_year": "2025-26"},
        {"start": date(2025, 1, 2)},
        {"start": date(2025, 1, 2), "end": date(2025, 1, 1)},
    ],
)
def test_period_for_rejects(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        period_for(**kwargs)  # type: ignore[arg-type]


def test_tax_year_of_turns_on_6_april() -> None:
    assert tax_year_of(date(2026, 4, 5)) == "2025-26"
    assert tax_year_of(date(2026, 4, 6)) == "2026-27"


def test_totals_are_sums_of_rows() -> None:
    st = demo_statement()
    assert st.value_end_gbp == sum(h.value_gbp for h in st.holdings_end)
    assert st.net_flows_gbp == Decimal("5000.00") + Decimal("20000.00") + gbp(Decimal("-7390.55"), "USD") - Decimal(
        "3.00"
    )
    assert sum(g.net_gbp for g in st.income_by_month()) == st.income_total.net_gbp
    assert sum(g.gross_gbp for g in st.income_by_security()) == st.income_total.gross_gbp
    assert st.income_total.rows == len(st.income)
    assert st.realised_gain_gbp == Decimal("276.80") + Decimal("666.45") + Decimal("-169.24")
    assert dict(st.flows_by_kind())["withdrawal"] == Decimal("-5773.87")


def test_rows_must_name_a_known_account_and_flows_lie_in_the_period() -> None:
    st = demo_statement()
    with pytest.raises(ValueError, match="not in the statement"):
        demo_statement(accounts=st.accounts[:1])
    late = Flow("U1234567", date(2026, 4, 6), "deposit", "GBP", Decimal(1), Decimal(1), "", sha("x"))
    with pytest.raises(ValueError, match="outside"):
        demo_statement(flows=(late,))


def test_sources_in_order_of_first_appearance_and_masking() -> None:
    st = demo_statement()
    sources = st.sources()
    assert len(sources) == len(set(sources))
    assert sources[0] == st.holdings_start[0].source_sha256
    assert {r.source_sha256 for r in st.rows()} == set(sources)
    assert st.account_label("U1234567") == "ib ****4567"
    assert demo_statement(mask_account_ids=False).account_label("U1234567") == "ib U1234567"
