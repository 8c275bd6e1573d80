"""The ib_gateway source against the fake Client Portal gateway over real HTTPS (trustme certificate).

Time is virtual: the source's pacer and retry waits sleep on a ``VirtualClock`` that the fake's pacing checks
also read, so IBKR's 10 requests/s and one-accounts-call-per-5-s limits are enforced without slow tests.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from portfolio_dashboard.brokers.base import BrokerSource, FetchContext
from portfolio_dashboard.brokers.http import RetryPolicy
from portfolio_dashboard.brokers.ib_gateway import IbGatewaySource
from portfolio_dashboard.domain import AccountSnapshot, AssetClass, FxRate, ParseResult, RawResponse
from portfolio_dashboard.errors import AuthError, NetworkError, ParsingError
from tests.fakes.ib_gateway import (
    SESSION_ID,
    FakeIbGateway,
    VirtualClock,
    general_account,
    isa_account,
    net_liquidation,
    usd_account,
)
from tests.fakes.server import Reply

TS_MS = 1_763_938_800_123


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def gateway(clock: VirtualClock) -> Iterator[FakeIbGateway]:
    with FakeIbGateway([isa_account(), general_account()], clock=clock, timestamp_ms=TS_MS) as gw:
        yield gw


def make_source(gw: FakeIbGateway, clock: VirtualClock, **kwargs: object) -> IbGatewaySource:
    policy = RetryPolicy(max_attempts=4, initial_wait=0.2, max_wait=1.0, max_total=30.0)
    return IbGatewaySource(
        gw.url,
        verify=gw.ca_path,
        sleep=clock.sleep,
        clock=clock.now,
        retry_policy=policy,
        **kwargs,  # type: ignore[arg-type]
    )


def run(source: IbGatewaySource) -> tuple[list[RawResponse], ParseResult]:
    raws: list[RawResponse] = []
    source.fetch(raws.append, FetchContext())
    return raws, source.parse(raws)


def snapshot_of(result: ParseResult, account: str) -> AccountSnapshot:
    return next(s for s in result.snapshots if s.account.broker_account_id == account)


def to_gbp(rates: tuple[FxRate, ...], currency: str) -> Decimal:
    """GBP per one ``currency`` from the source's own rates (direct, or through the account base)."""
    if currency == "GBP":
        return Decimal(1)
    for r in rates:
        if r.source_ccy == currency and r.target_ccy == "GBP":
            return r.rate
    via = next(r for r in rates if r.source_ccy == currency)
    return via.rate * to_gbp(rates, via.target_ccy)


def reconcile(snapshot: AccountSnapshot, rates: tuple[FxRate, ...]) -> tuple[Decimal, Decimal, int]:
    parts = snapshot.all_positions()
    total = sum((p.market_value_local * to_gbp(rates, p.instrument.currency) for p in parts), Decimal(0))
    assert snapshot.total_value_local is not None
    reported = snapshot.total_value_local * to_gbp(rates, snapshot.account.base_currency)
    return total, reported, len(parts)


def test_is_a_broker_source(gateway: FakeIbGateway, clock: VirtualClock) -> None:
    assert isinstance(make_source(gateway, clock), BrokerSource)


