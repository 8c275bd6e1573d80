"""One-click views and the filter in the URL (issue 19, item 2), through AppTest on a real database.

The demo's ISA account is tagged ISA (as a broker or the user would) so "ISA only" has something to show.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.storage.reads import portfolio as rp
from portfolio_dashboard.storage.reads import views as read_views
from portfolio_dashboard.storage.reads.scope import Scope
from portfolio_dashboard.ui import fmt, state, url_state, view_picker
from tests.ui.conftest import APP_FILE

pytestmark = pytest.mark.slow


@pytest.fixture
def tagged(seeded: App) -> App:
    with seeded.engine.begin() as conn:
        conn.execute(text("UPDATE broker_accounts SET wrapper = 'ISA', wrapper_source = 'user' "
                          "WHERE broker_account_id = 'DEMO-ISA-01'"))
        conn.execute(text("UPDATE broker_accounts SET wrapper = 'GIA', wrapper_source = 'user' "
                          "WHERE broker_account_id = 'DEMO-US-01'"))
    return seeded


def _open(query: dict[str, str] | None = None, page: str | None = None) -> AppTest:
    """A fresh browser session opening the dashboard at an address with ``query``."""
    at = AppTest.from_file(APP_FILE, default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    if page:
        at.switch_page(f"views/{page}.py").run()
    return at


def _total(app: App, scope: Scope, currency: str = "GBP") -> str:
    with app.engine.connect() as conn:
        return fmt.money(rp.portfolio_summary(conn, scope, currency).total, currency)


def _metric(at: AppTest, label: str) -> str:
    return str(next(m.value for m in at.metric if m.label == label))


def _url(at: AppTest) -> dict[str, str]:
    return {k: v[-1] if isinstance(v, list) else v for k, v in at.query_params.items()}


def test_isa_only_from_the_url(tagged):
    at = _open({"wrapper": "ISA"})
    assert not at.exception
    assert at.session_state[state.WRAPPERS_KEY] == ["ISA"]
    isa = _total(tagged, Scope(wrappers=("ISA",)))
    assert isa == _total(tagged, Scope(accounts=(("demo", "DEMO-ISA-01"),)))
    assert _metric(at, "Total value") == isa != _total(tagged, Scope())
    assert at.pills(key=view_picker.PICK_KEY).value == "wrapper:ISA"  # the view shows as chosen
    assert "ISA only" in " ".join(c.value for c in at.caption)
    at.switch_page("views/positions.py").run()  # the filter and the URL survive a change of page
    assert set(at.dataframe[0].value["Account"]) == {"ISA-01"}
    assert _url(at) == {"wrapper": "ISA"}


def test_broker_account_and_currency_from_the_url(tagged):
    at = _open({"account": "demo:DEMO-US-01", "ccy": "usd"})
    assert not at.exception
    assert at.session_state[state.ACCOUNTS_KEY] == ["demo/DEMO-US-01"]
    assert at.session_state[state.CURRENCY_KEY] == "USD"
    assert _metric(at, "Total value") == _total(tagged, Scope(accounts=(("demo", "DEMO-US-01"),)), "USD")
    at = _open({"broker": "demo"}, page="positions")
    assert at.session_state[state.BROKERS_KEY] == ["demo"]
    assert _url(at) == {"broker": "demo"}


def test_one_click_views_put_the_filter_in_the_url(tagged):
    at = _open()
    pills = at.pills(key=view_picker.PICK_KEY)
    assert pills.options == ["All", "Demo", "GIA only", "ISA only"]  # labels; keys below
    assert pills.value == "all"
    pills.set_value("wrapper:GIA").run()
    assert not at.exception
    assert _url(at) == {"wrapper": "GIA"}
    assert _metric(at, "Total value") == _total(tagged, Scope(wrappers=("GIA",)))
    at.pills(key=view_picker.PICK_KEY).set_value("all").run()
    assert _url(at) == {}
    assert _metric(at, "Total value") == _total(tagged, Scope())
    at.multiselect(key=state.WRAPPERS_KEY).set_value(["ISA"]).run()  # the sidebar filter is the same view
    assert at.pills(key=view_picker.PICK_KEY).value == "wrapper:ISA"


def test_a_saved_view_is_one_click_and_an_address(tagged):
    at = _open({"wrapper": "ISA", "ccy": "USD"})
    at.text_input(key=view_picker.NAME_KEY).set_value("My ISA").run()
    at.button(key="view_save").click().run()
    assert not at.exception
    with tagged.engine.connect() as conn:
        saved = {v.name: v.query for v in read_views.saved_views(conn)}
    assert url_state.parse_string(saved["My ISA"]) == {"wrapper": ["ISA"], "ccy": ["USD"]}
    assert _url(at) == {"view": "My ISA", "wrapper": "ISA", "ccy": "USD"}
    assert "View “My ISA”" in " ".join(c.value for c in at.caption)

    fresh = _open({"view": "My ISA"})  # a bookmark, in a new browser session
    assert not fresh.exception
    assert fresh.session_state[state.WRAPPERS_KEY] == ["ISA"]
    assert fresh.session_state[state.CURRENCY_KEY] == "USD"
    assert _metric(fresh, "Total value") == _total(tagged, Scope(wrappers=("ISA",)), "USD")
    assert "saved:My ISA" in fresh.pills(key=view_picker.PICK_KEY).options or \
        fresh.pills(key=view_picker.PICK_KEY).value == "saved:My ISA"

    fresh.button(key="view_del_My ISA").click().run()
    with tagged.engine.connect() as conn:
        assert read_views.saved_views(conn) == []
    unknown = _open({"view": "Nope"})
    assert not unknown.exception
    assert any("no saved view called “Nope”" in t.value for t in unknown.toast)


def test_an_empty_view_name_is_refused(tagged):
    at = _open()
    at.button(key="view_save").click().run()
    assert not at.exception
    assert "Give the view a name." in " ".join(c.value for c in at.caption)
    with tagged.engine.connect() as conn:
        assert read_views.saved_views(conn) == []


def test_url_parsing_is_forgiving():
    q = url_state.parse({"wrapper": ["isa,sipp", "ISA"], "broker": "ib", "ccy": ["gbp", "usd"], "x": "1"})
    assert q == {"wrapper": ["ISA", "SIPP"], "broker": ["ib"], "ccy": ["USD"]}
    assert url_state.parse_string(url_state.to_string(q)) == q
    assert url_state.filter_part(q) == {"wrapper": ["ISA", "SIPP"], "broker": ["ib"]}
