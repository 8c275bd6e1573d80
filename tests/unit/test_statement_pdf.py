"""The statement PDF, read back as text the way a person (or an accountant's tool) would read it."""

from __future__ import annotations

import io
import json
import re
from decimal import Decimal
from pathlib import Path

import pypdf
import pytest

from portfolio_dashboard.domain.statement import ReturnsSummary
from portfolio_dashboard.services.statements import fmt
from portfolio_dashboard.services.statements.pdf import render_pdf
from portfolio_dashboard.services.statements.summary import statement_summary
from tests.unit.test_statement_model import demo_statement

MONEY = re.compile(r"([−-]?)([£$€])([\d,]+\.\d{2})")


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def section(text: str, start: str, end: str) -> list[str]:
    body = text.split(f"\n{start}\n", 1)[1].split(f"\n{end}\n", 1)[0]
    # Page footers and repeated headings are layout, not rows.
    return [line for line in body.splitlines() if not line.startswith(("Portfolio statement ·", "Account ", "Date "))]


def gbp_amounts(line: str) -> list[Decimal]:
    return [
        Decimal(digits.replace(",", "")) * (-1 if sign else 1)
        for sign, symbol, digits in MONEY.findall(line)
        if symbol == "£"
    ]


@pytest.fixture(scope="module")
def text() -> str:
    return pdf_text(render_pdf(demo_statement()))


def test_money_is_printed_with_a_true_minus_and_two_places() -> None:
    assert fmt.money(Decimal("-5773.8671875")) == "−£5,773.87"
    assert fmt.money(Decimal("1234"), "USD") == "$1,234.00"
    assert fmt.money(Decimal("-0.5"), "CHF") == "−0.50 CHF"
    assert fmt.number(Decimal("1E+3")) == "1,000"
    assert fmt.percent(Decimal("-0.07305")) == "−7.31 %"


def test_title_period_accounts_and_masking(text: str) -> None:
    assert "Tax year 2025-26: 06 April 2025 to 05 April 2026" in text
    assert "schwab ****6789 GIA USD" in text
    assert "U1234567" not in text and "23456789" not in text


@pytest.mark.parametrize(
    ("start", "end", "rows_attr"),
    [
        ("Holdings at 06 April 2025", "Holdings at 05 April 2026", "holdings_start"),
        ("Holdings at 05 April 2026", "Flows", "holdings_end"),
    ],
)
def test_holdings_total_is_the_sum_of_the_printed_rows(text: str, start: str, end: str, rows_attr: str) -> None:
    st = demo_statement()
    lines = section(text, start, end)
    rows = [line for line in lines if not line.startswith("Total")]
    (total_line,) = [line for line in lines if line.startswith("Total")]
    printed = [gbp_amounts(line)[-1] for line in rows]
    assert len(printed) == len(getattr(st, rows_attr))
    assert sum(printed) == gbp_amounts(total_line)[0]
    expected = st.value_start_gbp if rows_attr == "holdings_start" else st.value_end_gbp
    assert gbp_amounts(total_line)[0] == expected


def test_flows_income_and_gains_totals(text: str) -> None:
    st = demo_statement()
    flows = section(text, "Flows", "Income")
    assert "−£5,773.87" in "\n".join(flows)  # the USD withdrawal at 0.78125
    rows = [line for line in flows if re.match(r"\d\d/\d\d/\d{4}", line)]
    net = next(line for line in flows if line.startswith("Net flows"))
    assert sum(gbp_amounts(line)[-1] for line in rows) == gbp_amounts(net)[0] == st.net_flows_gbp

    income = section(text, "Income", "Income by security")
    rows = [line for line in income if re.match(r"\d\d/\d\d/\d{4}", line)]
    (total,) = [line for line in income if line.startswith("Total")]
    gross, withheld, net_total = gbp_amounts(total)
    assert len(rows) == len(st.income)
    assert sum(gbp_amounts(line)[-3] for line in rows) == gross == st.income_total.gross_gbp
    assert sum(gbp_amounts(line)[-2] for line in rows) == withheld == st.income_total.withholding_tax_gbp
    assert sum(gbp_amounts(line)[-1] for line in rows) == net_total == st.income_total.net_gbp

    gains = section(text, "Realised gains", "Returns")
    rows = [line for line in gains if re.match(r"\d\d/\d\d/\d{4}", line)]
    (total,) = [line for line in gains if line.startswith("Total")]
    assert sum(gbp_amounts(line)[-1] for line in rows) == gbp_amounts(total)[0] == Decimal("774.01")


