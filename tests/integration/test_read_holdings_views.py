"""The wrapper filter, the GBP/USD read models and saved views on a real database (values to the penny)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import text

from portfolio_dashboard.storage import saved_views
from portfolio_dashboard.storage.reads import holdings as rh
from portfolio_dashboard.storage.reads import portfolio as rp
from portfolio_dashboard.storage.reads import views as rv
from portfolio_dashboard.storage.reads.scope import Scope
from tests.ui.builders import Book

D = Decimal
AT = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)


def _book(conn) -> None:
    b = Book(conn)
    b.account("ib", "U1234321", "ISA")
    b.account("ib", "U7654321", "Margin", currency="USD")
    b.account("schwab", "12345678")
    conn.execute(text("UPDATE broker_accounts SET wrapper = 'ISA', wrapper_source = 'user' "
                      "WHERE broker_account_id = 'U1234321'"))
    conn.execute(text("UPDATE broker_accounts SET wrapper = 'GIA', wrapper_source = 'broker' "
                      "WHERE broker_account_id = 'U7654321'"))
    b.rate("GBP", "USD", D("1.25"), AT.replace(hour=9))
    vusa = b.instrument("ib", "VUSA", asset_class="etf")
    aapl = b.instrument("ib", "AAPL", currency="USD")
    b.snapshot("ib", "U1234321", AT, D("1000.00"), positions=[(vusa, D(10), D("100"), D("1000.00"), D("1000.00"),
                                                                 D("800.00"), None)])
    b.snapshot("ib", "U7654321", AT, D("800.00"), total_local=D("1000.00"), currency="USD",
               positions=[(aapl, D(4), D("250"), D("1000.00"), D("800.00"), D("1100.00"), None)])
    b.snapshot("schwab", "12345678", AT, D("200.00"))


def test_the_wrapper_filter(conn):
    _book(conn)
    isa = rp.portfolio_summary(conn, Scope(wrappers=("ISA",)))
    assert isa.total == D("1000.00") and [a.broker_account_id for a in isa.accounts] == ["U1234321"]
    both = rp.portfolio_summary(conn, Scope(wrappers=("ISA", "GIA")))
    assert both.total == D("1800.00")  # the account without a wrapper is in neither
    assert rp.portfolio_summary(conn, Scope(brokers=("ib",), wrappers=("GIA",))).total == D("800.00")
    assert rp.portfolio_summary(conn, Scope(wrappers=("SIPP",))).accounts == []
    assert {(t.broker_account_id, t.wrapper) for t in rv.account_tags(conn)} == {
        ("U1234321", "ISA"), ("U7654321", "GIA"), ("12345678", None)}


def test_holdings_in_gbp_and_usd(conn):
    _book(conn)
    lines = {h.symbol: h for h in rh.holdings(conn, Scope(), "USD")}
    vusa, aapl = lines["VUSA"], lines["AAPL"]
    assert (vusa.fx_gbp, vusa.value_gbp, vusa.value_usd, vusa.pnl_gbp, vusa.pnl_usd) == (
        D(1), D("1000.00"), D("1250.0000"), D("200.00"), D("250.0000"))
    assert aapl.fx_gbp == D("0.8") and aapl.fx_usd == D("1.0")  # the capture's rate, and back through GBP
    assert aapl.pnl_local == D("-100.00") and aapl.pnl_gbp == D("-80.0") and aapl.pnl_usd == D("-100.0")
    assert aapl.value == aapl.value_usd  # display currency USD
    assert vusa.wrapper == "ISA" and aapl.wrapper == "GIA"
    s = rh.stats(list(lines.values()))
    assert (s.positions, s.average, s.unrealised_pnl) == (2, D("1125.0"), D("150.0"))


def test_account_lines_in_both_currencies(conn):
    _book(conn)
    lines = rh.account_lines(conn, Scope())
    assert [(a.broker_account_id, a.wrapper, a.value_gbp, a.value_usd, a.weight) for a in lines] == [
        ("U1234321", "ISA", D("1000.00"), D("1250.0000"), D("0.5")),
        ("U7654321", "GIA", D("800.00"), D("1000.0000"), D("0.4")),
        ("12345678", None, D("200.00"), D("250.0000"), D("0.1")),
    ]


def test_saved_views_save_replace_delete(conn):
    assert rv.saved_views(conn) == []
    saved_views.save_view(conn, " ISA in USD ", "wrapper=ISA&ccy=USD")
    saved_views.save_view(conn, "Schwab", "broker=schwab")
    saved_views.save_view(conn, "ISA in USD", "wrapper=ISA")  # same name: replaced
    assert [(v.name, v.query) for v in rv.saved_views(conn)] == [("ISA in USD", "wrapper=ISA"),
                                                                 ("Schwab", "broker=schwab")]
    assert saved_views.delete_view(conn, "Schwab") is True
    assert saved_views.delete_view(conn, "Schwab") is False
    assert [v.name for v in rv.saved_views(conn)] == ["ISA in USD"]
