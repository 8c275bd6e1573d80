"""The fault catalogue of the chaos campaign: what can go wrong on the wire and in a body, and what the
capture must make of it.

A ``Fault`` is installed on a fake broker's ``FakeServer`` for one target path (``fail_next`` for answers that
replace the broker's, ``mutate_next`` for alterations of the broker's documented answer) and says which
outcomes of that source are acceptable: ``"success"`` or the error category the failure must carry. The
expectations are written from the sources' documented behaviour (retries, enrichment that may fail, Schwab's
refresh-on-401), so a fault that ends any other way is a finding, not noise.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from xml.etree import ElementTree

from defusedxml.ElementTree import fromstring as parse_xml

from tests.fakes.ib_flex import status_xml
from tests.fakes.server import FakeServer, Reply

SUCCESS = "success"
PERSIST = 8  # more answers than any retry policy of the campaign makes attempts: the fault never clears

# Roles of a target within its source: what a failure there costs.
REQUIRED = "required"  # the capture cannot produce a snapshot without it
PROBE = "probe"  # the IB gateway's first contact (two attempts, then "not running")
KEEPALIVE = "keepalive"  # the IB tickle: a failure other than auth is logged and ignored
ENRICHMENT = "enrichment"  # IB secdef / exchangerate, the ECB feed: a failure costs a field or a rate
REFERENCE = "reference"  # the ECB feed: never decides a source's outcome


@dataclass(frozen=True)
class Target:
    source: str  # the capture's source name ("ecb" for the FX reference feed)
    method: str
    path: str  # the exact path the fake server sees
    role: str = REQUIRED
    body: str = "json"  # "json" or "xml": what a payload mutator must speak


Install = Callable[[FakeServer, Target, random.Random], None]


@dataclass(frozen=True)
class Fault:
    name: str
    kind: str  # "transport", "status", "body", "payload", "broker", "refused"
    install: Install | None  # None for "refused" (the source is pointed at a closed port instead)
    expect: Callable[[Target], frozenset[str]]
    warns: str | None = None  # a warning the run must carry when the source succeeds (substring)
    times: int = 1
    applies: Callable[[Target], bool] = field(default=lambda t: True)

    def label(self, target: Target) -> str:
        times = "" if self.times == 1 else " (persistent)"
        return f"{target.source} {target.method} {target.path}: {self.name}{times}"


# --- expectations --------------------------------------------------------------------------------------------
def _ok(_: Target) -> frozenset[str]:
    return frozenset({SUCCESS})


def _always(category: str) -> Callable[[Target], frozenset[str]]:
    return lambda t: frozenset({SUCCESS}) if t.role == REFERENCE else frozenset({category})


def _transient(category: str, times: int) -> Callable[[Target], frozenset[str]]:
    """A retryable failure: one occurrence is retried away; a persistent one fails a required request only."""

    def expect(target: Target) -> frozenset[str]:
        if times == 1 or target.role in (KEEPALIVE, ENRICHMENT, REFERENCE):
            return frozenset({SUCCESS})
        return frozenset({category})

    return expect


def _unreadable(target: Target) -> frozenset[str]:
    """A 200 whose body cannot be read: fatal where the body is needed, harmless where it is not."""
    if target.role in (KEEPALIVE, ENRICHMENT, REFERENCE):
        return frozenset({SUCCESS})
    if target.body == "xml":
        # Flex refuses a non-XML answer as a validation error (IBKR's CSV output), unreadable XML as parsing.
        return frozenset({"parsing", "validation"})
    return frozenset({"parsing"})


def _auth(target: Target, times: int) -> frozenset[str]:
    if target.role == REFERENCE:
        return frozenset({SUCCESS})
    if target.source == "schwab" and times == 1:
        return frozenset({SUCCESS})  # Schwab: a 401 refreshes the access token and repeats the call once
    return frozenset({"auth"})


# --- installers ----------------------------------------------------------------------------------------------
def _replies(*replies: Reply) -> Install:
    def install(server: FakeServer, target: Target, rng: random.Random) -> None:
        server.fail_next(target.method, target.path, *replies)

    return install


def _mutations(mutate: Callable[[Reply, random.Random], Reply], times: int = 1) -> Install:
    def install(server: FakeServer, target: Target, rng: random.Random) -> None:
        server.mutate_next(target.method, target.path, *[lambda reply: mutate(reply, rng)] * times)

    return install


CLIENT_TIMEOUT_S = 1.0  # the campaign's HTTP client timeout


def _delayed(reply: Reply, rng: random.Random) -> Reply:
    return replace(reply, delay=CLIENT_TIMEOUT_S + 0.5)


def _truncated(reply: Reply, rng: random.Random) -> Reply:
    body = reply.body.rstrip()
    cut = rng.randint(0, max(0, len(body) - 1))
    return replace(reply, body=body[:cut])


def _html(reply: Reply, rng: random.Random) -> Reply:
    page = b"<html><head><title>Maintenance</title></head><body>Back soon</body></html>"
    return Reply(200, page, {"Content-Type": "text/html"})


def _empty(reply: Reply, rng: random.Random) -> Reply:
    return Reply(200, b"", {"Content-Type": reply.headers.get("Content-Type", "application/json")})


def _extra_value(value: object) -> Callable[[Reply, random.Random], Reply]:
    """The documented body with one unknown field added, holding ``value``: the parse must not care, and
    the raw body must still be stored as received."""

    def mutate(reply: Reply, rng: random.Random) -> Reply:
        try:
            data = json.loads(reply.body)
        except ValueError:
            return reply
        holder = data if isinstance(data, dict) else next((x for x in data if isinstance(x, dict)), None)
        if isinstance(data, dict) and data and all(isinstance(v, dict) for v in data.values()):
            holder = next(iter(data.values()))  # a map keyed by currency (the IB ledger): a field of an entry
        if holder is not None:
            holder["_chaos"] = value
        return replace(reply, body=json.dumps(data).encode())

    return mutate


# --- payload mutators (JSON) ---------------------------------------------------------------------------------
JsonEdit = Callable[[Any, random.Random], None]


def _json_edit(edit: JsonEdit) -> Callable[[Reply, random.Random], Reply]:
    def mutate(reply: Reply, rng: random.Random) -> Reply:
        if reply.status != 200:
            return reply
        try:
            data = json.loads(reply.body)
        except ValueError:
            return reply
        edit(data, rng)
        return replace(reply, body=json.dumps(data).encode())

    return mutate


def _rows(data: Any) -> list[dict[str, Any]]:
    """The position rows of an IB positions page or of every account in a Schwab accounts answer."""
    if isinstance(data, list) and data and isinstance(data[0], dict) and "securitiesAccount" in data[0]:
        return [p for a in data for p in a["securitiesAccount"].get("positions", [])]
    if isinstance(data, dict) and "securitiesAccount" in data:
        return list(data["securitiesAccount"].get("positions", []))
    return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


def _long_rows(data: Any) -> list[dict[str, Any]]:
    rows = _rows(data)
    longs = [r for r in rows if (r.get("position") or r.get("longQuantity") or 0) > 0]
    return longs or rows


def _pick(data: Any, rng: random.Random) -> dict[str, Any]:
    return rng.choice(_long_rows(data))


def drop(*keys: str) -> JsonEdit:
    def edit(data: Any, rng: random.Random) -> None:
        row = _pick(data, rng)
        for key in keys:
            row.pop(key, None)

    return edit


def set_field(key: str, value: Any) -> JsonEdit:
    def edit(data: Any, rng: random.Random) -> None:
        _pick(data, rng)[key] = value

    return edit


def duplicate_row(data: Any, rng: random.Random) -> None:
    if isinstance(data, list) and data and "securitiesAccount" in data[0]:
        positions = data[0]["securitiesAccount"]["positions"]
    else:
        positions = data
    positions.append(json.loads(json.dumps(rng.choice(positions))))


def ib_price(kind: str) -> JsonEdit:
    def edit(data: Any, rng: random.Random) -> None:
        row = max(_long_rows(data), key=lambda r: r["mktValue"])  # the biggest: a zero must be noticed
        if kind == "negative":
            row["mktPrice"] = -abs(row["mktPrice"])
        else:
            row["mktPrice"] = 0
            row["mktValue"] = 0
            row["unrealizedPnl"] = 0

    return edit


def schwab_price(kind: str) -> JsonEdit:
    def edit(data: Any, rng: random.Random) -> None:
        row = max(_long_rows(data), key=lambda r: r["marketValue"])
        row["marketValue"] = -abs(row["marketValue"]) if kind == "negative" else 0

    return edit


def summary_edit(key: str, value: Any) -> JsonEdit:
    def edit(data: Any, rng: random.Random) -> None:
        data["netliquidation"][key] = value

    return edit


def ledger_timestamp(value: Any) -> JsonEdit:
    def edit(data: Any, rng: random.Random) -> None:
        entry = data[rng.choice([k for k in data if k != "BASE"])]
        entry["timestamp"] = value

    return edit


def transaction_time(value: str) -> JsonEdit:
    def edit(data: Any, rng: random.Random) -> None:
        if data:
            rng.choice(data)["time"] = value

    return edit


def numbers_edit(data: Any, rng: random.Random) -> None:
    rng.choice(data).pop("hashValue")


def accounts_edit(data: Any, rng: random.Random) -> None:
    row = rng.choice(data)
    row.pop("accountId", None)
    row.pop("id", None)


# --- payload mutators (XML: the Flex statement) --------------------------------------------------------------
XmlEdit = Callable[[ElementTree.Element, random.Random], None]


def _xml_edit(edit: XmlEdit) -> Callable[[Reply, random.Random], Reply]:
    def mutate(reply: Reply, rng: random.Random) -> Reply:
        if b"<FlexQueryResponse" not in reply.body[:2048]:
            return reply  # a status answer, not the statement
        root = parse_xml(reply.body)
        edit(root, rng)
        return replace(reply, body=ElementTree.tostring(root))

    return mutate


def _positions(root: ElementTree.Element) -> list[ElementTree.Element]:
    return [p for p in root.iter("OpenPosition") if float(p.get("position") or 0) > 0]


def xml_drop(attr: str) -> XmlEdit:
    def edit(root: ElementTree.Element, rng: random.Random) -> None:
        rng.choice(_positions(root)).attrib.pop(attr, None)

    return edit


def xml_set(attr: str, value: str) -> XmlEdit:
    def edit(root: ElementTree.Element, rng: random.Random) -> None:
        rng.choice(_positions(root)).set(attr, value)

    return edit


def xml_duplicate(root: ElementTree.Element, rng: random.Random) -> None:
    row = rng.choice(_positions(root))
    for parent in root.iter("OpenPositions"):
        if row in list(parent):
            parent.append(parse_xml(ElementTree.tostring(row)))
            return


def xml_price(kind: str) -> XmlEdit:
    def edit(root: ElementTree.Element, rng: random.Random) -> None:
        row = max(_positions(root), key=lambda p: float(p.get("positionValue") or 0))
        if kind == "negative":
            row.set("markPrice", "-" + (row.get("markPrice") or "1").lstrip("-"))
        else:
            row.set("markPrice", "0")
            row.set("positionValue", "0")
            row.set("fifoPnlUnrealized", "0")

    return edit


def xml_generated(value: str) -> XmlEdit:
    def edit(root: ElementTree.Element, rng: random.Random) -> None:
        for statement in root.iter("FlexStatement"):
            statement.set("whenGenerated", value)

    return edit


# --- the catalogue -------------------------------------------------------------------------------------------
def _wire_faults() -> list[Fault]:
    faults: list[Fault] = []
    for times in (1, PERSIST):
        faults += [
            Fault("connection reset", "transport", _replies(*[Reply.drop()] * times),
                  _transient("network", times), times=times),
            Fault("read timeout", "transport", _mutations(_delayed, times), _transient("network", times),
                  times=times),
            Fault("HTTP 401", "status", _replies(*[Reply.json({"error": "unauthorized"}, 401)] * times),
                  lambda t, n=times: _auth(t, n), times=times),
            Fault("HTTP 429 Retry-After: 1", "status",
                  _replies(*[Reply.json({"error": "Too Many Requests"}, 429, {"Retry-After": "1"})] * times),
                  _transient("rate_limit", times), times=times),
            Fault("HTTP 429 without Retry-After", "status",
                  _replies(*[Reply.json({"error": "Too Many Requests"}, 429)] * times),
                  _transient("rate_limit", times), times=times),
            Fault("HTTP 500", "status", _replies(*[Reply.text("Internal Server Error", 500)] * times),
                  _transient("network", times), times=times),
            Fault("HTTP 503", "status", _replies(*[Reply.text("Service Unavailable", 503)] * times),
                  _transient("network", times), times=times),
        ]
    faults += [
        Fault("truncated body", "body", _mutations(_truncated), _unreadable),
        Fault("HTML instead of the payload", "body", _mutations(_html), _unreadable),
        Fault("empty 200 body", "body", _mutations(_empty), _unreadable),
        # Python's json reads NaN and lone UTF-16 surrogates; PostgreSQL's jsonb refuses both
        Fault("unknown field holding NaN", "body", _mutations(_extra_value(float("nan"))), _ok,
              applies=lambda t: t.body == "json"),
        Fault("unknown field holding a lone surrogate", "body", _mutations(_extra_value("\ud83d")), _ok,
              applies=lambda t: t.body == "json"),
        Fault("connection refused", "refused", None, _always("network")),
    ]
    return faults


def _payload(name: str, mutate: Callable[[Reply, random.Random], Reply], expect: set[str],
             warns: str | None = None) -> Fault:
    return Fault(name, "payload", _mutations(mutate), lambda t, e=frozenset(expect): e, warns=warns)


def ib_positions_faults() -> list[Fault]:
    j = _json_edit
    return [
        _payload("position row without conid", j(drop("conid")), {"parsing"}),
        _payload("position row without position", j(drop("position")), {"parsing"}),
        _payload("position row without mktValue", j(drop("mktValue")), {"parsing"}),
        # IBKR's first read after login lacks these; secdef / a re-read supply them
        _payload("position row without currency", j(drop("currency")), {SUCCESS}),
        _payload("position row without ticker and name", j(drop("ticker", "name")), {SUCCESS}),
        _payload("position as text", j(set_field("position", "lots")), {"parsing"}),
        _payload("mktValue as an object", j(set_field("mktValue", {"amount": 1})), {"parsing"}),
        _payload("conid as a list", j(set_field("conid", [1])), {"parsing"}),
        _payload("mktPrice as a boolean", j(set_field("mktPrice", True)), {"parsing"}),
        _payload("duplicate position row", j(duplicate_row), {SUCCESS}, warns="listed twice"),
        _payload("negative price", j(ib_price("negative")), {"validation"}),
        # a worthless holding is legitimate: stored, and the total no longer reconciles (a warning)
        _payload("zero price and value", j(ib_price("zero")), {SUCCESS}, warns="do not match"),
        _payload("unknown currency", j(set_field("currency", "ZZZ")), {"validation"}),
        _payload("infinite quantity", j(set_field("position", "Infinity")), {"validation"}),
    ]


def ib_summary_faults() -> list[Fault]:
    j = _json_edit
    return [
        _payload("timestamp without time zone", j(summary_edit("timestamp", "2026-11-21T10:00:00")), {"parsing"}),
        _payload("timestamp in the year 1970", j(summary_edit("timestamp", 12)), {"validation"}),
        _payload("netliquidation as a list", j(lambda d, r: d.update(netliquidation=[1])), {"parsing"}),
        _payload("currency of the total unknown", j(summary_edit("currency", "ZZZ")), {"validation"}),
    ]


def ib_ledger_faults() -> list[Fault]:
    j = _json_edit
    return [
        _payload("ledger timestamp without time zone", j(ledger_timestamp("2026-11-21 10:00:00")), {"parsing"}),
        _payload("ledger entry as a number", j(lambda d, r: d.update(USD=5)), {"parsing"}),
        _payload("ledger currency unknown", j(lambda d, r: d.update(ZZZ=dict(d["BASE"], currency="ZZZ"))),
                 {"validation"}),
    ]


def ib_accounts_faults() -> list[Fault]:
    return [_payload("account without id", _json_edit(accounts_edit), {"parsing"})]


def schwab_accounts_faults() -> list[Fault]:
    j = _json_edit
    return [
        _payload("position without marketValue", j(drop("marketValue")), {"parsing"}),
        _payload("position without instrument", j(drop("instrument")), {"parsing"}),
        _payload("longQuantity as text", j(set_field("longQuantity", "many")), {"parsing"}),
        _payload("instrument as a string", j(set_field("instrument", "AAPL")), {"parsing"}),
        # Schwab lists a security once per sub-account: rows of one instrument are summed, and a duplicated row
        # then breaks the reconciliation with the account's liquidation value (a warning on the snapshot)
        _payload("duplicate position row", j(duplicate_row), {SUCCESS}, warns="do not match"),
        _payload("negative price", j(schwab_price("negative")), {"validation"}),
        _payload("zero price and value", j(schwab_price("zero")), {SUCCESS}, warns="do not match"),
        _payload("averagePrice not finite", j(set_field("averagePrice", "NaN")), {"parsing"}),
    ]


def schwab_numbers_faults() -> list[Fault]:
    return [_payload("account number without hash", _json_edit(numbers_edit), {"parsing"})]


def schwab_transactions_faults() -> list[Fault]:
    return [
        _payload("trade time without time zone", _json_edit(transaction_time("2026-10-01T14:30:00")), {"parsing"}),
        _payload("trade time not a time", _json_edit(transaction_time("yesterday")), {"parsing"}),
    ]


def flex_statement_faults() -> list[Fault]:
    x = _xml_edit
    return [
        _payload("OpenPosition without position", x(xml_drop("position")), {"parsing"}),
        _payload("OpenPosition without markPrice", x(xml_drop("markPrice")), {"parsing"}),
        _payload("markPrice not a number", x(xml_set("markPrice", "n/a")), {"parsing"}),
        _payload("duplicate OpenPosition", x(xml_duplicate), {SUCCESS}, warns="two summary rows"),
        _payload("negative markPrice", x(xml_price("negative")), {"validation"}),
        _payload("zero markPrice and value", x(xml_price("zero")), {SUCCESS}, warns="do not match"),
        _payload("unknown currency", x(xml_set("currency", "ZZZ")), {"validation"}),
        # Flex date-times never carry a zone (IBKR's US Eastern); an ISO form with one is not a Flex date-time
        _payload("whenGenerated in another format", x(xml_generated("2026-11-21T04:12:33+05:00")),
                 {"parsing", SUCCESS}),
    ]


def flex_codes() -> list[Fault]:
    """IBKR's Flex answers: always HTTP 200, the failure in an XML status body."""
    def code(c: str, times: int = 1) -> Install:
        status = "Warn" if c == "1019" else "Fail"
        return _replies(*[Reply(200, status_xml(c, status=status), {"Content-Type": "text/xml"})] * times)

    return [
        Fault("Flex 1019 generation in progress (x3)", "broker", code("1019", 3), _ok, times=3),
        Fault("Flex 1009 server busy", "broker", code("1009"), _ok),
        Fault("Flex 1018 throttled", "broker", code("1018"), _ok),
        Fault("Flex 1012 token expired", "broker", code("1012"), _always("auth")),
        Fault("Flex 1015 token invalid", "broker", code("1015"), _always("auth")),
        Fault("Flex 1003 statement not available", "broker", code("1003"), _always("validation")),
        Fault("Flex 1019 forever", "broker", code("1019", 60), _always("network"), times=60),
    ]


WIRE = _wire_faults()
