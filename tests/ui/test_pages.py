"""Every page's logic through Streamlit's AppTest, on a real database seeded with demo history.

The script runs in this process, so ``get_app()`` inside the pages is the test's ``app`` fixture.
"""

from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import text

from portfolio_dashboard.domain import TriggerContext, TriggerType
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.storage.reads import flows as rf
from portfolio_dashboard.storage.reads import holdings as read_holdings
from portfolio_dashboard.storage.reads import portfolio as rp
from portfolio_dashboard.storage.reads.scope import Scope
from portfolio_dashboard.ui import fmt, overview_parts, positions_table, state, value_chart
from tests.ui import chart_markup, static_tables
from tests.ui.conftest import run_page

pytestmark = pytest.mark.slow


def _summary(app, scope: Scope | None = None, currency="GBP"):
    with app.engine.connect() as conn:
        return rp.portfolio_summary(conn, scope or Scope(), currency)


def _texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    parts += [w.value for w in at.warning] + [e.value for e in at.error] + [s.value for s in at.success]
    return "\n".join(str(p) for p in parts)


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_overview_shows_the_total_and_both_changes(seeded):
    at = run_page()
    assert not at.exception
    s = _summary(seeded)
    assert _metric(at, "Total value") == fmt.money(s.total, "GBP")
    assert s.change_day is not None
    with seeded.engine.connect() as conn:  # the market's move: the money that came in since is not a gain
        moved = rf.money_in(conn, Scope(), s.change_day.since, s.asof)
    assert _metric(at, "Since previous day") == fmt.money(s.change_day.amount - moved.net_gbp, "GBP", signed=True)
    assert s.change_snapshot is not None
    if overview_parts.same_change(s.change_day, s.change_snapshot):  # one figure is never shown twice
        assert _metric(at, "Since previous snapshot") == fmt.DASH
        card = next(m for m in at.metric if m.label == "Since previous snapshot")
        assert card.proto.delta == overview_parts.SAME_AS_DAY
    else:
        assert _metric(at, "Since previous snapshot") == fmt.money(s.change_snapshot.amount, "GBP", signed=True)
    assert _charted_series(at) == [value_chart.PORTFOLIO]
    accounts = [row["Account"] for row in static_tables.parse(static_tables.find(at, "Wrapper"))]
    with seeded.engine.connect() as conn:
        lines = read_holdings.account_lines(conn, Scope())  # largest first
    assert accounts == [fmt.account_label(a.broker, a.broker_account_id) for a in lines]
    assert all(label.startswith("Demo ") and "••••" not in label for label in accounts)
    assert "Demo mode" in _texts(at)


def test_overview_in_usd_at_stored_rates(seeded):
    at = run_page()
    at.session_state[state.CURRENCY_KEY] = "USD"
    at.run()
    s = _summary(seeded, currency="USD")
    assert s.total is not None
    assert _metric(at, "Total value") == fmt.money(s.total, "USD")
    assert _metric(at, "Total value").startswith("$")
    assert "£1 = $" in _texts(at)


def test_filter_by_account_applies_to_overview_and_positions(seeded):
    at = run_page()
    at.multiselect(key=state.ACCOUNTS_KEY).set_value(["demo/DEMO-ISA-01"]).run()
    isa = _summary(seeded, Scope(accounts=(("demo", "DEMO-ISA-01"),)))
    assert _metric(at, "Total value") == fmt.money(isa.total, "GBP")
    assert "Filtered" in _texts(at)
    at.switch_page("views/positions.py").run()
    table = at.dataframe[0].value
    assert set(table["Account"]) == {"ISA-01"}
    assert at.session_state[state.ACCOUNTS_KEY] == ["demo/DEMO-ISA-01"]  # the filter survives page changes


def test_filter_by_broker_limits_the_account_choices(seeded):
    at = run_page()
    at.multiselect(key=state.BROKERS_KEY).set_value(["demo"]).run()
    assert not at.exception
    assert len(at.multiselect(key=state.ACCOUNTS_KEY).options) == 3


def test_stack_by_account(seeded):
    at = run_page()
    at.toggle(key="stack_by_account").set_value(True).run()
    assert not at.exception
    assert _charted_series(at) == ["Demo EU-01", "Demo ISA-01", "Demo US-01"]  # one area per account
    assert chart_markup.find(at).tips[-1].splitlines()[-1].startswith("Total: £")
    every = len(chart_markup.find(at).tips)
    at.segmented_control(key="value_chart_period").set_value("1M").run()
    assert not at.exception
    month = chart_markup.find(at).tips
    first, last = (datetime.strptime(tip.splitlines()[0], "%d %b %Y").date() for tip in (month[0], month[-1]))
    assert 28 <= (last - first).days <= 31 and len(month) < every  # the newest month only


