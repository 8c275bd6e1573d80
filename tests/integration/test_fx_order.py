"""The FX rate a position gets does not depend on which source of a run commits first (issue 22): every
source values only once every other source has published its rates, as ``reprocess`` does, and ties
between rates are broken by the rates themselves, never by their order."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import text

from portfolio_dashboard.domain import FxRate, ParseResult
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.services.fx import FxChain
from tests.fakes.sources import ASOF, ScriptedSource, snapshot

HOUR = timedelta(hours=1)


def sources(slow: str, day: int = 0, rate: str = "0.75") -> dict[str, ScriptedSource]:
    """alpha reports USD->GBP with its USD account; beta has a USD account and no rates of its own."""
    asof = ASOF + timedelta(days=day)
    def pause(name: str):
        return (lambda: time.sleep(0.6)) if name == slow else None

    alpha = ParseResult(snapshots=(snapshot("alpha", "A1", asof=asof, currency="USD", cash=()),),
                        fx_rates=(FxRate("USD", "GBP", Decimal(rate), asof - HOUR, "ib"),))
    beta = ParseResult(snapshots=(snapshot("beta", "B1", asof=asof, currency="USD", cash=()),))
    return {"alpha": ScriptedSource("alpha", result=alpha, before_fetch=pause("alpha")),
            "beta": ScriptedSource("beta", result=beta, before_fetch=pause("beta"))}


def beta_value(engine, run_id) -> tuple[object, object]:
    with engine.connect() as conn:
        return conn.execute(text(
            """SELECT p.market_value_gbp, f.provider FROM positions p JOIN snapshots s ON s.id = p.snapshot_id
               LEFT JOIN fx_rates f ON f.id = p.fx_rate_id
               WHERE s.run_id = :r AND s.broker = 'beta'"""), {"r": run_id}).one()


def test_the_rate_does_not_depend_on_which_source_commits_first(app, engine):
    app.reference_factory = lambda _settings: None  # no ECB over the network
    # alpha (with the rate) slow: without the barrier beta would value with no rate at all; beta slow (a day
    # later, another rate): beta must take that day's rate from alpha, not yesterday's stored one
    first = capture(app=app, sources=sources(slow="alpha"))
    second = capture(app=app, sources=sources(slow="beta", day=1, rate="0.80"))
    assert first.status == second.status == "success"
    assert beta_value(engine, first.run_id) == (Decimal("18.75"), "ib")  # 25 USD at 0.75
    assert beta_value(engine, second.run_id) == (Decimal("20.00"), "ib")


def test_ties_are_broken_by_the_rates_not_their_order():
    at = ASOF
    same_time = [FxRate("USD", "GBP", Decimal("0.75"), at - HOUR, "ib"),
                 FxRate("USD", "GBP", Decimal("0.76"), at - HOUR, "ib_flex")]
    chosen = set()
    for book in (same_time, same_time[::-1]):
        chain = FxChain("GBP", timedelta(days=3))
        chain.publish(book)
        conv = chain.conversion("USD", at)
        chosen.add((conv.rate, conv.factor))
    assert len(chosen) == 1


def test_a_source_that_fails_does_not_hold_the_others_back(app, engine):
    app.reference_factory = lambda _settings: None
    broken = ScriptedSource("gamma", fetch_error=RuntimeError("boom"))
    result = capture(app=app, sources={**sources(slow="none"), "gamma": broken})
    assert {o.source: str(o.status) for o in result.sources} == {"alpha": "success", "beta": "success",
                                                                 "gamma": "fail"}
    assert (result.finished_at - result.started_at) < timedelta(seconds=20)
