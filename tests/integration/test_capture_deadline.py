"""The capture's overall deadline (CAPTURE_TIMEOUT_S) against a real broker that trickles one byte at a time on
127.0.0.1: it is cut off at the deadline, categorised ``network``, the bytes it sent are kept, and the other
source's data is stored. Per-request timeouts alone never end such a response (every read gets a byte)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text

from portfolio_dashboard.brokers.deadline import Deadline, capture_deadline
from portfolio_dashboard.brokers.demo import DemoSource
from portfolio_dashboard.brokers.http import BrokerHttp, RetryPolicy
from portfolio_dashboard.brokers.ib_flex import IbFlexSource, PollPolicy
from portfolio_dashboard.cli.common import exit_code
from portfolio_dashboard.domain import RawResponse, RunStatus, TriggerContext
from portfolio_dashboard.errors import DeadlineError
from portfolio_dashboard.services.capture import capture
from tests.fakes.trickle import BODY, TrickleServer


@pytest.fixture
def trickle() -> Iterator[str]:
    with TrickleServer() as server:
        yield server.base_url


def test_the_http_layer_cuts_a_trickling_body_at_the_deadline_and_keeps_its_bytes(trickle: str) -> None:
    recorded: list[RawResponse] = []
    with httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0)) as client:
        http = BrokerHttp("slow", "slow", client, record=recorded.append,
                          policy=RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.01),
                          deadline=Deadline.after(1.5))
        started = time.monotonic()
        with pytest.raises(DeadlineError) as caught:
            http.request("GET", f"{trickle}/statement")
        elapsed = time.monotonic() - started
    assert elapsed < 5, "cut off near the deadline, not after the 30 s read timeout or the whole body"
    assert caught.value.category == "network" and "deadline" in caught.value.message
    assert len(recorded) == 1  # no retry after the deadline
    assert 0 < len(recorded[0].body) < len(BODY)
    assert BODY.startswith(recorded[0].body)
    assert http.retries == 0


def test_the_deadline_comes_from_the_capture_thread_when_the_client_has_none(trickle: str) -> None:
    with capture_deadline(1.0), httpx.Client(timeout=30.0) as client:
        http = BrokerHttp("slow", "slow", client)
        started = time.monotonic()
        with pytest.raises(DeadlineError):
            http.request("GET", f"{trickle}/statement", retry=False)
    assert time.monotonic() - started < 5


def test_a_trickling_broker_is_cut_off_and_the_other_source_is_stored(app, engine, trickle: str) -> None:
    app.settings.capture_timeout_s = 3.0
    app.reference_factory = lambda settings: None  # no public FX feed: nothing but our two sources on the wire
    flex = IbFlexSource(
        "tok", "q1", f"{trickle}/AccountManagement/FlexWebService", timeout=30.0, sleep=lambda _: None,
        poll=PollPolicy(first_wait=0.0, initial_wait=0.01, max_wait=0.01, max_total=60.0),
        retry=RetryPolicy(max_attempts=5, initial_wait=0.01, max_wait=0.01, max_total=60.0),
    )
    started = time.monotonic()
    result = capture(TriggerContext(sources=("demo", "ib_flex")), app=app,
                     sources={"demo": DemoSource(), "ib_flex": flex})
    elapsed = time.monotonic() - started

    assert elapsed < 20, f"the capture took {elapsed:.1f}s: the deadline did not end the trickle"
    assert result.status == RunStatus.PARTIAL and exit_code(result.status) == 2
    by_source = {o.source: o for o in result.sources}
    assert by_source["demo"].status == "success"
    assert by_source["ib_flex"].status == "fail" and by_source["ib_flex"].error_category == "network"
    assert "deadline" in (by_source["ib_flex"].error_message or "")
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT length(body_text) FROM raw_payloads WHERE broker = 'ib'")).scalars().all()
        demo_snapshots = conn.execute(text("SELECT count(*) FROM snapshots WHERE broker = 'demo'")).scalar_one()
    assert len(kept) == 1 and 0 < (kept[0] or 0) < len(BODY)  # the bytes that arrived are kept
    assert demo_snapshots > 0
