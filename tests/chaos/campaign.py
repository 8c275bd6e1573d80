"""The fault campaign: captures against the fake brokers with faults injected at random, each one checked.

Per capture, every source (and the ECB reference) gets a fault with probability ``FAULT_RATE`` — at least one
per capture — drawn from ``faults.py``. After the capture the campaign checks:

* ``capture()`` returned (no exception) and nothing was logged as an uncategorised, unexpected error;
* each source ended as its fault says it must (``success`` or the right error category); a failure carries a
  category and a message; a success the fault should have warned about carries the warning; a retried
  ``429 Retry-After`` waited at least what the broker asked;
* every response a fake broker delivered is in ``raw_payloads`` for this run, byte for byte (SHA-256);
* every snapshot written has exactly the positions a re-parse of the stored raw payloads gives, and as many
  as the clean baseline has for that account; a failed source wrote no snapshot at all;
* no duplicate snapshot, position, trade or raw payload; the run's status agrees with its sources.

Problems are collected, not raised one by one, so a campaign reports every broken invariant at once.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.domain import RawResponse, RunResult, SourceStatus, TriggerContext
from portfolio_dashboard.domain.valuation import validate
from portfolio_dashboard.errors import CATEGORIES
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.storage.unit_of_work import UnitOfWork
from tests.chaos.faults import CLIENT_TIMEOUT_S, SUCCESS, WIRE, Fault, Target
from tests.chaos.world import SOURCES, Sleeper, World, seed_rates

FAULT_RATE = 0.55
KIND_WEIGHTS = {"transport": 3, "status": 4, "body": 3, "payload": 5, "broker": 1, "refused": 1}


@dataclass
class Planned:
    target: Target
    fault: Fault

    @property
    def label(self) -> str:
        return self.fault.label(self.target)


@dataclass
class Stats:
    captures: int = 0
    faults: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)  # "success" or the failure category
    run_status: Counter[str] = field(default_factory=Counter)
    responses_checked: int = 0
    snapshots_checked: int = 0
    unhandled: int = 0
    uncategorised: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [
            f"captures {self.captures}, faults injected {self.faults} in {self.seconds:.0f}s",
            "faults by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(self.by_kind.items())),
            "source outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())),
            "run status: " + ", ".join(f"{k} {v}" for k, v in sorted(self.run_status.items())),
            f"raw responses checked {self.responses_checked}, snapshots checked {self.snapshots_checked}",
            f"unhandled exceptions {self.unhandled}, uncategorised errors {self.uncategorised}, "
            f"broken invariants {len(self.problems)}",
        ]
        return "\n".join(lines)


class _ErrorLog(logging.Handler):
    """Catches log records that carry a traceback: a categorised failure never logs one."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        # capture.py logs "<source>: unexpected error" (with the traceback) for an exception it had to guess at
        if record.exc_info or record.getMessage().endswith(": unexpected error"):
            self.records.append(record)


def plan(world: World, rng: random.Random) -> dict[str, Planned]:
    """One fault for some of the sources (and the ECB feed), at least one per capture."""
    targets = world.targets()
    chosen: dict[str, Planned] = {}
    names = list(targets)
    while not chosen:
        for name in names:
            if rng.random() >= FAULT_RATE:
                continue
            pairs = [(t, f) for t, payload in targets[name] for f in [*WIRE, *payload] if f.applies(t)]
            kinds = sorted({f.kind for _, f in pairs})
            kind = rng.choices(kinds, [KIND_WEIGHTS[k] for k in kinds])[0]
            target, fault = rng.choice([(t, f) for t, f in pairs if f.kind == kind])
            chosen[name] = Planned(target, fault)
    return chosen


def _install(world: World, planned: dict[str, Planned], rng: random.Random) -> None:
    for p in planned.values():
        if p.fault.install is not None:
            p.fault.install(world.servers[p.target.source], p.target, rng)


def _delivered(world: World, marks: dict[str, int]) -> dict[str, list[Any]]:
    """Requests each fake answered in full during the capture (a reset or an answer after the client's
    timeout never reached it); Schwab's token calls are not recorded by design (their bodies are secrets)."""
    out: dict[str, list[Any]] = {}
    for name, server in world.servers.items():
        got = []
        for req in server.requests[marks[name]:]:
            reply = getattr(req, "reply", None)
            if reply is None or reply.drop_connection or reply.delay >= CLIENT_TIMEOUT_S:
                continue
            if name == "schwab" and req.path == "/v1/oauth/token":
                continue
            got.append(req)
        out[name] = got
    return out


def _rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params).mappings())


