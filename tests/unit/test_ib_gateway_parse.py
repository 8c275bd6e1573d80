"""Pure parse tests for ib_gateway: recorded responses in, canonical snapshots and rates out.

Bodies are shaped as IBKR documents them (see tests/fakes/ib_gateway.py for the full shapes).
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolio_dashboard.brokers.ib_gateway import IbGatewaySource
from portfolio_dashboard.brokers.ib_gateway_payloads import classify_endpoint
from portfolio_dashboard.brokers.ib_gateway_positions import map_asset_class
from portfolio_dashboard.domain import AssetClass, FxRate, ParseResult, RawResponse
from portfolio_dashboard.errors import ParsingError, ValidationError

ACCT = "U1234567"
TS_MS = 1_700_000_000_456
RECEIVED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def raw(endpoint: str, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> RawResponse:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return RawResponse(
        "ib_gateway",
        "ib",
        endpoint,
        RECEIVED,
        status,
        data,
        "application/json",
        headers or {"date": "Tue, 14 Nov 2023 22:13:20 GMT"},
    )


def row(conid: int = 8314, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "acctId": ACCT,
        "conid": conid,
        "contractDesc": "IBM",
        "position": 10,
        "mktPrice": 185.17599485,
        "mktValue": 1851.76,
        "currency": "USD",
        "avgCost": 144.46141,
        "avgPrice": 144.46141,
        "realizedPnl": 0,
        "unrealizedPnl": 407.15,
        "multiplier": 0,
        "assetClass": "STK",
        "listingExchange": "NYSE",
        "name": "INTL BUSINESS MACHINES CORP",
        "ticker": "IBM",
        "type": "COMMON",
        "fullName": "IBM",
    }
    base.update(fields)
    return base


def summary(amount: Any = 2500.0, currency: str = "GBP", timestamp: Any = TS_MS) -> dict[str, Any]:
    value = {
        "amount": amount,
        "currency": currency,
        "isNull": False,
        "timestamp": timestamp,
        "value": None,
        "severity": 0,
    }
    return {"accountcode": {**value, "amount": 0.0, "currency": None, "value": ACCT}, "netliquidation": value}


def ledger_entry(currency: str, cash: float, rate: float, ts: int = TS_MS // 1000) -> dict[str, Any]:
    return {
        "cashbalance": cash,
        "settledcash": cash,
        "exchangerate": rate,
        "currency": currency,
        "timestamp": ts,
        "key": "LedgerList",
        "secondkey": currency,
        "acctcode": ACCT,
    }


def capture(
    pages: list[list[dict[str, Any]]] | None = None,
    *,
    summary_body: Any = None,
    ledger_body: Any = None,
    extra: list[RawResponse] | None = None,
    base: str = "GBP",
) -> list[RawResponse]:
    pages = [[row()]] if pages is None else pages
    raws = [
        raw("POST /v1/api/iserver/auth/status", {"authenticated": True, "competing": False, "connected": True}),
        raw(
            "GET /v1/api/portfolio/accounts",
            [{"id": ACCT, "accountId": ACCT, "currency": base, "accountAlias": "ISA", "displayName": ACCT}],
        ),
    ]
    for number, page in enumerate([*pages, []]):
        raws.append(raw(f"GET /v1/api/portfolio/{ACCT}/positions/{number}", page))
    raws.append(raw(f"GET /v1/api/portfolio/{ACCT}/summary", summary_body or summary(currency=base)))
    default_ledger = {
        "USD": ledger_entry("USD", 100.0, 0.78812345),
        "GBP": ledger_entry("GBP", 50.5, 1),
        "BASE": ledger_entry("BASE", 129.31, 1),
    }
    raws.append(raw(f"GET /v1/api/portfolio/{ACCT}/ledger", ledger_body or default_ledger))
    return raws + (extra or [])


def parse(raws: list[RawResponse]) -> ParseResult:
    return IbGatewaySource("https://127.0.0.1:5000").parse(raws)


@pytest.mark.parametrize(
    ("label", "kind", "account", "page"),
    [
        ("GET /v1/api/portfolio/U1/positions/12", "positions", "U1", 12),
        ("GET /v1/api/portfolio/U1/summary", "summary", "U1", None),
        ("GET /v1/api/portfolio/accounts", "accounts", None, None),
        ("POST /v1/api/iserver/auth/status", "auth_status", None, None),
        ("GET /v1/api/iserver/exchangerate?source=USD&target=GBP", "exchangerate", None, None),
        ("GET /v1/api/trsrv/secdef?conids=1,2", "secdef", None, None),
        ("GET /v1/api/portfolio/U1/meta", None, None, None),
    ],
)
def test_endpoint_labels(label: str, kind: str | None, account: str | None, page: int | None) -> None:
    endpoint = classify_endpoint(label)
    got = (endpoint.kind, endpoint.account, endpoint.page) if endpoint is not None else None
    assert got == ((kind, account, page) if kind else None)


@pytest.mark.parametrize(
    ("ib_class", "ib_type", "expected"),
    [
        ("STK", "COMMON", AssetClass.EQUITY),
        ("STK", "ETF", AssetClass.ETF),
        ("ETF", None, AssetClass.ETF),
        ("OPT", "", AssetClass.OPTION),
        ("FOP", None, AssetClass.OPTION),
        ("FUT", None, AssetClass.FUTURE),
        ("BOND", None, AssetClass.BOND),
        ("BILL", None, AssetClass.BOND),
        ("FUND", "", AssetClass.FUND),
        ("WAR", None, AssetClass.WARRANT),
        ("IOPT", None, AssetClass.WARRANT),
        ("CRYPTO", "", AssetClass.CRYPTO),
        ("CASH", None, AssetClass.CASH),
        ("CFD", None, AssetClass.OTHER),
        ("XYZ", None, AssetClass.OTHER),
        (None, None, AssetClass.OTHER),
    ],
)
def test_asset_classes(ib_class: str | None, ib_type: str | None, expected: AssetClass) -> None:
    assert map_asset_class(ib_class, ib_type) is expected


def test_snapshot_total_asof_and_instrument() -> None:
    result = parse(capture(summary_body=summary(amount="1,234.50")))
    (snap,) = result.snapshots
    assert snap.account.name == "ISA"
    assert snap.account.base_currency == "GBP"
    assert snap.total_value_local == Decimal("1234.50")
    assert snap.asof_ts == datetime(2023, 11, 14, 22, 13, 20, 456000, tzinfo=UTC)
    assert snap.asof_source == "summary.netliquidation.timestamp"
    (pos,) = snap.positions
    assert pos.quantity == Decimal(10)
    assert pos.price_local == Decimal("185.17599485")
    assert pos.market_value_local == Decimal("1851.76")
    assert pos.cost_basis == Decimal("1444.6141")
    assert pos.unrealized_pnl == Decimal("407.15")
    inst = pos.instrument
    assert (inst.broker, inst.broker_instrument_id, inst.symbol, inst.name) == (
        "ib",
        "8314",
        "IBM",
        "INTL BUSINESS MACHINES CORP",
    )
    assert (inst.currency, inst.exchange, inst.asset_class, inst.broker_asset_class) == (
        "USD",
        "NYSE",
        AssetClass.EQUITY,
        "STK",
    )


def test_ledger_cash_and_rates() -> None:
    ledger = {
        "USD": ledger_entry("USD", 100.25, 0.78812345),
        "EUR": ledger_entry("EUR", 0.0, 0.8654321),
        "GBP": ledger_entry("GBP", -20.0, 1),
        "CHF": ledger_entry("CHF", 5.0, 0),  # no usable ledger rate: fetch asks /iserver/exchangerate
        "BASE": ledger_entry("BASE", 85.0, 1),
    }
    result = parse(capture(ledger_body=ledger))
    (snap,) = result.snapshots
    assert {c.currency: c.amount for c in snap.cash} == {
        "USD": Decimal("100.25"),
        "GBP": Decimal("-20.0"),
        "CHF": Decimal("5.0"),
    }
    when = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)  # ledger timestamps are epoch seconds
    assert set(result.fx_rates) == {
        FxRate("USD", "GBP", Decimal("0.78812345"), when, "ib"),
        FxRate("EUR", "GBP", Decimal("0.8654321"), when, "ib"),
    }


def test_exchange_rate_responses_become_rates_timed_by_the_gateway_date() -> None:
    extra = [
        raw(
            "GET /v1/api/iserver/exchangerate?source=CHF&target=GBP",
            {"rate": 0.89901234},
            headers={"date": "Wed, 15 Nov 2023 08:00:00 GMT"},
        ),
        raw("GET /v1/api/iserver/exchangerate?source=JPY&target=GBP", {"rate": 0}),  # IBKR: no rate
    ]
    result = parse(capture(extra=extra))
    chf = [r for r in result.fx_rates if r.source_ccy == "CHF"]
    assert chf == [FxRate("CHF", "GBP", Decimal("0.89901234"), datetime(2023, 11, 15, 8, tzinfo=UTC), "ib")]
    assert any("JPY->GBP" in w for w in result.warnings)


def test_option_value_uses_the_multiplier_and_cost_includes_it() -> None:
    option = row(
        584891614,
        assetClass="OPT",
        contractDesc="SPY    JAN2025 440 C [SPY   250117C00440000 100]",
        position=1,
        mktPrice=95.70706175,
        mktValue=9570.71,
        avgCost=5801.0401,
        avgPrice=58.010401,
        multiplier=100,
        ticker="SPY",
        name="SPDR S&P 500 ETF TRUST",
        fullName="SPY Jan17'25 440 Call",
        type="",
        listingExchange="AMEX",
    )
    (pos,) = parse(capture([[option]])).snapshots[0].positions
    assert pos.instrument.asset_class is AssetClass.OPTION
    assert pos.instrument.symbol == "SPY JAN2025 440 C [SPY 250117C00440000 100]"
    assert pos.instrument.name == "SPY Jan17'25 440 Call"
    assert (pos.price_local, pos.market_value_local) == (Decimal("95.70706175"), Decimal("9570.71"))
    assert pos.cost_basis == Decimal("5801.0401")
    # one meaning of price_local for every broker: per unit of the underlying, the multiplier stored
    assert pos.instrument.multiplier == Decimal(100)
    assert abs(pos.quantity * pos.price_local * pos.multiplier - pos.market_value_local) < Decimal("0.01")


def test_a_gbp_row_priced_in_pence_is_corrected_with_a_warning() -> None:
    vod = row(
        13374,
        currency="GBP",
        position=5000,
        mktPrice=70.12,
        mktValue=3506.0,
        avgCost=0.75,
        ticker="VOD",
        listingExchange="LSE",
    )
    result = parse(capture([[vod]]))
    (pos,) = result.snapshots[0].positions
    assert (pos.price_local, pos.market_value_local) == (Decimal("0.7012"), Decimal("3506.0"))
    assert any("pence" in w for w in result.warnings)


def test_a_gilt_priced_per_100_is_not_mistaken_for_pence() -> None:
    gilt = row(
        512345678,
        assetClass="BOND",
        currency="GBP",
        position=10000,
        mktPrice=98.5,
        mktValue=9850.0,
        avgCost=0.97,
        ticker="UKT",
        name="UK TSY 4 1/4 2032",
        listingExchange="LSE",
    )
    result = parse(capture([[gilt]]))
    (pos,) = result.snapshots[0].positions
    assert (pos.instrument.asset_class, pos.price_local, pos.market_value_local) == (
        AssetClass.BOND,
        Decimal("98.5"),
        Decimal("9850.0"),
    )
    assert not any("pence" in w for w in result.warnings)


def test_a_gbx_row_is_converted_to_pounds() -> None:
    vod = row(13374, currency="GBX", position=5000, mktPrice=70.12, mktValue=350600, avgCost=75, unrealizedPnl=-24400)
    (pos,) = parse(capture([[vod]])).snapshots[0].positions
    assert pos.instrument.currency == "GBP"
    assert (pos.price_local, pos.market_value_local) == (Decimal("0.7012"), Decimal(3506))
    assert (pos.cost_basis, pos.unrealized_pnl) == (Decimal(3750), Decimal(-244))


def test_closed_rows_and_fx_cash_rows_are_not_positions() -> None:
    rows = [row(1, position=0, mktValue=0), row(2, assetClass="CASH", contractDesc="EUR.USD"), row(3)]
    result = parse(capture([rows]))
    assert [p.instrument.broker_instrument_id for p in result.snapshots[0].positions] == ["3"]
    assert any("FX cash row" in w for w in result.warnings)


def test_duplicate_rows_across_pages_are_kept_once() -> None:
    result = parse(capture([[row(1)], [row(1), row(2)]]))
    assert [p.instrument.broker_instrument_id for p in result.snapshots[0].positions] == ["1", "2"]
    assert any("listed twice" in w for w in result.warnings)


def test_the_last_read_wins_and_error_responses_are_ignored() -> None:
    thin = {k: v for k, v in row().items() if k not in ("ticker", "name", "listingExchange", "fullName", "type")}
    raws = capture([[thin]])
    raws += [
        raw(f"GET /v1/api/portfolio/{ACCT}/positions/0", {"error": "busy"}, status=429),
        raw(f"GET /v1/api/portfolio/{ACCT}/positions/0", [row()]),
        raw(f"GET /v1/api/portfolio/{ACCT}/positions/1", []),
    ]
    (pos,) = parse(raws).snapshots[0].positions
    assert (pos.instrument.symbol, pos.instrument.name, pos.instrument.exchange) == (
        "IBM",
        "INTL BUSINESS MACHINES CORP",
        "NYSE",
    )


def test_secdef_fills_fields_a_row_lacks() -> None:
    bare = {k: v for k, v in row().items() if k not in ("name", "listingExchange", "currency")}
    secdef = {
        "secdef": [
            {
                "conid": 8314,
                "currency": "USD",
                "name": "INTL BUSINESS MACHINES CORP",
                "listingExchange": "NYSE",
                "assetClass": "STK",
                "ticker": "IBM",
                "type": "COMMON",
            }
        ]
    }
    (pos,) = (
        parse(capture([[bare]], extra=[raw("GET /v1/api/trsrv/secdef?conids=8314", secdef)])).snapshots[0].positions
    )
    assert (pos.instrument.name, pos.instrument.exchange, pos.instrument.currency) == (
        "INTL BUSINESS MACHINES CORP",
        "NYSE",
        "USD",
    )


def test_a_read_without_its_empty_last_page_is_incomplete() -> None:
    raws = [r for r in capture([[row()]]) if not r.endpoint.endswith("/positions/1")]
    with pytest.raises(ParsingError, match="page 1 was not received"):
        parse(raws)


def test_missing_summary_timestamp_falls_back_to_the_gateway_date() -> None:
    body = {"netliquidation": {"amount": 10.0, "currency": "GBP", "isNull": False, "value": None}}
    (snap,) = parse(capture(summary_body=body)).snapshots
    assert snap.asof_source == "http-date"
    assert snap.asof_ts == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("pages", "error", "match"),
    [
        ([[row(position="ten")]], ParsingError, "'position' is not a number"),
        ([[row(mktValue=None)]], ParsingError, "'mktValue' is missing"),
        ([[row(conid=None)]], ParsingError, "'conid'"),
        ([[row(currency="ZZZ")]], ValidationError, "unknown currency 'ZZZ'"),
        ([[row(currency=None)]], ParsingError, "'currency' is missing"),
        ([[row(mktPrice=[1])]], ParsingError, "'mktPrice' should be a number"),
        ([["not an object"]], ParsingError, r"positions page\[0\]"),
        ([[row(position="1e400")]], ValidationError, "out of range"),
    ],
)
def test_bad_rows_name_the_field(pages: list[list[Any]], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match) as info:
        parse(capture(pages))
    assert "/portfolio/U1234567/positions/0" in (info.value.endpoint or "")  # type: ignore[attr-defined]


def test_no_accounts_response_is_a_parsing_error() -> None:
    with pytest.raises(ParsingError, match="/portfolio/accounts"):
        parse([raw("POST /v1/api/iserver/auth/status", {"authenticated": True})])


# --- fuzz: arbitrary JSON where each documented body goes never escapes as anything but our errors ---------
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=True)
    | st.text(max_size=8)
    | st.sampled_from(["1,234.50", "0", "-1", "1e5", "GBP", "USD", "GBX", "GBp", "BASE", "", " 12 "]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
FIELDS = [
    "conid",
    "position",
    "mktPrice",
    "mktValue",
    "currency",
    "assetClass",
    "avgCost",
    "multiplier",
    "ticker",
    "name",
    "type",
    "unrealizedPnl",
    "contractDesc",
    "listingExchange",
    "isin",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from(["accounts", "positions/0", "summary", "ledger", "secdef", "exchangerate"]), body=JSON)
def test_fuzz_whole_bodies(which: str, body: Any) -> None:
    raws = capture(
        extra=[
            raw("GET /v1/api/trsrv/secdef?conids=8314", {"secdef": []}),
            raw("GET /v1/api/iserver/exchangerate?source=USD&target=GBP", {"rate": 0.79}),
        ]
    )
    raws = [raw(r.endpoint, body) if r.endpoint.split("?")[0].endswith(which) else r for r in raws]
    with contextlib.suppress(ParsingError, ValidationError):
        parse(raws)


@settings(max_examples=200, deadline=None)
@given(
    fields=st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=4),
    ledger=st.dictionaries(st.sampled_from(["cashbalance", "exchangerate", "timestamp"]), JSON, max_size=3),
    nl=st.dictionaries(st.sampled_from(["amount", "currency", "isNull", "timestamp", "value"]), JSON, max_size=3),
)
def test_fuzz_fields(fields: dict[str, Any], ledger: dict[str, Any], nl: dict[str, Any]) -> None:
    entry = {**ledger_entry("USD", 1.0, 0.79), **ledger}
    body = summary()
    body["netliquidation"] = {**body["netliquidation"], **nl}
    with contextlib.suppress(ParsingError, ValidationError):
        parse(capture([[row(**fields)]], ledger_body={"USD": entry}, summary_body=body))
