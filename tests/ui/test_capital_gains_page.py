"""The Capital gains page through Streamlit's AppTest on the demo history (its GIA's trades)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portfolio_dashboard.domain.cgt import TaxYear
from portfolio_dashboard.services import capital_gains as service
from portfolio_dashboard.ui import fmt
from tests.ui.conftest import run_page

pytestmark = pytest.mark.slow


def _texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    parts += [w.value for w in at.warning] + [e.value for e in at.error] + [s.value for s in at.success]
    return "\n".join(str(p) for p in parts)


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _report(app, year: TaxYear) -> dict:
    with app.engine.connect() as conn:
        return service.report(conn, year).document


def test_tax_year_totals_disposals_drill_down_pools_and_what_if(seeded):
    at = run_page("capital_gains")
    assert not at.exception
    picker = next(box for box in at.selectbox if box.label.startswith("Tax year"))
    assert {"2024-25", "2025-26"} <= set(picker.options)
    picker.select("2024-25").run()
    assert not at.exception
    doc = _report(seeded, TaxYear(2024))
    totals = doc["totals"]
    assert _metric(at, "Net gain") == fmt.money(Decimal(totals["net_gain_gbp"]))
    assert _metric(at, "Annual exempt amount") == "£3,000.00"
    sa = next(str(m.value) for m in at.markdown if str(m.value).startswith("| Figure | Amount |"))
    figures = dict(tuple(cell.strip() for cell in line.strip("|").split("|")) for line in sa.splitlines()[2:])
    assert figures["Number of disposals"] == "4"
    assert figures["Disposal proceeds"] == fmt.money(Decimal(totals["proceeds_gbp"]))
    assert figures["Allowable costs (including purchase price)"] == fmt.money(Decimal(totals["allowable_costs_gbp"]))
    assert figures["Taxable gain"] == fmt.money(Decimal(totals["taxable_gain_gbp"]))
    split = next(str(m.value) for m in at.markdown if str(m.value).startswith("| Disposals | Gains |"))
    assert f"| From 30 Oct 2024 | {fmt.money(Decimal(totals['from_2024_10_30']['gains_gbp']))} |" in split
    table = next(df.value for df in at.dataframe if "Matched by" in df.value.columns)
    assert list(table["Security"]) == [d["symbol"] for d in doc["disposals"]]

    # drill down to the bed and breakfast: the 30-day match, then the broker trades with their raw hashes
    drill = next(box for box in at.selectbox if box.label.startswith("Show how"))
    drill.select(next(o for o in drill.options if "AAPL" in o)).run()
    text = _texts(at)
    assert "30 days (bed and breakfast)" in text and "acquired 2025-02-05" in text
    trades = next(df.value for df in at.dataframe if "Raw payload SHA-256" in df.value.columns)
    assert set(trades["Side"]) == {"sell", "buy"}
    assert all(len(h) == 64 for h in trades["Raw payload SHA-256"])
    assert any("(stored)" in rate for rate in trades["GBP rate"])

    pools = next(df.value for df in at.dataframe if "Average cost" in df.value.columns)
    assert dict(zip(pools["Security"], pools["Quantity"], strict=True))["AAPL"] == 60

    form_box = next(box for box in at.selectbox if box.label == "Security")
    form_box.select(next(o for o in form_box.options if o.startswith("MSFT"))).run()
    at.text_input[0].input("5")
    at.text_input[1].input("300")
    next(b for b in at.button if b.label == "Estimate").click().run()
    assert not at.exception
    assert _metric(at, "Gain on this sale").startswith(("+£", "−£", "£"))
    assert any(m.label.startswith("Exempt amount left in ") for m in at.metric)


def test_the_page_without_any_trade(app):
    at = run_page("capital_gains")
    assert not at.exception
    assert "No disposals in this tax year." in _texts(at)
    assert "No holding in a taxable account to sell." in _texts(at)
