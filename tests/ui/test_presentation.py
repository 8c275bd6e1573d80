"""Overview headlines, the account table and the Positions table in GBP and USD, the change cards, the CSV
(issue 19, items 3-4 and the presentation list), through AppTest on a real database."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.storage.reads import holdings as rh
from portfolio_dashboard.storage.reads.scope import Scope
from portfolio_dashboard.ui import fmt, overview_parts, positions_table, state
from tests.ui import static_tables
from tests.ui.builders import Book
from tests.ui.conftest import run_page

pytestmark = pytest.mark.slow
D = Decimal


def _metric(at, label: str) -> str:
    return str(next(m.value for m in at.metric if m.label == label))


def _holdings(app: App, currency: str = "GBP") -> list[rh.Holding]:
    with app.engine.connect() as conn:
        return rh.holdings(conn, Scope(), currency)


def test_overview_position_headlines(seeded):
    at = run_page()
    assert not at.exception
    lines = [h for h in _holdings(seeded) if h.asset_class != "cash"]
    s = rh.stats(_holdings(seeded))
    assert _metric(at, "Positions") == str(s.positions) == str(len(lines)) == "12"  # cash balances not counted
    assert _metric(at, "Average position") == fmt.money(sum(h.value_gbp for h in lines) / 12, "GBP")
    assert _metric(at, "Unrealised P&L") == fmt.money(sum(h.pnl_gbp for h in lines), "GBP", signed=True)
    assert s.unrealised_pnl is not None and s.unrealised_pnl > 0  # long-held demo positions are in profit


def test_account_table_has_wrapper_share_and_both_currencies(seeded):
    at = run_page()
    markup = static_tables.find(at, "Wrapper")
    assert static_tables.columns(markup) == ["Account", "Wrapper", "Value (GBP)", "Value (USD)", "% of total", "Name",
                                             "As of", "Unreconciled", "Source"]
    table = static_tables.parse(markup)
    with seeded.engine.connect() as conn:
        lines = rh.account_lines(conn, Scope())
    assert len(table) == len(lines) == 3
    for row, a in zip(table, lines, strict=True):  # largest first, in the dashboard's number style
        assert row["Account"] == fmt.account_label(a.broker, a.broker_account_id)
        assert row["Wrapper"] == fmt.wrapper_label(a.wrapper)
        assert row["Value (GBP)"] == fmt.money(a.value_gbp, "GBP")
        assert row["Value (USD)"] == fmt.money(a.value_usd, "USD")
        assert row["% of total"] == fmt.pct(a.weight, signed=False)
        assert row["Source"].startswith("/runs?snapshot=")
    assert sum(Decimal(r["% of total"].rstrip("%")) for r in table) == pytest.approx(100, abs=0.02)
    assert "<script" not in markup and "unsafe" not in markup
    usd = {h.value_usd / h.value_gbp for h in _holdings(seeded) if h.value_gbp}  # one GBP->USD rate per snapshot
    assert len({round(r, 8) for r in usd}) == 1


def test_positions_in_gbp_and_usd_with_fx_per_row(seeded):
    at = run_page("positions")
    table = at.dataframe[0].value
    assert list(table.columns) == positions_table.key_columns("GBP")
    assert {"Value (GBP)", "Value (USD)", "P&L (GBP)", "P&L (USD)", "Broker"} <= set(table.columns)
    at.pills(key=positions_table.GROUPS_KEY).set_value(["FX", "Holding"]).run()
    table = at.dataframe[0].value
    assert {"FX → GBP", "FX → USD", "Ccy", "Price", "Quantity"} <= set(table.columns)
    for row in table.to_dict("records"):
        ccy = row["Ccy"]
        assert row["Price"].startswith((fmt.symbol(ccy), fmt.MINUS + fmt.symbol(ccy)))  # prices carry their ccy
        if ccy == "GBP":
            assert row["FX → GBP"] == 1
        assert row["Value (USD)"] == pytest.approx(row["Value (GBP)"] * row["FX → USD"] / row["FX → GBP"])
    at.session_state[state.CURRENCY_KEY] = "EUR"
    at.run()
    assert "Value (EUR)" in at.dataframe[0].value.columns  # the display currency joins when it is neither


def test_csv_is_exact_with_real_ids_and_currency_headers(seeded):
    lines = _holdings(seeded)
    rows = list(csv.DictReader(io.StringIO(positions_table.csv_bytes(lines).decode())))
    assert {r["Account ID"] for r in rows} == {"DEMO-ISA-01", "DEMO-US-01", "DEMO-EU-01"}  # not masked
    assert {"Value (GBP)", "Value (USD)", "P&L (% of cost)", "Weight (%)", "Price (local)"} <= set(rows[0])
    by_key = {(r["Account ID"], r["Symbol"]): r for r in rows}
    for h in lines:
        r = by_key[(h.broker_account_id, h.symbol)]
        assert Decimal(r["Value (GBP)"]) == h.value_gbp  # exact, not rounded for display
        assert Decimal(r["Quantity"]) == h.quantity
        if h.pnl_pct is None:  # cash: no cost basis; an empty cell, not "None"
            assert r["P&L (% of cost)"] == r["Cost basis (local)"] == ""
        else:
            assert Decimal(r["P&L (% of cost)"]) == round(h.pnl_pct * 100, 4)
        assert "e" not in r["Value (USD)"].lower() and "," not in r["Value (USD)"]
    assert sum(Decimal(r["Weight (%)"]) for r in rows) == pytest.approx(Decimal(100), abs=Decimal("0.001"))


def _midnight_before(moment: datetime, app: App) -> datetime:
    return moment.astimezone(app.settings.timezone).replace(hour=0, minute=0, second=0).astimezone(UTC)


def _two_days(app: App, *, early_today: bool) -> None:
    """An account that loses £10 since yesterday while the pound gains on the dollar."""
    app.migrate()
    now = datetime.now(UTC).replace(microsecond=0)
    today = now - timedelta(minutes=5)
    # the day's move compares with the previous day's close, converted at the rate at the midnight starting the
    # newest snapshot's day (portfolio time zone): today's new rate must come after that midnight, at any hour
    midnight = _midnight_before(today, app)
    if today - midnight < timedelta(minutes=2):
        today = midnight - timedelta(minutes=1)
        midnight = _midnight_before(today, app)
    yesterday = today - timedelta(days=1)
    with app.engine.begin() as conn:
        b = Book(conn)
        b.account("ib", "U7654321", "ISA")
        b.rate("GBP", "USD", D("1.20"), yesterday - timedelta(hours=1))
        b.rate("GBP", "USD", D("1.25"), today - min(timedelta(minutes=30), (today - midnight) / 2))
        b.snapshot("ib", "U7654321", yesterday, D("1000.00"))
        if early_today:
            b.snapshot("ib", "U7654321", today - timedelta(minutes=1), D("995.00"))
        b.snapshot("ib", "U7654321", today, D("990.00"))


def test_the_two_change_cards_never_repeat_a_figure(app):
    _two_days(app, early_today=False)
    at = run_page()
    assert _metric(at, "Since previous day") == f"{fmt.MINUS}£10.00"
    assert _metric(at, "Since previous snapshot") == fmt.DASH
    card = next(m for m in at.metric if m.label == "Since previous snapshot")
    assert card.proto.delta == overview_parts.SAME_AS_DAY


def test_distinct_changes_show_both(app):
    _two_days(app, early_today=True)
    at = run_page()
    assert _metric(at, "Since previous day") == f"{fmt.MINUS}£10.00"
    assert _metric(at, "Since previous snapshot") == f"{fmt.MINUS}£5.00"


def test_a_sign_flipped_by_the_currency_is_explained(app):
    _two_days(app, early_today=False)
    at = run_page()
    assert not any("currency" in c.value and "moved" in c.value for c in at.caption)
    at.session_state[state.CURRENCY_KEY] = "USD"
    at.run()
    assert _metric(at, "Since previous day") == "+$37.50"  # 990 x 1.25 - 1000 x 1.20
    notes = [c.value for c in at.caption if "sign differs" in c.value]
    assert notes and f"{fmt.MINUS}£10.00 in GBP" in notes[0] and "GBP→USD moved" in notes[0]


def test_runs_page_prints_the_newest_errors_in_full(seeded):
    long = ("ib_gateway: network: the IB gateway at https://127.0.0.1:5000 refused the connection after 3 retries "
            "— start the gateway, log in with your IBKR user and two-factor device, then save again " * 2).strip()
    with seeded.engine.begin() as conn:
        Book(conn, sources=("ib_gateway",)).run(status="fail", error=long, sources=("ib_gateway",))
    at = run_page("runs")
    assert not at.exception
    assert list(at.dataframe[0].value.columns[:4]) == ["Started", "Trigger", "Status", "Errors"]  # beside status
    assert any(long in m.value for m in at.markdown)  # whole, not cut by a table cell
