"""Property: every ``parse`` function, given bodies of the right outer shape with anything inside, returns a
result the capture can validate and value — or raises one of our categorised errors. Never a KeyError,
TypeError, InvalidOperation or a float.

The bodies start as what the fake brokers really serve (recorded once over HTTP) and are then mutated at
random places: values replaced by arbitrary JSON or awkward strings, keys and elements removed or
duplicated, XML attributes and elements likewise, status codes and ``Date`` headers changed, bodies cut.

    uv run pytest tests/chaos/test_parse_properties.py                 # ~150 examples per parser
    uv run pytest -m chaos tests/chaos/test_parse_properties.py        # 3000 per parser
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import json
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from defusedxml.ElementTree import fromstring as parse_xml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolio_dashboard.brokers.base import FetchContext
from portfolio_dashboard.brokers.demo import DemoSource
from portfolio_dashboard.brokers.ecb import EcbRates
from portfolio_dashboard.brokers.http import RetryPolicy
from portfolio_dashboard.brokers.ib_flex import IbFlexSource, PollPolicy
from portfolio_dashboard.brokers.ib_flex_protocol import read_xml, status_response
from portfolio_dashboard.brokers.ib_flex_statement import parse_flex
from portfolio_dashboard.brokers.ib_gateway import IbGatewaySource
from portfolio_dashboard.brokers.ib_gateway_parse import parse_responses as ib_parse
from portfolio_dashboard.brokers.ib_gateway_payloads import (
    account_ids,
    is_thin,
    ledger_entries,
    ledger_rate,
    needs_secdef,
    secdef_rows,
)
from portfolio_dashboard.brokers.manual_fx import ManualRateError, parse_manual_rate
from portfolio_dashboard.brokers.schwab_parse import account_numbers
from portfolio_dashboard.brokers.schwab_parse import parse_responses as schwab_parse
from portfolio_dashboard.domain import (
    AccountSnapshot,
    FxRate,
    ParseResult,
    Position,
    RawResponse,
    Trade,
)
from portfolio_dashboard.domain.currency import is_iso_currency
from portfolio_dashboard.domain.valuation import InvalidSnapshotError, validate, value
from portfolio_dashboard.errors import ParsingError, ValidationError
from tests.chaos.world import usd_account_with_fund
from tests.fakes.ecb import TYPICAL, FakeEcb
from tests.fakes.flex_statement import sample
from tests.fakes.ib_flex import FakeFlex
from tests.fakes.ib_gateway import FakeIbGateway, isa_account
from tests.fakes.schwab import FakeSchwab, build_source, seed_tokens

OURS = (ParsingError, ValidationError)
QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                 database=None)
FULL = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                database=None)


def _noop(_: float) -> None:
    return None


# --- what the fakes really serve, recorded once --------------------------------------------------------------
@functools.cache
def recorded(source: str) -> tuple[RawResponse, ...]:
    raws: list[RawResponse] = []
    ctx = FetchContext()
    policy = RetryPolicy(max_attempts=2, initial_wait=0.0, max_wait=0.0, max_total=5.0)
    if source == "ib_gateway":
        with FakeIbGateway([isa_account(), usd_account_with_fund()], enforce_pacing=False) as gw:
            IbGatewaySource(gw.url, verify=gw.ca_path, sleep=_noop, rate_per_s=1000.0,
                            retry_policy=policy).fetch(raws.append, ctx)
    elif source == "schwab":
        with FakeSchwab(tls=False) as fake:
            token = Path(tempfile.mkdtemp()) / "token.json"
            seed_tokens(fake, token)
            src = build_source(fake, token)
            src.fetch(raws.append, ctx)
            src.close()
    elif source == "ib_flex":
        with FakeFlex(token="tok-1", query_id="99", statement=sample()) as flex:
            IbFlexSource("tok-1", "99", flex.base_url, sleep=_noop, retry=policy, rate_per_s=1000.0,
                         poll=PollPolicy(first_wait=0.0, initial_wait=0.0)).fetch(raws.append, ctx)
    elif source == "ecb":
        today = date.today()
        with FakeEcb({today - timedelta(days=i): TYPICAL for i in range(3)}) as ecb:
            for url in (ecb.daily_url, ecb.hist_url):
                EcbRates(url, sleep=_noop, retry=policy).fetch(raws.append, ctx)
    elif source == "demo":
        raws.append(DemoSource().raw_for(datetime.now(UTC).replace(second=0, microsecond=0)))
    assert raws and all(r.status_code == 200 for r in raws), source
    return tuple(raws)


PARSERS: dict[str, Callable[[Sequence[RawResponse]], ParseResult]] = {
    "ib_gateway": ib_parse,
    "schwab": schwab_parse,
    "ib_flex": parse_flex,
    "ecb": EcbRates("http://127.0.0.1:9/x.xml").parse,
    "demo": DemoSource().parse,
}
XML_SOURCES = {"ib_flex", "ecb"}

# --- values that have broken parsers elsewhere ---------------------------------------------------------------
NASTY_TEXT = [
    "", " ", "0", "-0", "1,234.50", "1.234,50", "1e999", "-1e-999", "NaN", "nan", "Infinity", "-inf", "1_000",
    "１２３", "٣", "²", "⅕", "𝟙", "0x1F", "12abc", "--5", "+5", ".", "1.", "N/A", "--", "null", "None", "true",
    "2026-11-21", "2026-11-21T10:00:00", "2026-11-21T10:00:00+05:30", "20261121", "20261121;101500",
    "21/11/2026", "11/21/2026", "31-Feb-26", "2026-13-45", "9999-12-31T23:59:59Z", "0001-01-01",
    "GBP", "GBp", "GBX", "gbp", "ZZZ", "BASE", "BASE_SUMMARY", "XXX", "€", "\u0000", "\ud83d", "x" * 300,
    "STK", "OPT", "CASH", "FUND", "EQUITY", "OPTION", "TRADE", "VALID", "SUMMARY", "LOT",
]
NASTY_NUMBERS = [0, -1, 1, 10**30, -(10**30), 2**63, 1e308, -1e308, 1e-320, 0.1, 123.456, 5e-324, True, False]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.sampled_from(NASTY_TEXT), st.sampled_from(NASTY_NUMBERS),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
)
JSON_VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
XML_TEXT = st.one_of(st.sampled_from(NASTY_TEXT), st.text(max_size=16), st.decimals(allow_nan=False).map(str),
                     st.integers().map(str), st.floats().map(str))


# --- JSON mutation -------------------------------------------------------------------------------------------
def _nodes(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _nodes(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _nodes(v, (*path, i))
    return out


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def mutate_json(data: st.DataObject, doc: Any) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        path = data.draw(st.sampled_from(_nodes(doc)), label="path")
        op = data.draw(st.sampled_from(["replace", "nasty", "delete", "duplicate", "retype"]), label="op")
        if not path:
            if op in ("replace", "nasty"):
                doc = data.draw(JSON_VALUES if op == "replace" else SCALARS, label="root")
            continue
        parent, key = _get(doc, path[:-1]), path[-1]
        if op == "replace":
            parent[key] = data.draw(JSON_VALUES, label="value")
        elif op == "nasty":
            parent[key] = data.draw(SCALARS, label="scalar")
        elif op == "delete":
            del parent[key]
        elif op == "duplicate" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
        elif op == "retype":
            old = parent[key]
            parent[key] = str(old) if not isinstance(old, str) else [old]
    return doc


# --- XML mutation --------------------------------------------------------------------------------------------
def mutate_xml(data: st.DataObject, body: bytes) -> bytes:
    root = parse_xml(body)
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        elements = list(root.iter())
        parents = {child: parent for parent in elements for child in parent}
        elem = data.draw(st.sampled_from(elements), label="element")
        op = data.draw(st.sampled_from(["set", "set", "drop_attr", "remove", "duplicate", "text", "rename"]),
                       label="op")
        if op == "set":
            names = sorted(elem.attrib) or ["x"]
            name = data.draw(st.sampled_from(names) | st.sampled_from(["currency", "rate", "time", "position"]))
            elem.set(name, data.draw(XML_TEXT, label="value"))
        elif op == "drop_attr" and elem.attrib:
            elem.attrib.pop(data.draw(st.sampled_from(sorted(elem.attrib))))
        elif op in ("remove", "duplicate") and elem in parents:
            parent = parents[elem]
            if op == "remove":
                parent.remove(elem)
            else:
                parent.append(copy.deepcopy(elem))
        elif op == "text":
            elem.text = data.draw(XML_TEXT, label="text")
        elif op == "rename":
            elem.tag = data.draw(st.sampled_from(["Cube", "OpenPosition", "Trade", "FlexStatement",
                                                  "CashReportCurrency", "ConversionRate", "Junk"]))
    return ElementTree.tostring(root)


def mutate_raws(data: st.DataObject, source: str) -> list[RawResponse]:
    raws = list(recorded(source))
    picks = data.draw(st.lists(st.integers(0, len(raws) - 1), min_size=1, max_size=3), label="bodies")
    for i in picks:
        raw = raws[i]
        how = data.draw(st.sampled_from(["structure", "structure", "structure", "truncate", "status", "date"]),
                        label="how")
        if how == "structure" and source in XML_SOURCES:
            try:
                raws[i] = dataclasses.replace(raw, body=mutate_xml(data, raw.body))
            except ElementTree.ParseError:  # an earlier edit already broke it; cut it instead
                raws[i] = dataclasses.replace(raw, body=raw.body[: len(raw.body) // 2])
        elif how == "structure":
            doc = raw.json_or_none()
            body = json.dumps(mutate_json(data, doc)).encode() if doc is not None else raw.body
            raws[i] = dataclasses.replace(raw, body=body)
        elif how == "truncate":
            raws[i] = dataclasses.replace(raw, body=raw.body[: data.draw(st.integers(0, len(raw.body)))])
        elif how == "status":
            raws[i] = dataclasses.replace(raw, status_code=data.draw(st.sampled_from([None, 200, 204, 401, 500])))
        else:
            raws[i] = dataclasses.replace(raw, headers={**raw.headers, "date": data.draw(XML_TEXT, label="date")})
    return raws


# --- the contract ---------------------------------------------------------------------------------------------
def _decimal(value: Any, what: str, optional: bool = False) -> None:
    if value is None and optional:
        return
    assert isinstance(value, Decimal), f"{what} is {type(value).__name__}, not Decimal"


def check_result(result: ParseResult) -> None:
    """What the capture relies on: exact types, aware times, ISO currencies; validate and value never raise
    anything but ``InvalidSnapshotError`` (which the capture records as a validation failure)."""
    assert isinstance(result, ParseResult)
    for rate in result.fx_rates:
        assert isinstance(rate, FxRate)
        _decimal(rate.rate, "rate")
        assert rate.asof_ts.tzinfo is not None
        assert rate.rate.is_finite() and rate.rate > 0, rate
        assert is_iso_currency(rate.source_ccy) and is_iso_currency(rate.target_ccy), rate
    for trade in result.trades:
        assert isinstance(trade, Trade)
        assert trade.trade_ts.tzinfo is not None
        for name in ("quantity", "price_local", "amount_local"):
            _decimal(getattr(trade, name), f"trade.{name}", optional=True)
        assert is_iso_currency(trade.currency), trade.currency
    for snap in result.snapshots:
        assert isinstance(snap, AccountSnapshot)
        assert snap.asof_ts.tzinfo is not None
        _decimal(snap.total_value_local, "total", optional=True)
        assert is_iso_currency(snap.account.base_currency), snap.account
        assert all(is_iso_currency(c.currency) for c in snap.cash), snap.cash
        for p in snap.all_positions():
            assert isinstance(p, Position)
            for name in ("quantity", "price_local", "market_value_local"):
                _decimal(getattr(p, name), name)
            for name in ("cost_basis", "unrealized_pnl"):
                _decimal(getattr(p, name), name, optional=True)
        try:
            checked, _ = validate(snap)
        except InvalidSnapshotError:
            continue
        value(checked, lambda currency, at: (Decimal("0.8"), None, None), Decimal("0.01"))
    assert all(isinstance(w, str) for w in result.warnings)


def parse_contract(source: str, raws: Sequence[RawResponse]) -> None:
    try:
        result = PARSERS[source](raws)
    except OURS:
        return
    check_result(result)


@pytest.mark.parametrize("source", sorted(PARSERS))
def test_unmutated_recordings_parse(source: str) -> None:
    result = PARSERS[source](recorded(source))
    check_result(result)
    assert result.snapshots or result.fx_rates


@pytest.mark.parametrize("source", sorted(PARSERS))
@QUICK
@given(data=st.data())
def test_mutated_bodies_parse_or_raise_our_errors(source: str, data: st.DataObject) -> None:
    parse_contract(source, mutate_raws(data, source))


@pytest.mark.chaos
@pytest.mark.parametrize("source", sorted(PARSERS))
@FULL
@given(data=st.data())
def test_mutated_bodies_parse_or_raise_our_errors_full(source: str, data: st.DataObject) -> None:
    parse_contract(source, mutate_raws(data, source))


@pytest.mark.parametrize("source", sorted(PARSERS))
@QUICK
@given(body=JSON_VALUES.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=200))
def test_any_body_at_all(source: str, body: bytes) -> None:
    raws = [dataclasses.replace(r, body=body) for r in recorded(source)]
    parse_contract(source, raws)


# --- the helpers fetch uses to decide what to ask next, and the smaller parsers -------------------------------
@QUICK
@given(body=JSON_VALUES)
def test_ib_gateway_fetch_helpers_raise_only_our_errors(body: Any) -> None:
    for call in (
        lambda: account_ids(body, "GET /x"),
        lambda: ledger_entries(body, "GET /x"),
        lambda: secdef_rows(body, "GET /x"),
        lambda: is_thin(body) if isinstance(body, list) and all(isinstance(r, dict) for r in body) else None,
        lambda: needs_secdef(body) if isinstance(body, dict) else None,
        lambda: ledger_rate(body, "USD", "GET /x") if isinstance(body, dict) else None,
    ):
        with contextlib.suppress(OURS):
            call()


@QUICK
@given(body=JSON_VALUES.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=100))
def test_schwab_account_numbers_raise_only_our_errors(body: bytes) -> None:
    raw = RawResponse("schwab", "schwab", "GET /trader/v1/accounts/accountNumbers", datetime.now(UTC), 200, body)
    try:
        pairs = account_numbers(raw)
    except OURS:
        return
    assert all(isinstance(n, str) and isinstance(h, str) for n, h in pairs)


@QUICK
@given(data=st.data())
def test_flex_status_answers_raise_only_our_errors(data: st.DataObject) -> None:
    body = b"<FlexStatementResponse><Status>Fail</Status><ErrorCode>1019</ErrorCode></FlexStatementResponse>"
    try:
        root = read_xml(mutate_xml(data, body) if data.draw(st.booleans()) else data.draw(st.binary()),
                        endpoint="GET /SendRequest")
    except OURS:
        return
    status = status_response(root)
    assert isinstance(status.status, str)


@QUICK
@given(spec=st.text(max_size=40) | st.sampled_from(["USD/GBP=0.79", "USD/GBP=0.79@2026-11-20",
                                                    "USD/GBP=0@x", "EUR/EUR=1", "usd gbp 1,000.5@2026-02-30"]))
def test_manual_rates_raise_only_their_error(spec: str) -> None:
    try:
        rate = parse_manual_rate(spec)
    except ManualRateError:
        return
    assert rate.rate > 0 and rate.asof_ts.tzinfo is not None