def _charted_series(at):  # type: ignore[no-untyped-def]
    """The series the Overview's value chart draws as areas, less the net-money-in line drawn beside them."""
    return list(chart_markup.find(at).areas)


def test_empty_database_says_what_to_do(app):
    at = run_page()
    assert not at.exception
    assert "No snapshots yet" in _texts(at)
    assert "Load demo history" in [b.label for b in at.button]
    for page in ("positions", "allocation"):
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception
        assert "No snapshots yet" in _texts(at)
    at.switch_page("views/runs.py").run()
    assert "No capture has run yet" in _texts(at)


def test_unreachable_database_gives_a_message_not_a_traceback(tmp_path):
    from portfolio_dashboard.bootstrap import get_app
    from portfolio_dashboard.config import load_settings

    get_app(load_settings(database_url="postgresql://me:hunter2@127.0.0.1:9/portfolio",
                          portfolio_data_dir=tmp_path, _env_file=None))
    at = run_page()
    assert not at.exception
    message = _texts(at)
    assert "The database is not available" in message
    assert "127.0.0.1:9/portfolio" in message
    assert "hunter2" not in message + "".join(str(c.value) for c in at.caption)


def test_positions_table_csv_and_history(seeded):
    at = run_page("positions")
    assert not at.exception
    table = at.dataframe[0].value
    with seeded.engine.connect() as conn:
        lines = rp.latest_positions(conn, Scope())
    assert len(table) == len(lines) == 17
    assert list(table.columns) == positions_table.key_columns("GBP")
    assert table["Weight"].sum() == pytest.approx(1.0)
    assert len(at.get("download_button")) == 1
    at.text_input(key="positions_find").set_value("vanguard").run()
    assert set(at.dataframe[0].value["Symbol"]) == {"VUSA", "VWRL", "VOO", "BND"}
    box = at.selectbox(key="history_instrument")
    box.select_index(_index(box.options, "VUSA · ")).run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2
    assert "stored position(s) from" in _texts(at)


def test_allocation_by_every_dimension(seeded):
    at = run_page("allocation")
    assert not at.exception
    for label in ("Instrument", "Asset class", "Currency", "Broker", "Account"):
        at.session_state["allocation_by"] = label
        at.run()
        assert not at.exception
        table = at.dataframe[0].value
        assert table.columns[0] == label
        assert table["Weight"].sum() == pytest.approx(1.0)
        assert len(at.get("plotly_chart")) == 1
    assert set(table[label]) == {"Demo ISA-01", "Demo US-01", "Demo EU-01"}


def test_runs_drill_down_to_snapshots_and_raw_payloads(seeded):
    at = run_page("runs")
    assert not at.exception
    runs = at.dataframe[0].value
    assert list(runs["Status"][:2]) == ["success", "success"]
    assert runs["Trigger"].iloc[0] == "manual"
    snapshots = at.dataframe[2].value  # after the runs table and the per-source outcome
    assert len(snapshots) == 3
    code = at.code[0].value
    assert '"accounts"' in code
    assert code.startswith("{\n")


def test_a_capture_made_elsewhere_shows_without_clearing_anything(seeded):
    """The CLI or the scheduler captures: the data version in every cache key moves, so the page follows."""
    at = run_page("runs")
    before = len(at.dataframe[0].value)
    capture(TriggerContext(trigger_type=TriggerType.SCHEDULED, sources=("demo",)), app=seeded)
    time.sleep(5.5)  # the data version is itself cached for 5 s
    at.run()
    runs = at.dataframe[0].value
    assert len(runs) == before + 1
    assert runs["Trigger"].iloc[0] == "scheduled"


def test_connections_page(seeded):
    at = run_page("connections")
    assert not at.exception
    body = _texts(at)
    assert "Demo source (simulated accounts)" in body
    assert "Not configured. Set IB_GATEWAY_URL" in body
    assert "SCHWAB_CLIENT_ID" in body
    assert "embedded PostgreSQL" in body
    at.button(key="recheck").click().run()
    assert not at.exception


