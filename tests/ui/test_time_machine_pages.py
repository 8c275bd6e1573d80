"""The time machine, traceability and realised-gains pages through AppTest, on demo history."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from portfolio_dashboard.storage.reads import portfolio as rp
from portfolio_dashboard.storage.reads.scope import Scope
from portfolio_dashboard.ui import asof, fmt
from tests.ui.conftest import APP_FILE

pytestmark = pytest.mark.slow
LONDON = ZoneInfo("Europe/London")


def _texts(at: AppTest) -> str:
    return "\n".join(str(p.value) for p in [*at.markdown, *at.caption, *at.info, *at.warning])


def test_asof_in_the_session_shows_that_days_stored_totals(seeded):
    day = datetime.now(LONDON).date() - timedelta(days=12)
    at = AppTest.from_file(APP_FILE, default_timeout=60)
    at.session_state[asof.DATE_KEY] = day
    at.run()
    assert not at.exception
    with seeded.engine.connect() as conn:
        s = rp.portfolio_summary(conn, Scope(), asof=datetime.combine(day, time.max, tzinfo=LONDON))
    assert next(m.value for m in at.metric if m.label == "Total value") == fmt.money(s.total, "GBP")
    assert f"As of {day:%d %b %Y} 23:59" in _texts(at)
    assert "/runs?snapshot=" in _texts(at)  # each account's figures link to their snapshot
    assert at.query_params[asof.PARAM] == day.isoformat()


def test_quick_picks_and_parse():
    picks = asof.quick_picks(date(2026, 12, 4))
    assert picks["Latest"] is None
    assert picks["Tax-year end 05 Apr 2026"] == date(2026, 4, 5)
    assert picks["Year end 2025"] == date(2025, 12, 31)
    assert picks["Month end 30 Nov 2026"] == date(2026, 11, 30)
    assert asof.quick_picks(date(2026, 4, 4))["Tax-year end 05 Apr 2025"] == date(2025, 4, 5)
    assert asof.parse("2025-04-05", LONDON) == datetime.combine(date(2025, 4, 5), time.max, tzinfo=LONDON)
    assert asof.parse("2025-04-05T12:00", LONDON) == datetime(2025, 4, 5, 12, tzinfo=LONDON)
    assert asof.parse("2025-04-05T12:00+00:00", LONDON) == datetime(2025, 4, 5, 12, tzinfo=UTC)
    assert asof.parse("yesterday", LONDON) is None and asof.parse("", LONDON) is None


def test_runs_page_opens_a_snapshot_from_its_link(seeded):
    with seeded.engine.connect() as conn:
        snapshot_id = conn.execute(text("SELECT id FROM snapshots ORDER BY asof_ts DESC LIMIT 1")).scalar_one()
    at = AppTest.from_file(APP_FILE, default_timeout=60)
    at.query_params["snapshot"] = str(snapshot_id)
    at.run()
    at.switch_page("views/runs.py")
    at.query_params["snapshot"] = str(snapshot_id)
    at.run()
    assert not at.exception
    texts = _texts(at)
    assert f"snapshot `{snapshot_id}`" in texts
    assert "SHA-256 `" in texts


def test_realised_gains_page_totals_the_brokers_figures_in_gbp(seeded):
    with seeded.engine.begin() as conn:
        broker, account, run_id = conn.execute(text(
            "SELECT broker, broker_account_id, run_id FROM snapshots LIMIT 1")).one()
        for n, (pnl, local, gbp) in enumerate((("100", "1000", "800"), ("-40", "500", "400"))):
            conn.execute(text(
                """INSERT INTO trades (broker, broker_trade_id, broker_account_id, trade_ts, quantity, amount_local,
                                       amount_gbp, currency, realized_pnl, run_id)
                   VALUES (:b, :t, :a, :ts, -1, :l, :g, 'USD', :p, :r)"""),
                {"b": broker, "t": f"T{n}", "a": account, "ts": datetime(2025, 6, 1 + n, tzinfo=UTC),
                 "l": Decimal(local), "g": Decimal(gbp), "p": Decimal(pnl), "r": run_id})
    at = AppTest.from_file(APP_FILE, default_timeout=60)
    at.run()
    at.switch_page("views/realised.py")
    at.run()
    assert not at.exception
    assert next(m.value for m in at.metric if m.label == "Realised (GBP)") == fmt.money(Decimal("48.00"), "GBP")
    assert len(at.dataframe[0].value) == 2


def test_reconciliation_flags_a_residual_over_tolerance_and_shows_the_nav_bridge(seeded):
    with seeded.engine.begin() as conn:
        broker, account, snapshot_id = conn.execute(text(
            "SELECT broker, broker_account_id, id FROM snapshots ORDER BY asof_ts DESC LIMIT 1")).one()
        conn.execute(text("UPDATE snapshots SET reported_total_gbp = total_value_gbp * 1.1 WHERE id = :id"),
                     {"id": snapshot_id})
        conn.execute(text(
            """INSERT INTO nav_changes (broker, broker_account_id, from_date, to_date, currency, starting_value,
                                        ending_value, deposits_withdrawals, dividends, mtm, fx_translation)
               VALUES (:b, :a, '2026-01-01', '2026-01-31', 'GBP', 1000, 1150, 100, 10, 45, -5)"""),
            {"b": broker, "a": account})
    at = AppTest.from_file(APP_FILE, default_timeout=60)
    at.run()
    at.switch_page("views/reconciliation.py")
    at.run()
    assert not at.exception
    assert "1 over the tolerance" in _texts(at)
    recon = at.dataframe[0].value
    assert int(recon["Over tolerance"].sum()) == 1
    assert "residual over tolerance" in _texts(at)
    bridge = at.dataframe[1].value
    assert list(bridge["End"]) == [1150.0] and list(bridge["Other"]) == [0.0]