def test_captures_every_account_and_reconciles_to_net_liquidation(gateway: FakeIbGateway, clock: VirtualClock) -> None:
    _, result = run(make_source(gateway, clock))
    assert {s.account.broker_account_id for s in result.snapshots} == {"U1234567", "U7654321"}
    asof = datetime.fromtimestamp(TS_MS / 1000, tz=UTC)
    for snapshot in result.snapshots:
        assert snapshot.asof_ts == asof  # the broker's timestamp, to the millisecond, not our clock
        assert snapshot.asof_source == "summary.netliquidation.timestamp"
        total, reported, parts = reconcile(snapshot, result.fx_rates)
        assert abs(total - reported) <= Decimal("0.01") * parts, (snapshot.account, total, reported)
        expected = net_liquidation(gateway.accounts[snapshot.account.broker_account_id])
        assert snapshot.total_value_local == expected
        # read from its account's summary (its total and as-of), stored as snapshots.raw_payload_id
        assert snapshot.source_raw is not None
        assert snapshot.source_raw.endpoint == f"GET /v1/api/portfolio/{snapshot.account.broker_account_id}/summary"
    isa = snapshot_of(result, "U1234567")
    assert isa.account.name == "ISA"
    assert isa.account.base_currency == "GBP"
    assert {c.currency: c.amount for c in isa.cash} == {"GBP": Decimal("1520.37"), "USD": Decimal("245.1")}
    by_symbol = {p.instrument.symbol: p for p in isa.positions}
    assert set(by_symbol) == {"VOD", "HSBA", "ULVR", "VUSA", "AAPL", "MSFT", "ASML", "SAP"}
    vod = by_symbol["VOD"]
    assert (vod.instrument.currency, vod.price_local, vod.market_value_local) == (
        "GBP",
        Decimal("0.7012"),
        Decimal(3506),
    )
    assert vod.instrument.broker_instrument_id == "13374"
    assert vod.instrument.exchange == "LSE"
    assert by_symbol["VUSA"].instrument.asset_class is AssetClass.ETF
    assert by_symbol["VUSA"].instrument.broker_asset_class == "STK"
    assert by_symbol["ASML"].instrument.currency == "EUR"
    assert not gateway.pacing_violations


def test_pages_until_an_empty_page(gateway: FakeIbGateway, clock: VirtualClock) -> None:
    _, result = run(make_source(gateway, clock))
    general = snapshot_of(result, "U7654321")
    assert len(general.positions) == 130
    assert [gateway.count("GET", f"/portfolio/U7654321/positions/{p}") for p in range(4)] == [1, 1, 1, 0]
    assert [gateway.count("GET", f"/portfolio/U1234567/positions/{p}") for p in range(3)] == [1, 1, 0]
    option = next(p for p in general.positions if p.instrument.asset_class is AssetClass.OPTION)
    assert option.instrument.broker_instrument_id == "584891614"
    assert option.instrument.symbol == "SPY JAN2027 440 C [SPY 270115C00440000 100]"
    assert option.market_value_local == Decimal("19141.41")  # 2 x 95.707 x 100, as the broker reported it
    assert option.cost_basis == Decimal("58.010401") * 100 * 2


