"""The pages added for parity with the user's old app: Accounts, Data explorer, Help, asset classes,
per-source actions on Connections (AppTest on a real database seeded with demo history)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from portfolio_dashboard.bootstrap import App, get_app
from portfolio_dashboard.config import Settings, load_settings
from portfolio_dashboard.ui import jobs
from tests.fakes.ib_gateway import FakeIbGateway, isa_account
from tests.ui.conftest import run_page

pytestmark = pytest.mark.slow


def _texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    parts += [w.value for w in at.warning] + [e.value for e in at.error] + [s.value for s in at.success]
    return "\n".join(str(p) for p in parts)


def _wrapper(app: App, account: str) -> tuple[str | None, str | None, str | None]:
    with app.engine.connect() as conn:
        row = conn.execute(text("SELECT wrapper, wrapper_source, display_name FROM broker_accounts "
                                "WHERE broker_account_id = :a"), {"a": account}).one()
    return row[0], row[1], row[2]


def test_accounts_page_shows_wrappers_and_saves_the_users_choice(seeded):
    at = run_page("accounts")
    assert not at.exception
    table = at.dataframe[0].value
    assert dict(zip(table["Name"], table["Wrapper"], strict=True)) == {
        "Demo Stocks & Shares ISA": "ISA", "Demo US Brokerage": "US taxable", "Demo Euro Account": "GIA (taxable)"}
    assert set(table["Set by"]) == {"from the broker"}
    at.selectbox(key="account_pick").select("demo:DEMO-EU-01").run()
    at.selectbox(key="wrapper_demo_DEMO-EU-01").select("SIPP")
    at.text_input(key="name_demo_DEMO-EU-01").input("Pension (EUR)")
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception
    assert "Saved: Pension (EUR) is SIPP" in _texts(at)
    assert _wrapper(seeded, "DEMO-EU-01") == ("SIPP", "user", "Pension (EUR)")
    table = at.dataframe[0].value
    row = table[table["Name"] == "Pension (EUR)"].iloc[0]
    assert (row["Wrapper"], row["Set by"]) == ("SIPP", "set by you")


def test_explorer_lists_tables_newest_first_and_hides_raw_bodies(seeded):
    at = run_page("explorer")
    assert not at.exception
    box = at.selectbox(key="explorer_relation")
    listed = {o.split("  (")[0] for o in box.options}  # shown as "name  (table, ~N rows)"
    assert {"snapshot_runs", "broker_accounts", "raw_payloads", "positions", "alembic_version"} <= listed
    runs = at.dataframe[0].value
    assert list(runs["started_at"]) == sorted(runs["started_at"], reverse=True)
    box.select("raw_payloads").run()
    frame = at.dataframe[0].value
    assert not {"payload_json", "body_text", "body_bytes", "headers"} & set(frame.columns)
    assert "hidden: payload_json" in _texts(at)
    at.checkbox(key="explorer_raw").check().run()
    assert {"payload_json", "headers"} <= set(at.dataframe[0].value.columns)
    at.selectbox(key="explorer_limit").select(50).run()
    assert len(at.dataframe[0].value) <= 50
    assert at.get("download_button")
    with seeded.engine.connect() as conn:  # the explorer reads, never writes
        assert conn.execute(text("SELECT count(*) FROM raw_payloads")).scalar_one() > 0


def test_help_page(seeded):
    at = run_page("help")
    assert not at.exception
    body = _texts(at)
    for section in ("Account Information", "Open Positions", "Cash Report", "Equity Summary", "Conversion Rates",
                    "Trades", "Cash Transactions", "Transfers", "Corporate Actions", "Change in NAV",
                    "Open Dividend Accruals"):
        assert section in body
    assert "clientportal.gw" in body
    assert "developer.schwab.com" in body
    assert "Positions" in body
    assert [e.label for e in at.expander][:3] == ["Interactive Brokers — Client Portal gateway",
                                                  "Interactive Brokers — Flex Web Service",
                                                  "Charles Schwab — Trader API"]


def test_allocation_by_the_users_class_and_the_class_editor(seeded):
    at = run_page("instruments")
    assert not at.exception
    classes = at.dataframe[2].value  # after the global and the broker instruments tables
    by_symbol = dict(zip(classes["Symbol"], classes["Class"], strict=True))
    assert (by_symbol["SGLN"], by_symbol["BND"], by_symbol["AAPL"]) == ("Commodity ETF", "Bond ETF", "Equity")
    pick = at.selectbox(key="class_pick")
    vusa = next(o for o in pick.options if o.startswith("VUSA · "))
    pick.select(vusa).run()
    box = next(b for b in at.selectbox if b.label == "Class")
    box.select("Fund")
    sub = next(t for t in at.text_input if t.label == "Sub-class")
    sub.input("Index tracker")
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception
    assert "Saved: VUSA is Fund · Index tracker." in _texts(at)

    at.switch_page("views/allocation.py").run()
    at.session_state["allocation_by"] = "Your class"
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert {"Equity", "Equity ETF", "Commodity ETF", "Bond ETF", "Cash", "Fund"} == set(table["Your class"])
    assert table["Weight"].sum() == pytest.approx(1.0)
    at.session_state["allocation_by"] = "Class · sub-class"
    at.run()
    assert "Fund · Index tracker" in set(at.dataframe[0].value["Class · sub-class"])


def test_capture_one_source_from_connections(seeded):
    at = run_page("connections")
    assert not at.exception
    with seeded.engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM snapshot_runs")).scalar_one()
    at.button(key="capture-demo").click().run()
    jobs.JOB.wait(60)
    assert not at.exception
    with seeded.engine.connect() as conn:
        runs = conn.execute(text("SELECT count(*) FROM snapshot_runs")).scalar_one()
        sources = conn.execute(text("SELECT sources FROM snapshot_runs ORDER BY started_at DESC LIMIT 1")).scalar()
    assert (runs, list(sources)) == (before + 1, ["demo"])


@pytest.fixture
def gateway() -> Iterator[FakeIbGateway]:
    with FakeIbGateway([isa_account()], enforce_pacing=False) as gw:
        gw.logged_in = False
        yield gw


@pytest.fixture
def settings(db_url: str, tmp_path, gateway: FakeIbGateway) -> Settings:
    """Schwab configured (no login yet) and an IB gateway that is up but not signed in."""
    return load_settings(database_url=db_url, portfolio_data_dir=tmp_path / "data", _env_file=None,
                         schwab_client_id="demo-client-id", schwab_client_secret="demo-secret",
                         ib_gateway_url=gateway.url, ib_gateway_verify=gateway.ca_path)


def test_gateway_login_is_followed_and_schwab_can_be_disconnected(app, gateway):
    app.migrate()
    token = app.settings.resolved_schwab_token_path
    token.parent.mkdir(parents=True, exist_ok=True)
    token.write_text("{}", encoding="utf-8")
    at = run_page("connections")
    assert not at.exception
    assert "Gateway: waiting for you to sign in — checking every 3 s" in _texts(at)
    assert "reachable · **not signed in**" in _texts(at)
    gateway.logged_in = True  # the user signs in on the gateway's page
    at.run()  # what the fragment's timer does in a browser
    assert not at.exception
    assert "checking every" not in _texts(at)
    assert "reachable · signed in" in _texts(at)  # the page shows it without a Re-check

    at.button(key="schwab_logout").click().run()
    assert not at.exception
    assert "Disconnected from Schwab" in _texts(at)
    assert not token.exists()
    assert get_app() is app