def _reparse(engine: Engine, run_id: Any, source: Any) -> dict[str, int]:
    """Snapshot key -> position count (cash included) from this run's stored raw payloads of one source."""
    raws = [
        RawResponse(r["source"], r["broker"], r["endpoint"], r["received_at"], r["status_code"],
                    bytes(r["exact"]) if r["exact"] is not None else (r["body"] or "").encode(), r["content_type"],
                    dict(r["headers"] or {}))
        for r in _rows(engine, "SELECT source, broker, endpoint, received_at, status_code, content_type, headers, "
                               "body_bytes AS exact, COALESCE(body_text, payload_json::text) AS body "
                               "FROM raw_payloads WHERE run_id = :r AND source = :s ORDER BY received_at, id",
                       r=run_id, s=source.name)
    ]
    counts = {}
    for snap in source.parse(raws).snapshots:
        checked, _ = validate(snap)
        counts[checked.key] = len(checked.all_positions())
    return counts


class Campaign:
    def __init__(self, app: App, world: World, seed: int) -> None:
        self.app = app
        self.world = world
        self.rng = random.Random(seed)
        self.stats = Stats()
        self.baseline: dict[tuple[str, str], set[int]] = defaultdict(set)
        self.errors = _ErrorLog()
        self._parsers: dict[str, Any] = {}

    # --- running ---------------------------------------------------------------------------------------------
    def setup(self) -> None:
        with UnitOfWork(self.app.engine) as uow:
            uow.repo.upsert_fx_rates(seed_rates())
            uow.commit()
        result, _ = self._capture({})
        bad = [f"{o.source}: {o.error_category}: {o.error_message}" for o in result.sources if o.status != "success"]
        assert not bad, f"the clean baseline capture failed: {bad}"
        for r in _rows(self.app.engine, "SELECT s.broker, s.broker_account_id, count(p.*) AS n FROM snapshots s "
                                        "LEFT JOIN positions p ON p.snapshot_id = s.id GROUP BY s.id"):
            self.baseline[(r["broker"], r["broker_account_id"])].add(int(r["n"]))

    def run(self, captures: int) -> Stats:
        logging.getLogger().addHandler(self.errors)
        started = time.monotonic()
        try:
            self.setup()
            for _ in range(captures):
                self.one()
        finally:
            logging.getLogger().removeHandler(self.errors)
            self.stats.seconds = time.monotonic() - started
        return self.stats

    def _capture(self, planned: dict[str, Planned]) -> tuple[RunResult, dict[str, Sleeper]]:
        world = self.world
        world.next_capture()
        for server in world.servers.values():
            server.clear_faults()
        refused = {name for name, p in planned.items() if p.fault.install is None}
        sleepers = {name: Sleeper() for name in (*SOURCES, "ecb")}
        _install(world, planned, self.rng)
        self.app.reference_factory = world.reference("ecb" in refused, sleepers["ecb"])
        sources = world.build(refused, sleepers)
        result = capture(TriggerContext(sources=SOURCES), app=self.app, sources=sources)
        return result, sleepers

    def one(self) -> None:
        planned = plan(self.world, self.rng)
        stats = self.stats
        stats.captures += 1
        stats.faults += len(planned)
        for p in planned.values():
            stats.by_kind[p.fault.kind] += 1
        marks = {name: len(server.requests) for name, server in self.world.servers.items()}
        seen_errors = len(self.errors.records)
        where = "; ".join(p.label for p in planned.values())
        try:
            result, sleepers = self._capture(planned)
        except Exception as exc:  # the capture promised never to raise for a broker's failure
            stats.unhandled += 1
            stats.problems.append(f"capture raised {type(exc).__name__}: {exc} [{where}]")
            return
        for record in self.errors.records[seen_errors:]:
            stats.uncategorised += 1
            stats.problems.append(f"logged with a traceback: {record.getMessage()} [{where}]")
        problems = self.check(result, planned, sleepers, _delivered(self.world, marks))
        stats.problems += [f"{p} [{where}]" for p in problems]

    # --- checking --------------------------------------------------------------------------------------------
    def check(self, result: RunResult, planned: dict[str, Planned], sleepers: dict[str, Sleeper],
              delivered: dict[str, list[Any]]) -> list[str]:
        problems: list[str] = []
        stats = self.stats
        stats.run_status[str(result.status)] += 1
        outcomes = {o.source: o for o in result.sources}
        for name in SOURCES:
            o = outcomes[name]
            got = SUCCESS if o.status == SourceStatus.SUCCESS else (o.error_category or "uncategorised")
            stats.outcomes[got] += 1
            p = planned.get(name)
            allowed = p.fault.expect(p.target) if p else frozenset({SUCCESS})
            if got not in allowed:
                problems.append(f"{name} ended {got} ({o.error_message}), expected one of {sorted(allowed)}")
            if o.status != SourceStatus.SUCCESS:
                if o.error_category not in CATEGORIES or not o.error_message:
                    problems.append(f"{name} failed without a category or message: {o.error_category!r}")
            elif p is not None and p.fault.warns and got in allowed and not any(p.fault.warns in w for w in o.warnings):
                problems.append(f"{name} succeeded without the warning {p.fault.warns!r}: {o.warnings}")
        for name, p in planned.items():
            asked = sleepers[name].asked
            limited = any(r.reply.status == 429 and r.reply.headers.get("Retry-After") for r in delivered[name])
            if limited and p.fault.times == 1 and not any(s >= 1.0 for s in asked):
                problems.append(f"{name}: Retry-After 1 not honoured (waits asked: {asked[:5]})")
        problems += self._check_raws(result, delivered)
        problems += self._check_snapshots(result, outcomes)
        problems += self._check_run(result)
        return problems

    def _check_raws(self, result: RunResult, delivered: dict[str, list[Any]]) -> list[str]:
        problems = []
        stored = _rows(self.app.engine, "SELECT source, endpoint, content_sha256 FROM raw_payloads WHERE run_id = :r",
                       r=result.run_id)
        for name, requests in delivered.items():
            mine = [r for r in stored if r["source"] == name]
            self.stats.responses_checked += len(requests)
            if len(mine) != len(requests):
                problems.append(f"{name}: {len(requests)} responses delivered, {len(mine)} stored")
                continue
            # the gateway's tickle is stored with its session id masked: compare the others byte for byte
            want = Counter(hashlib.sha256(r.reply.body).hexdigest() for r in requests if not r.path.endswith("/tickle"))
            have = Counter(r["content_sha256"] for r in mine if "/tickle" not in r["endpoint"])
            if want != have:
                problems.append(f"{name}: stored raw bodies differ from the delivered ones")
        return problems

    def _check_snapshots(self, result: RunResult, outcomes: dict[str, Any]) -> list[str]:
        problems = []
        engine = self.app.engine
        written = _rows(engine, "SELECT s.source, s.broker, s.broker_account_id, s.snapshot_key, count(p.*) AS n "
                                "FROM snapshots s LEFT JOIN positions p ON p.snapshot_id = s.id "
                                "WHERE s.run_id = :r GROUP BY s.id", r=result.run_id)
        for name in SOURCES:
            o = outcomes[name]
            mine = {r["snapshot_key"]: r for r in written if r["source"] == name}
            if o.status != SourceStatus.SUCCESS:
                if mine:
                    problems.append(f"{name} failed but wrote {len(mine)} snapshot(s)")
                continue
            expected = _reparse(engine, result.run_id, self.world_source(name))
            if o.snapshots_written + o.snapshots_existing != len(expected):
                problems.append(f"{name}: {o.snapshots_written}+{o.snapshots_existing} snapshots for "
                                f"{len(expected)} parsed")
            keys = {r["snapshot_key"] for r in _rows(engine, "SELECT snapshot_key FROM snapshots "
                                                             "WHERE snapshot_key = ANY(:k)", k=list(expected))}
            if keys != set(expected):
                problems.append(f"{name}: parsed snapshots missing from the database: {set(expected) - keys}")
            for key, row in mine.items():
                self.stats.snapshots_checked += 1
                if row["n"] != expected.get(key):
                    problems.append(f"{name}: snapshot {key} has {row['n']} positions, parse gives {expected.get(key)}")
                base = self.baseline.get((row["broker"], row["broker_account_id"]))
                if base and row["n"] not in base:
                    problems.append(f"{name}: snapshot {key} has {row['n']} positions, baseline {sorted(base)}")
        return problems

    def world_source(self, name: str) -> Any:
        """A source object for its pure ``parse`` (built once; never fetches)."""
        if not self._parsers:
            self._parsers = self.world.build(set(), {n: Sleeper() for n in (*SOURCES, "ecb")})
        return self._parsers[name]

    def _check_run(self, result: RunResult) -> list[str]:
        problems = []
        engine = self.app.engine
        run = _rows(engine, "SELECT status, finished_at, error_summary FROM snapshot_runs WHERE run_id = :r",
                    r=result.run_id)[0]
        failed = [o for o in result.sources if o.status != SourceStatus.SUCCESS]
        want = "success" if not failed else ("fail" if len(failed) == len(result.sources) else "partial")
        if run["status"] != want or str(result.status) != want or run["finished_at"] is None:
            problems.append(f"run recorded {run['status']} / returned {result.status}, sources say {want}")
        for o in failed:
            if o.source not in (run["error_summary"] or ""):
                problems.append(f"run error_summary does not name {o.source}")
        duplicates = {
            "snapshots": "SELECT snapshot_key FROM snapshots GROUP BY 1 HAVING count(*) > 1",
            "positions": "SELECT snapshot_id, instrument_id FROM positions GROUP BY 1, 2 HAVING count(*) > 1",
            "trades": "SELECT broker, broker_trade_id FROM trades GROUP BY 1, 2 HAVING count(*) > 1",
            "raw_payloads": "SELECT run_id, source, endpoint, received_at, content_sha256 FROM raw_payloads "
                            "GROUP BY 1, 2, 3, 4, 5 HAVING count(*) > 1",
            "fx_rates": "SELECT asof_ts, source_ccy, target_ccy, provider FROM fx_rates GROUP BY 1, 2, 3, 4 "
                        "HAVING count(*) > 1",
            "running runs": "SELECT run_id FROM snapshot_runs WHERE status = 'running'",
        }
        for what, sql in duplicates.items():
            if _rows(engine, sql):
                problems.append(f"duplicate {what}")
        return problems
