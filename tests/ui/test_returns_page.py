"""The Returns page and the Overview's "Return (TWR)" through Streamlit's AppTest, on a real database with demo
history (issue 18). Expected figures come from the service on the same database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.services.returns import ReturnsFilter, returns_report
from portfolio_dashboard.ui import fmt
from portfolio_dashboard.ui.views import returns as page  # noqa: F401 - imported for its constants only
from tests.ui.conftest import run_page

pytestmark = pytest.mark.slow

PERIOD_KEY = "returns_period"


def _report(app: App, period: str, flt: ReturnsFilter | None = None):
    with app.engine.connect() as conn:
        return returns_report(conn, flt, period=period)


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_returns_page_shows_figures_table_chart_and_heatmap(seeded: App) -> None:
    at = run_page("returns")
    assert not at.exception
    at.session_state[PERIOD_KEY] = "All"
    at.run()
    assert not at.exception
    report = _report(seeded, "all")
    assert report.total.twr is not None
    assert _metric(at, "TWR") == fmt.pct(report.total.twr)
    assert _metric(at, "Gain") == fmt.money(report.total.gain, "GBP", signed=True, decimals=0)
    frame = at.dataframe[0].value
    assert list(frame["Level"]).count("Account") == len(report.accounts)
    total = frame[frame["Level"] == "Total"].iloc[0]
    assert total["TWR"] == fmt.pct(report.total.twr) and total["MWR"] == fmt.pct(report.total.mwr)
    assert len(at.get("plotly_chart")) == 2  # the cumulative return and the monthly heat-map


def test_a_period_before_the_history_is_unavailable_not_zero(seeded: App) -> None:
    at = run_page("returns")
    at.session_state[PERIOD_KEY] = "5Y"  # the demo history is 40 days long
    at.run()
    assert not at.exception
    assert _metric(at, "TWR (annualised)") == "unavailable"
    assert any("no valuation to start from" in w.value for w in at.warning)
    frame = at.dataframe[0].value
    assert set(frame["TWR"]) == {"unavailable"}
    assert all("no valuation to start from" in why for why in frame["Why unavailable"])


def test_a_gateway_only_account_withholds_the_total(seeded: App) -> None:
    now = datetime.now(UTC)
    with seeded.engine.begin() as conn:
        run = conn.execute(text("SELECT run_id FROM snapshot_runs LIMIT 1")).scalar_one()
        conn.execute(text("INSERT INTO broker_accounts (broker, broker_account_id, name, base_currency) "
                          "VALUES ('ib', 'U5550001', 'Gateway', 'GBP')"))
        for days in range(40, 0, -1):  # daily, over the whole month
            ts = now - timedelta(days=days)
            conn.execute(text(
                """INSERT INTO snapshots (run_id, broker, broker_account_id, asof_ts, snapshot_key, total_value_local,
                                          total_value_gbp, account_currency, source)
                   VALUES (:r, 'ib', 'U5550001', :ts, :k, 100, 100, 'GBP', 'ib_gateway')"""),
                {"r": run, "ts": ts, "k": f"gw-{days}"})
    at = run_page("returns")
    at.session_state[PERIOD_KEY] = "1M"
    at.run()
    assert not at.exception
    frame = at.dataframe[0].value
    gateway = frame[frame["Scope"].str.contains("0001")].iloc[0]
    assert gateway["TWR"] == "unavailable" and gateway["Why unavailable"].startswith("flows unknown")
    total = frame[frame["Level"] == "Total"].iloc[0]
    assert total["TWR"] == "unavailable" and "ib:U5550001: flows unknown" in total["Why unavailable"]


def test_overview_headline_follows_the_chosen_period(seeded: App) -> None:
    at = run_page()
    assert not at.exception
    ytd = _report(seeded, "ytd").total
    label = "Return (TWR, YTD)"
    assert _metric(at, label) == (fmt.pct(ytd.twr) if ytd.twr is not None else "unavailable")
    at.switch_page("views/returns.py").run()
    at.session_state[PERIOD_KEY] = "1M"
    at.run()
    at.switch_page("views/overview.py").run()
    assert not at.exception
    month = _report(seeded, "1m").total
    assert month.twr is not None and isinstance(month.twr, Decimal)
    assert _metric(at, "Return (TWR, 1M)") == fmt.pct(month.twr)