def test_instrument_override_form(seeded):
    at = run_page("instruments")
    assert not at.exception
    mappings = at.dataframe[1].value
    assert len(mappings) == 15
    assert set(mappings["Mapping"]) == {"broker"}
    boxes = [b for b in at.selectbox if b.label in ("Broker instrument", "Maps to global instrument")]
    boxes[0].select_index(_index(boxes[0].options, "VOO · "))  # options are shown as "symbol · broker · name"
    boxes[1].select_index(_index(boxes[1].options, "VUSA · "))
    next(b for b in at.button if b.label == "Save mapping").click().run()
    assert not at.exception
    assert "now counts as one holding" in _texts(at)
    with seeded.engine.connect() as conn:
        source = conn.execute(text(
            "SELECT m.mapping_source FROM instrument_mapping m JOIN instruments i ON i.id = m.instrument_id "
            "WHERE i.symbol = 'VOO'")).scalar_one()
    assert source == "manual"


def _index(options: list[str], prefix: str) -> int:
    return next(i for i, label in enumerate(options) if label.startswith(prefix))


def test_save_snapshot_runs_capture_and_refreshes_the_pages(seeded):
    at = run_page()
    with seeded.engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM snapshot_runs")).scalar_one()
    at.button(key="save_snapshot").click().run()
    assert not at.exception
    assert any("Snapshot saved" in s.value for s in at.success)
    with seeded.engine.connect() as conn:
        after = conn.execute(text("SELECT count(*) FROM snapshot_runs")).scalar_one()
    assert after == before + 1
    assert _metric(at, "Total value") == fmt.money(_summary(seeded).total, "GBP")


def test_double_click_starts_one_capture(seeded):
    at = run_page()
    with seeded.engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM snapshot_runs")).scalar_one()
    at.button(key="save_snapshot").click().run()
    at.button(key="save_snapshot").click().run()
    assert not at.exception
    with seeded.engine.connect() as conn:
        after = conn.execute(text("SELECT count(*) FROM snapshot_runs")).scalar_one()
    assert after == before + 1


class DownSource:
    name = "demo"
    broker = "demo"
    parser_version = "1"

    def fetch(self, record, ctx):
        from portfolio_dashboard.errors import NetworkError

        raise NetworkError("connection refused by 127.0.0.1:5000", source="ib_gateway",
                           hint="start the IB gateway and log in")

    def parse(self, raws):  # pragma: no cover - fetch fails first
        raise AssertionError

    def health(self):  # pragma: no cover - not used here
        raise AssertionError


def test_a_broker_down_gives_reasons_and_the_action(seeded):
    seeded.source_factory = lambda name, settings: DownSource()
    at = run_page()
    at.button(key="save_snapshot").click().run()
    assert not at.exception
    message = " ".join(e.value for e in at.error)
    assert "Snapshot failed" in message
    assert "start the ib gateway and log in" in message.lower()  # the broker module's own hint, first
    assert "Connections page" in message
    lines = [line for line in message.splitlines() if line.startswith("- ")]
    assert len(lines) == 1 and lines[0].startswith("- **demo** — ")  # one line per failed source
    assert any(e.label == "Details" for e in at.expander)  # the full message is one click away
    assert any("connection refused by 127.0.0.1:5000" in c.value for c in at.code)


def test_load_demo_history(app):
    at = run_page()
    at.button(key="load_demo_history").click().run()
    assert not at.exception
    assert any("Demo history loaded" in s.value for s in at.success)
    assert _metric(at, "Total value") != fmt.DASH
    assert Decimal(_metric(at, "Total value").strip("£").replace(",", "")) > 0


def test_runs_show_the_coverage_account_and_the_residual(seeded):
    at = run_page("runs")
    assert not at.exception
    outcome = at.dataframe[1].value
    assert list(outcome["Skipped rows"]) == [0]
    snapshots = at.dataframe[2].value
    assert "Residual (GBP)" in snapshots.columns and "Residual" in snapshots.columns
    assert all(abs(v) < 0.01 for v in snapshots["Residual (GBP)"])  # the demo reconciles to the penny
    coverage = at.dataframe[3].value  # the Coverage tab: the demo's sections
    assert {"accounts", "accounts.positions", "accounts.cash", "fxRates"} <= set(coverage["Section"])
    assert (coverage["Seen"] == coverage["Parsed"] + coverage["Skipped"]).all()
    stored = at.dataframe[4].value
    assert dict(zip(stored["Stored as"], stored["Stored now"], strict=True))["snapshots"] == 3
    overview = run_page()
    assert "Unreconciled" in static_tables.columns(static_tables.find(overview, "Wrapper"))
