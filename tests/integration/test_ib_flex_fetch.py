"""The Flex Web Service protocol over real HTTP against the fake Flex service on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portfolio_dashboard.brokers.base import FetchContext
from portfolio_dashboard.brokers.http import RetryPolicy
from portfolio_dashboard.brokers.ib_flex import IbFlexSource, PollPolicy
from portfolio_dashboard.config import load_settings
from portfolio_dashboard.domain import RawResponse
from portfolio_dashboard.errors import AuthError, ConfigError, NetworkError, RateLimitError, ValidationError
from tests.fakes.clock import FakeTime
from tests.fakes.flex_statement import sample
from tests.fakes.ib_flex import FakeFlex

TOKEN = "785212416354837261536281"
QUERY = "987654"


@pytest.fixture
def flex() -> Iterator[FakeFlex]:
    with FakeFlex(token=TOKEN, query_id=QUERY, statement=sample()) as fake:
        yield fake


def source(flex: FakeFlex, clock: FakeTime | None = None, token: str = TOKEN, query: str = QUERY) -> IbFlexSource:
    clock = clock or FakeTime()
    return IbFlexSource(
        token,
        query,
        flex.base_url,
        sleep=clock.sleep,
        clock=clock.monotonic,
        poll=PollPolicy(first_wait=1.5, initial_wait=2.0, factor=2.0, max_wait=10.0, max_total=60.0, max_polls=10),
        retry=RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.02, max_total=30.0),
    )


def fetch(src: IbFlexSource) -> list[RawResponse]:
    recorded: list[RawResponse] = []
    try:
        src.fetch(recorded.append, FetchContext())
    finally:
        fetch.last = recorded  # type: ignore[attr-defined]
    return recorded


def assert_no_token(raws: list[RawResponse]) -> None:
    for r in raws:
        assert TOKEN not in r.endpoint and TOKEN.encode() not in r.body
        assert "t=***" in r.endpoint


def test_success_after_two_in_progress_answers(flex):
    flex.in_progress = 2
    clock = FakeTime()
    src = source(flex, clock)
    raws = fetch(src)
    paths = [r.path for r in flex.requests]
    assert paths == [
        "/AccountManagement/FlexWebService/SendRequest",
        *["/AccountManagement/FlexWebService/GetStatement"] * 3,
    ]
    first = flex.requests[0]
    assert first.param("t") == TOKEN and first.param("q") == QUERY and first.param("v") == "3"
    assert flex.requests[1].param("q") == "7015551001"
    assert first.headers["User-Agent"].startswith("Python/3.")
    assert len(raws) == 4 and all(r.status_code == 200 for r in raws)
    assert b"<ErrorCode>1019</ErrorCode>" in raws[1].body and b"<FlexQueryResponse" in raws[3].body
    assert_no_token(raws)
    # a pause before the first GetStatement, then growing pauses between polls (plus 1 s pacing)
    assert [s for s in clock.sleeps if s > 1] == [1.5, 2.0, 4.0]
    assert src.retries == 2
    result = src.parse(raws)
    assert {s.account.broker_account_id for s in result.snapshots} == {"U1234567", "U7654321"}


def test_polling_gives_up_within_its_budget(flex):
    flex.in_progress = 100
    clock = FakeTime()
    with pytest.raises(NetworkError, match="had not finished") as info:
        fetch(source(flex, clock))
    assert "1019" in str(info.value)
    assert clock.now <= 60 + 10
    assert flex.server.count("GET", ".*/GetStatement") < 10
    assert_no_token(fetch.last)  # type: ignore[attr-defined]


def test_throttled_send_request_is_retried(flex):
    flex.send_errors.extend(["1018"])
    clock = FakeTime()
    src = source(flex, clock)
    raws = fetch(src)
    assert flex.server.count("GET", ".*/SendRequest") == 2
    assert 10.0 in clock.sleeps  # IBKR gives no Retry-After; ten seconds, as documented in the code
    assert src.retries >= 1
    assert b"1018" in raws[0].body


def test_persistent_throttling_is_a_rate_limit_error(flex):
    flex.send_errors.extend(["1018"] * 5)
    with pytest.raises(RateLimitError) as info:
        fetch(source(flex))
    assert info.value.category == "rate_limit"
    assert "wait a minute" in (info.value.hint or "")


def test_expired_token_is_an_auth_error_telling_what_to_do(flex):
    flex.send_errors.append("1012")
    with pytest.raises(AuthError) as info:
        fetch(source(flex))
    message = info.value.user_message()
    assert "1012" in message and "IB_FLEX_TOKEN" in message and "new token" in message
    assert flex.server.count("GET", ".*/SendRequest") == 1  # never retried


def test_wrong_token_is_an_auth_error(flex):
    with pytest.raises(AuthError, match="1015"):
        fetch(source(flex, token="not-the-token"))


def test_invalid_query_is_a_validation_error(flex):
    with pytest.raises(ValidationError, match="1014") as info:
        fetch(source(flex, query="111"))
    assert "IB_FLEX_QUERY_ID" in (info.value.hint or "")


def test_server_busy_while_fetching_is_polled(flex):
    flex.get_errors.extend(["1009", "1019"])
    raws = fetch(source(flex))
    assert b"<FlexQueryResponse" in raws[-1].body


def test_an_echoed_token_is_never_recorded_or_reported(flex):
    flex.echo_token = True
    flex.send_errors.append("1012")
    with pytest.raises(AuthError) as info:
        fetch(source(flex))
    assert TOKEN not in str(info.value)
    raws = fetch.last  # type: ignore[attr-defined]
    assert raws and b"(token ***)" in raws[0].body
    assert_no_token(raws)


def test_a_statement_url_on_a_foreign_host_is_not_trusted(flex):
    flex.url_override = "https://evil.example.com/GetStatement"
    fetch(source(flex))
    assert all(r.path.startswith("/AccountManagement/FlexWebService/") for r in flex.requests)
    assert flex.server.count("GET", ".*/GetStatement") == 1


def test_a_csv_statement_is_a_validation_error_with_a_hint(flex):
    flex.statement = b"ClientAccountID,Symbol,Quantity\nU1234567,AAPL,50\n"
    with pytest.raises(ValidationError, match="not XML") as info:
        fetch(source(flex))
    assert "XML" in (info.value.hint or "")


def test_an_http_error_page_is_retried_then_reported(flex):
    from tests.fakes.server import Reply

    path = "/AccountManagement/FlexWebService/SendRequest"
    flex.server.fail_next("GET", path, Reply.text("<html>bad gateway</html>", 502, "text/html"))
    raws = fetch(source(flex))
    assert raws[0].status_code == 502 and b"<FlexQueryResponse" in raws[-1].body


def test_unreachable_service_is_a_network_error():
    src = IbFlexSource(TOKEN, QUERY, "http://127.0.0.1:9/AccountManagement/FlexWebService", sleep=lambda s: None,
                       retry=RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.01, max_total=1.0))
    with pytest.raises(NetworkError) as info:
        src.fetch(lambda raw: None, FetchContext())
    assert TOKEN not in str(info.value)


def test_health(flex):
    assert source(flex).health().authenticated is True
    bad = source(flex, token="wrong").health()
    assert (bad.reachable, bad.authenticated) == (True, False) and "IB_FLEX_TOKEN" in bad.detail
    flex.send_errors.append("1009")
    busy = source(flex).health()
    assert (busy.reachable, busy.authenticated) == (True, True) and "1009" in busy.detail
    assert flex.server.count("GET", ".*/GetStatement") == 0


def test_from_settings(tmp_path):
    settings = load_settings(ib_flex_token=TOKEN, ib_flex_query_id=QUERY, _env_file=None, portfolio_data_dir=tmp_path)
    src = IbFlexSource.from_settings(settings)
    assert src.base_url.endswith("/AccountManagement/FlexWebService") and TOKEN not in repr(src)
    with pytest.raises(ConfigError, match="IB_FLEX_TOKEN"):
        IbFlexSource.from_settings(load_settings(_env_file=None, portfolio_data_dir=tmp_path))
