"""Schwab money flows over HTTPS against the fake Trader API: windows, history start, parse of every type."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolio_dashboard.brokers.base import FetchContext
from portfolio_dashboard.brokers.schwab import flow_windows
from portfolio_dashboard.brokers.schwab_transactions import FETCH_TYPES, schwab_flows
from portfolio_dashboard.domain import RawResponse
from tests.fakes.schwab import CASH_HASH, MARGIN_HASH, MARGIN_NUMBER, FakeSchwab, build_source, seed_tokens
from tests.fakes.schwab_flows import EXPECTED, SKIPPED, flow_transactions

TX_PATH = "/trader/v1/accounts/{}/transactions"


@pytest.fixture
def fake() -> Iterator[FakeSchwab]:
    with FakeSchwab() as server:
        yield server


@pytest.fixture
def token_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "schwab-token.json"


def flow_requests(fake: FakeSchwab, account_hash: str) -> list[tuple[datetime, datetime]]:
    return [
        (datetime.fromisoformat(r.param("startDate") or ""), datetime.fromisoformat(r.param("endDate") or ""))
        for r in fake.server.requests
        if r.path == TX_PATH.format(account_hash) and r.param("types") != "TRADE"
    ]


def capture(fake: FakeSchwab, token_path: Path, ctx: FetchContext, **kwargs: object) -> list[RawResponse]:
    seed_tokens(fake, token_path)
    source = build_source(fake, token_path, **kwargs)
    raws: list[RawResponse] = []
    source.fetch(raws.append, ctx)
    return raws


def test_first_capture_reads_a_year_of_every_money_type(fake: FakeSchwab, token_path: Path) -> None:
    raws = capture(fake, token_path, FetchContext())
    request = next(r for r in fake.server.requests if r.param("types") not in (None, "TRADE"))
    assert request.param("types") == ",".join(FETCH_TYPES)
    ((start, end),) = flow_requests(fake, MARGIN_HASH)
    assert end - start == timedelta(days=365)
    result = build_source(fake, token_path).parse(raws)
    got = {f.broker_flow_id: (f.kind.value, f.amount_local) for f in result.cash_flows}
    wanted = {k: (kind, Decimal(a)) for k, (kind, a) in EXPECTED.items() if k != "90000000001"}  # 380 days old
    assert got == wanted
    skipped = [w for w in result.warnings if "skipped" in w]
    for activity_id, reason in SKIPPED.items():
        assert any(activity_id in w and reason in w for w in skipped), (activity_id, skipped)
    transfer = next(f for f in result.cash_flows if f.broker_flow_id == "90000000008")
    assert transfer.quantity == Decimal(3) and transfer.instrument is not None
    assert transfer.instrument.symbol == "MSFT"
    dividend = next(f for f in result.cash_flows if f.broker_flow_id == "90000000004")
    assert dividend.instrument is not None and dividend.instrument.symbol == "AAPL"
    assert dividend.broker_account_id == MARGIN_NUMBER and dividend.flow_ts.tzinfo is not None


def test_history_start_backfills_in_windows_of_at_most_a_year(fake: FakeSchwab, token_path: Path) -> None:
    now = datetime.now(UTC)
    start = (now - timedelta(days=500)).date()
    raws = capture(fake, token_path, FetchContext(now=now), history_start=start)
    windows = flow_requests(fake, CASH_HASH)
    assert len(windows) == 2  # the fake answers 400 to any range over a year, as Schwab does
    assert windows[0][0] == datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    assert all(b - a <= timedelta(days=365) for a, b in windows)
    assert windows[0][1] == windows[1][0]
    assert all(r.status_code == 200 for r in raws)
    flows = build_source(fake, token_path).parse(raws).cash_flows
    assert "90000000001" in {f.broker_flow_id for f in flows}  # the 380-day-old wire is now within reach


def test_later_captures_start_a_week_before_the_newest_flow(fake: FakeSchwab, token_path: Path) -> None:
    now = datetime.now(UTC)
    newest = now - timedelta(days=10)
    ctx = FetchContext(now=now, newest_flow_ts=lambda broker, acct: newest if acct == MARGIN_NUMBER else None)
    raws = capture(fake, token_path, ctx, history_start=date(2020, 1, 1))
    ((start, _),) = flow_requests(fake, MARGIN_HASH)
    assert abs(start - (newest - timedelta(days=7))) < timedelta(milliseconds=1)
    assert len(flow_requests(fake, CASH_HASH)) > 1  # no stored flow there: from the history start
    flows = build_source(fake, token_path).parse(raws).cash_flows
    margin_ids = {f.broker_flow_id for f in flows if f.broker_account_id == MARGIN_NUMBER}
    # within 17 days: the 15- and 12-day-old ones and the newer; not the 40- and 60-day-old
    assert margin_ids == {
        "80990733999", "90000000003", "90000000004", "90000000005", "90000000006", "90000000007", "90000000011"
    }


def test_recapture_adds_nothing_new(fake: FakeSchwab, token_path: Path) -> None:
    raws = capture(fake, token_path, FetchContext())
    source = build_source(fake, token_path)
    once = source.parse(raws).cash_flows
    assert source.parse(raws + raws).cash_flows == once


def test_flow_windows_never_exceed_a_year() -> None:
    now = datetime(2026, 12, 4, tzinfo=UTC)
    windows = flow_windows(None, now, date(2023, 6, 1))
    assert windows[0][0] == datetime(2023, 6, 1, tzinfo=UTC) and windows[-1][1] == now
    assert all(timedelta(0) < b - a <= timedelta(days=365) for a, b in windows)
    assert flow_windows(None, now, None) == [(now - timedelta(days=365), now)]
    assert flow_windows(now - timedelta(days=1), now, date(2020, 1, 1)) == [(now - timedelta(days=8), now)]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_KEYS = ["activityId", "time", "type", "status", "netAmount", "description", "transferItems", "accountNumber"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_parse_never_crashes_on_odd_transactions(data: st.DataObject) -> None:
    txs = flow_transactions(datetime(2026, 12, 4, tzinfo=UTC))[MARGIN_NUMBER]
    for _ in range(data.draw(st.integers(1, 6))):
        tx = data.draw(st.sampled_from(txs))
        key = data.draw(st.sampled_from(_KEYS))
        if data.draw(st.booleans()):
            tx[key] = data.draw(_JSON)
        else:
            tx.pop(key, None)
    body = json.dumps(txs, allow_nan=True).encode()
    raw = RawResponse("schwab", "schwab", f"GET {TX_PATH.format(MARGIN_HASH)}", datetime.now(UTC), 200, body,
                      "application/json")
    flows, _warnings = schwab_flows([(raw, MARGIN_NUMBER)])
    for flow in flows:
        assert isinstance(flow.amount_local, Decimal) and flow.flow_ts.tzinfo is not None
    assert len({f.broker_flow_id for f in flows}) == len(flows)