def test_summary_and_capital_gains_figures(text: str) -> None:
    st = demo_statement()
    assert f"Value at 05 Apr 2026 {fmt.money(st.value_end_gbp)}" in text
    assert f"Income received, net of withholding tax {fmt.money(st.income_total.net_gbp)}" in text
    assert "Time-weighted return 7.31 %" in text
    cgt = section(text, "Capital gains (HMRC share matching)", "Sources")
    assert "Net gain £292.20" in cgt
    assert "Annual exempt amount £3,000.00" in cgt
    assert any("02/06/2025 VWRL" in line and "30-day 5, s104 15" in line for line in cgt)


def test_every_row_cites_its_source_hash(text: str) -> None:
    st = demo_statement()
    sources = dict(
        line.split(" ", 1) for line in section(text, "Sources", "\0")[1:] if re.match(r"\d+ [0-9a-f]{64}$", line)
    )
    assert list(sources.values()) == list(st.sources())
    first = section(text, "Holdings at 06 April 2025", "Holdings at 05 April 2026")[1]
    assert sources[first.rsplit(" ", 1)[1]] == st.holdings_start[0].source_sha256


def test_output_is_deterministic_and_unavailable_returns_say_why(tmp_path: Path) -> None:
    target = tmp_path / "statement.pdf"
    first = render_pdf(demo_statement(), target)
    assert target.read_bytes() == first == render_pdf(demo_statement())
    unavailable = ReturnsSummary(None, None, None, None, unavailable="no snapshot at the period start")
    assert "Unavailable: no snapshot at the period start." in pdf_text(render_pdf(demo_statement(returns=unavailable)))


def test_an_empty_statement_still_renders() -> None:
    st = demo_statement(
        holdings_start=(), holdings_end=(), flows=(), income=(), realised_gains=(), returns=None, capital_gains=None
    )
    text = pdf_text(render_pdf(st))
    assert "No holdings." in text and "No disposals in the period." in text and "No sources." in text


def test_the_pdf_shows_every_figure_of_the_json_summary(text: str) -> None:
    summary = statement_summary(demo_statement())
    json.dumps(summary)  # JSON-ready as it stands: money as exact strings, no Decimal or date objects
    for key in ("value_start_gbp", "value_end_gbp", "net_flows_gbp", "realised_gain_gbp"):
        assert fmt.money(Decimal(summary[key])) in text, key
    income = summary["income"]
    assert f"Total {income['payments']} {fmt.money(Decimal(income['gross_gbp']))}" in text
    for security, net in summary["income_by_security_gbp"].items():
        assert any(line.startswith(security) and line.endswith(fmt.money(Decimal(net))) for line in text.splitlines())
    for kind, total in summary["flows_by_kind_gbp"].items():
        assert f"Total {kind} {fmt.money(Decimal(total))}" in text
    assert all(sha in text for sha in summary["sources"])


def test_long_tables_break_across_pages_and_repeat_their_headings() -> None:
    pages = pypdf.PdfReader(io.BytesIO(render_pdf(demo_statement()))).pages
    texts = [page.extract_text() for page in pages]
    assert len(pages) > 3
    heading = "Account Security ISIN Quantity Price Value (local) FX rate Rate from Value GBP Src"
    assert sum(heading in t for t in texts) > 2  # two holdings tables, the first continued on a second page
    assert all(f"Page {n} of {len(pages)}" in t for n, t in enumerate(texts, start=1))