def test_enriches_from_secdef_and_fetches_missing_rates(gateway: FakeIbGateway, clock: VirtualClock) -> None:
    raws, result = run(make_source(gateway, clock))
    fund = next(p for p in snapshot_of(result, "U7654321").positions if p.instrument.symbol == "VFIAX")
    assert fund.instrument.name == "VANGUARD 500 INDEX ADMIRAL"  # only /trsrv/secdef had it
    assert fund.instrument.exchange == "FUNDSERV"
    assert fund.instrument.asset_class is AssetClass.FUND
    secdef = [r for r in raws if "/trsrv/secdef" in r.endpoint]
    assert len(secdef) == 1
    assert "9408" in secdef[0].endpoint
    # CHF is held but missing from the ledger: its rate comes from /iserver/exchangerate
    assert gateway.count("GET", "/iserver/exchangerate") == 1
    chf = [r for r in result.fx_rates if r.source_ccy == "CHF"]
    assert [(r.target_ccy, r.rate, r.provider) for r in chf] == [("GBP", Decimal("0.89901234"), "ib")]
    ledger_usd = next(r for r in result.fx_rates if r.source_ccy == "USD")
    assert (ledger_usd.target_ccy, ledger_usd.rate) == ("GBP", Decimal("0.78812345"))
    assert ledger_usd.asof_ts == datetime.fromtimestamp(TS_MS // 1000, tz=UTC)  # ledger timestamps are seconds


def test_records_every_response_and_parse_reruns_offline(gateway: FakeIbGateway, clock: VirtualClock) -> None:
    source = make_source(gateway, clock)
    raws, result = run(source)
    paths = [r.endpoint for r in raws]
    assert paths[0] == "POST /v1/api/iserver/auth/status"
    assert paths[1] == "POST /v1/api/tickle"
    assert paths[2] == "GET /v1/api/portfolio/accounts"  # before any other /portfolio endpoint
    assert len(raws) == len(gateway.server.requests)  # nothing asked went unrecorded
    assert all(SESSION_ID.encode() not in r.body for r in raws)  # the tickle's session id is masked
    again = IbGatewaySource("https://127.0.0.1:1").parse(list(raws))
    assert again == result


def test_thin_first_read_is_read_again(clock: VirtualClock) -> None:
    with FakeIbGateway([isa_account(), general_account()], clock=clock, thin_reads=1) as gw:
        raws, result = run(make_source(gw, clock, thin_reread_wait_s=1.5))
    assert gw.reads == {"U1234567": 2, "U7654321": 2}
    assert 1.5 in clock.slept
    assert gw.count("GET", "/portfolio/U7654321/positions/0") == 2
    isa = snapshot_of(result, "U1234567")
    assert {p.instrument.name for p in isa.positions} >= {"VODAFONE GROUP PLC", "APPLE INC"}
    assert all(p.instrument.exchange for p in isa.positions)
    # the thin read is kept in the raw responses, and re-parsing still uses the second read
    assert sum(1 for r in raws if r.endpoint.endswith("/U1234567/positions/0")) == 2


def test_keeps_the_session_alive_during_a_long_capture(gateway: FakeIbGateway, clock: VirtualClock) -> None:
    source = make_source(gateway, clock, tickle_interval_s=0.5)
    run(source)
    tickles = gateway.count("POST", "/tickle")
    assert tickles >= 3  # the capture takes ~2 s of (virtual) paced time
    assert not gateway.pacing_violations  # and the tickles kept to one per second


def test_paces_portfolio_accounts_to_one_per_five_seconds(gateway: FakeIbGateway, clock: VirtualClock) -> None:
    source = make_source(gateway, clock)
    run(source)
    started = clock.now()
    run(source)
    assert clock.now() - started >= 5.0
    assert gateway.count("GET", "/portfolio/accounts") == 2
    assert not gateway.pacing_violations


@pytest.mark.parametrize("status", [429, 503])
def test_retries_rate_limit_and_unavailable(gateway: FakeIbGateway, clock: VirtualClock, status: int) -> None:
    gateway.fail_next("GET", "/portfolio/U7654321/positions/1", Reply.json({"error": "busy"}, status=status))
    gateway.fail_next("GET", "/portfolio/U1234567/summary", Reply.text("Service Unavailable", status=status))
    source = make_source(gateway, clock)
    raws, result = run(source)
    assert source.retries == 2
    assert [r.status_code for r in raws if r.endpoint.endswith("/U7654321/positions/1")] == [status, 200]
    assert len(snapshot_of(result, "U7654321").positions) == 130


def test_not_logged_in_is_an_auth_error_naming_the_gateway(gateway: FakeIbGateway, clock: VirtualClock) -> None:
    gateway.logged_in = False
    raws: list[RawResponse] = []
    with pytest.raises(AuthError) as info:
        make_source(gateway, clock).fetch(raws.append, FetchContext())
    assert info.value.status_code == 401
    assert f"log in to the IBKR Client Portal gateway at {gateway.url}" in str(info.value)
    assert [r.status_code for r in raws] == [401]


@pytest.mark.parametrize("competing", [False, True])
def test_no_brokerage_session_is_an_auth_error(gateway: FakeIbGateway, clock: VirtualClock, competing: bool) -> None:
    gateway.brokerage = competing  # competing: a session exists, but elsewhere
    gateway.competing = competing
    with pytest.raises(AuthError, match="competing" if competing else "not authenticated"):
        make_source(gateway, clock).fetch(lambda raw: None, FetchContext())
    assert gateway.count("GET", "/portfolio/accounts") == 0


def test_no_bridge_mid_capture_is_an_auth_error(gateway: FakeIbGateway, clock: VirtualClock) -> None:
    gateway.fail_next(
        "GET", "/iserver/exchangerate", Reply.json({"error": "Bad Request: no bridge", "statusCode": 400}, status=400)
    )
    with pytest.raises(AuthError, match="no bridge"):
        make_source(gateway, clock).fetch(lambda raw: None, FetchContext())


def test_gateway_not_running_is_a_network_error(clock: VirtualClock) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = IbGatewaySource(f"https://127.0.0.1:{port}", verify=False, sleep=clock.sleep, clock=clock.now)
    with pytest.raises(NetworkError) as info:
        source.fetch(lambda raw: None, FetchContext())
    assert f"no IBKR Client Portal gateway answered at https://127.0.0.1:{port}" in str(info.value)
    health = source.health()
    assert (health.reachable, health.authenticated) == (False, False)
    assert health.login_url == f"https://127.0.0.1:{port}"


@pytest.mark.parametrize(
    "reply",
    [
        Reply.text("<html><body>Client login</body></html>", content_type="text/html"),
        Reply(200, b'{"accountcode": {"amount": 0.0, "currency"', {"Content-Type": "application/json"}),
    ],
    ids=["html", "truncated"],
)
def test_unreadable_body_is_a_parsing_error_and_the_raw_is_kept(
    gateway: FakeIbGateway, clock: VirtualClock, reply: Reply
) -> None:
    gateway.fail_next("GET", "/portfolio/U1234567/summary", reply)
    raws: list[RawResponse] = []
    with pytest.raises(ParsingError, match="not JSON"):
        make_source(gateway, clock).fetch(raws.append, FetchContext())
    kept = raws[-1]
    assert kept.endpoint == "GET /v1/api/portfolio/U1234567/summary"
    assert kept.body == reply.body
    with pytest.raises(ParsingError):
        IbGatewaySource("https://127.0.0.1:1").parse(raws)


def test_usd_base_account_gets_a_usd_to_gbp_rate(clock: VirtualClock) -> None:
    with FakeIbGateway([usd_account()], clock=clock) as gw:
        _, result = run(make_source(gw, clock))
    snapshot = result.snapshots[0]
    assert snapshot.account.base_currency == "USD"
    usd_gbp = [r for r in result.fx_rates if (r.source_ccy, r.target_ccy) == ("USD", "GBP")]
    assert [r.rate for r in usd_gbp] == [Decimal("0.78812345")]
    gbp_usd = next(r for r in result.fx_rates if (r.source_ccy, r.target_ccy) == ("GBP", "USD"))
    assert gbp_usd.rate == Decimal("1.26883675")  # from the ledger: USD per one GBP
    total, reported, parts = reconcile(snapshot, result.fx_rates)
    assert abs(total - reported) <= Decimal("0.01") * parts


def test_health_is_cheap_and_says_what_to_do(gateway: FakeIbGateway, clock: VirtualClock) -> None:
    source = make_source(gateway, clock)
    health = source.health()
    assert (health.reachable, health.authenticated) == (True, True)
    assert health.accounts == ["U1234567", "U7654321"]
    before = len(gateway.server.requests)
    assert source.health().accounts == ["U1234567", "U7654321"]
    assert len(gateway.server.requests) == before + 1  # accounts are cached: one auth-status call per poll
    gateway.logged_in = False
    health = source.health()
    assert (health.reachable, health.authenticated) == (True, False)
    assert gateway.url in health.detail
    assert health.login_url == gateway.url


def test_tls_verification(gateway: FakeIbGateway, clock: VirtualClock) -> None:
    strict = IbGatewaySource(gateway.url, verify=True, sleep=clock.sleep, clock=clock.now)
    with pytest.raises(NetworkError):
        strict.fetch(lambda raw: None, FetchContext())  # a self-signed gateway is not trusted by default
    lax = IbGatewaySource(gateway.url, verify=False, sleep=clock.sleep, clock=clock.now)
    assert lax.health().authenticated is True


def test_account_type_and_the_wrapper_the_alias_states(gateway: FakeIbGateway, clock: VirtualClock) -> None:
    _, result = run(make_source(gateway, clock))
    isa = snapshot_of(result, "U1234567").account  # alias "ISA" in /portfolio/accounts
    assert (isa.account_type, isa.wrapper) == ("INDIVIDUAL", "ISA")
    general = next(s.account for s in result.snapshots if s.account.broker_account_id != "U1234567")
    assert general.account_type == "INDIVIDUAL"
