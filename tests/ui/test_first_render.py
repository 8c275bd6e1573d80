"""The Overview's reads: cached across sessions until the data changes; the chart sent first and drawn in its
place below the numbers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from portfolio_dashboard.domain import TriggerContext, TriggerType
from portfolio_dashboard.services import returns as returns_service
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.storage.reads import portfolio as rp
from portfolio_dashboard.storage.reads.scope import Scope
from portfolio_dashboard.ui import data, fmt, overview_flows, sidebar
from tests.ui.conftest import run_page

pytestmark = pytest.mark.slow

READS = ("has_snapshots", "accounts", "portfolio_summary", "portfolio_series")


def _noting(real: Callable[..., Any], note: Callable[[], None]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        note()
        return real(*args, **kwargs)
    return call


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often each of the Overview's read queries reached the database."""
    calls: Counter[str] = Counter()
    for name in READS:
        monkeypatch.setattr(rp, name, _noting(getattr(rp, name), lambda n=name: calls.update([n])))
    return calls


def _total(at: Any) -> str:
    return str(next(m.value for m in at.metric if m.label == "Total value"))


def _summary_total(app: Any) -> str:
    with app.engine.connect() as conn:
        return fmt.money(rp.portfolio_summary(conn, Scope()).total, "GBP")


def test_a_second_session_is_served_from_cache_and_a_capture_made_elsewhere_still_shows(seeded, reads):
    first = run_page()
    assert not first.exception
    assert reads == dict.fromkeys(READS, 1)
    at = run_page()  # a new session: every Overview read is already cached
    assert reads == dict.fromkeys(READS, 1)
    assert _total(at) == _summary_total(seeded)
    # a scheduled capture moves the data version in every key, so the cached entries are no longer used
    capture(TriggerContext(trigger_type=TriggerType.SCHEDULED, sources=("demo",)), app=seeded)
    data.data_version.clear()  # what the next 5 s do (the data version is itself cached that long)
    reads.clear()
    at.run()
    assert reads["portfolio_summary"] == 1
    assert reads["portfolio_series"] == 1
    assert _total(at) == _summary_total(seeded)


def test_the_dashboards_own_capture_clears_the_cached_entries(seeded, reads):
    run_page()
    data.clear()  # what a finished Save Snapshot does
    run_page()
    assert reads["portfolio_summary"] == 2
    assert reads["portfolio_series"] == 2  # the chart's points too (kept in Streamlit's other cache)


def test_the_dashboards_own_changes_clear_the_returns_pages_prepared_series(seeded, monkeypatch):
    """Shared through st.cache_resource, not st.cache_data: an account's new wrapper changes what a wrapper
    filter holds without a new run, so the dashboard's own changes must forget them too."""
    prepared: list[object] = []
    monkeypatch.setattr(returns_service, "prepare",
                        _noting(returns_service.prepare, lambda: prepared.append("prepare")))
    assert not run_page("returns").exception
    assert not run_page("returns").exception  # a second session: served from the shared cache
    assert len(prepared) == 1
    data.clear()  # what an account's wrapper change, a mapping override or a capture does
    assert not run_page("returns").exception
    assert len(prepared) == 2


def test_an_empty_database_reads_no_summary(app, reads):
    at = run_page()
    assert reads["portfolio_summary"] == 0
    assert "No snapshots yet" in at.info[0].value


@pytest.fixture
def order(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """What the page did, in order: reads of the numbers and the chart, the sidebar drawn."""
    events: list[object] = []
    for name, label in (("summary", "numbers"), ("series", "chart"), ("holding_stats", "positions"),
                        ("holdings", "holdings")):
        monkeypatch.setattr(data, name, _noting(getattr(data, name), lambda x=label: events.append(x)))
    monkeypatch.setattr(sidebar, "render", _noting(sidebar.render, lambda: events.append("sidebar")))
    monkeypatch.setattr(overview_flows, "since_previous_day",  # one of the headline's numbers
                        _noting(overview_flows.since_previous_day, lambda: events.append("headline")))
    return events


def _reading_order(node: Any) -> list[Any]:
    """Every element of an AppTest tree in the order a reader sees them (containers in their place)."""
    children = getattr(node, "children", None)
    if children is None:
        return [node]
    return [leaf for _, child in sorted(children.items()) for leaf in _reading_order(child)]


def test_the_chart_is_sent_first_and_drawn_below_the_position_headlines(seeded, order):
    at = run_page()
    assert not at.exception
    # sent: after the summary read, the chart first (the page's largest part), then the headline's numbers, the sidebar and the position headlines (whose first run reads
    # the holdings)
    assert order == ["numbers", "chart", "headline", "sidebar", "positions", "holdings"]
    assert at.sidebar.button(key="save_snapshot")  # drawn once, in the sidebar
    # drawn: the total, the position headlines, the chart, the account table, in that order on the page
    page = _reading_order(at.main)
    def where(test: Callable[[Any], bool]) -> int:
        return next(i for i, e in enumerate(page) if test(e))
    total = where(lambda e: e.type == "metric" and e.label == "Total value")
    positions = where(lambda e: e.type == "metric" and e.label == "Positions")
    chart = where(lambda e: e.type == "markdown" and 'class="pdc"' in e.value)
    accounts = where(lambda e: e.type == "subheader" and e.value == "By account")
    assert total < positions < chart < accounts
    order.clear()
    at.run()  # later runs of the session: the same order
    assert order == ["numbers", "chart", "headline", "sidebar", "positions"]


def test_other_pages_draw_the_sidebar_first(seeded, order):
    at = run_page("positions")
    assert not at.exception
    assert order[-2:] == ["sidebar", "holdings"]
