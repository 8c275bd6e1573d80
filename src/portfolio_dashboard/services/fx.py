"""Choosing the FX rate for a conversion to the base currency (GBP), and converting.

Order of preference (the FX provider chain):
  1. the source's own rates for that account and time (IB ledger, Flex ConversionRates, demo);
  2. rates another source published earlier in the same run (Schwab's USD converted at IB's rate);
  3. rates already stored in ``fx_rates`` at or before the as-of (IB, Flex, ECB, manual);
  4. a public reference provider (ECB daily euro reference rates), fetched once per run and stored.
Within a tier, the rate closest in time to the as-of wins; ties are broken by the rate's own fields (at or
before the as-of, quoted in the direction asked, provider, value), never by the order rates arrived in.

Tier 2 is the same whichever source commits first: in a capture every source publishes its parsed rates and
waits until every other source of the run has published (or failed) before it values anything (``expect``,
``arrive``, ``wait_for_sources``), so each source sees every other source's rates, as ``reprocess`` does.
The wait is bounded by the capture deadline: a source still fetching then is cut off anyway.

A rate further than ``max_age`` from the as-of is
still used but never silently: the conversion carries a warning. A rate is never made up: without one, the
GBP values stay NULL and the run says why.

Provenance: rates of the demo source (provider ``demo``, or a cross rate built from one) value only the demo's
own accounts. A real account never uses one, from this run's book or from ``fx_rates`` — its GBP value stays
empty with a warning instead (``conversion(..., allow_demo=False)``; ``pipeline.stored_lookup`` asks only the
real providers).

When only a chain of stored rates connects a currency to GBP (an IB account in USD reports EUR->USD in its
ledger and USD->GBP from /iserver/exchangerate), the product is stored as its own ``fx_rates`` row with
provider ``<provider>+cross`` so every converted amount references exactly the row it used.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from portfolio_dashboard.brokers.base import ReferenceRates
from portfolio_dashboard.domain import FxRate, RawResponse
from portfolio_dashboard.errors import SourceError

StoredLookup = Callable[[str, str, datetime], FxRate | None]


@dataclass(frozen=True, slots=True)
class Conversion:
    """How to turn an amount in ``currency`` into the base currency."""

    currency: str
    rate: FxRate | None  # the stored row used (either direction); None when no rate or same currency
    factor: Decimal | None  # multiply a local amount by this; None when no rate is known
    warning: str | None = None

    def convert(self, amount: Decimal | None) -> Decimal | None:
        if amount is None or self.factor is None:
            return None
        return amount * self.factor


DEMO_PROVIDER = "demo"


def is_demo_rate(rate: FxRate) -> bool:
    """A rate the demo source made up, or one computed from such a rate (``demo+cross``, ``ib/demo+cross``)."""
    return DEMO_PROVIDER in rate.provider.replace("+", "/").split("/")


def factor_for(rate: FxRate, currency: str) -> Decimal:
    """Base-currency units per one ``currency`` unit from a rate stored in either direction."""
    return rate.rate if rate.source_ccy == currency else 1 / rate.rate


def _closest(rates: Iterable[FxRate], at: datetime, source_ccy: str | None = None) -> FxRate | None:
    """The rate nearest in time to ``at``; on a tie the one at or before ``at``, then the one quoted in the
    direction asked for (``source_ccy`` -> ...), so an inverse quote never wins over a direct one; then by
    provider and value, so that the choice never depends on the order of ``rates``."""
    best: FxRate | None = None
    best_rank: tuple[object, ...] = ()
    for r in rates:
        rank = (abs(r.asof_ts - at), r.asof_ts > at, r.source_ccy != source_ccy, r.provider, r.rate, r.asof_ts)
        if best is None or rank < best_rank:
            best, best_rank = r, rank
    return best


def _pair(rates: Iterable[FxRate], a: str, b: str) -> list[FxRate]:
    return [r for r in rates if {r.source_ccy, r.target_ccy} == {a, b}]


def find_rate(rates: Sequence[FxRate], currency: str, base: str, at: datetime) -> FxRate | None:
    """A direct rate or, failing that, a one-step cross rate through another currency (stored as ``+cross``)."""
    direct = _closest(_pair(rates, currency, base), at, currency)
    if direct is not None:
        return direct
    via = {r.target_ccy if r.source_ccy == currency else r.source_ccy for r in rates
           if currency in (r.source_ccy, r.target_ccy)}
    candidates: list[FxRate] = []
    for mid in sorted(via - {currency, base}):
        first = _closest(_pair(rates, currency, mid), at, currency)
        second = _closest(_pair(rates, mid, base), at, mid)
        if first is None or second is None:
            continue
        value = factor_for(first, currency) * factor_for(second, mid)
        provider = first.provider if first.provider == second.provider else f"{first.provider}/{second.provider}"
        candidates.append(
            FxRate(currency, base, value, min(first.asof_ts, second.asof_ts), f"{provider}+cross")
        )
    return _closest(candidates, at, currency)


class FxChain:
    """One per capture run; thread-safe, shared by the sources' worker threads."""

    def __init__(
        self,
        base: str,
        max_age: timedelta,
        stored_lookup: StoredLookup | None = None,
        reference: ReferenceRates | None = None,
    ) -> None:
        self.base = base
        self.max_age = max_age
        self.stored_lookup = stored_lookup
        self.reference = reference
        self._run_book: list[FxRate] = []
        self._reference_rates: list[FxRate] | None = None
        self.reference_raws: list[RawResponse] = []
        self.reference_error: str | None = None
        self._lock = threading.Lock()
        self._published = threading.Condition(self._lock)
        self._expected: frozenset[str] = frozenset()
        self._arrived: set[str] = set()
        self._wait_s: float | None = None

    def publish(self, rates: Iterable[FxRate]) -> None:
        """Make a source's own rates available to the other sources of this run."""
        with self._lock:
            self._run_book.extend(rates)

    def expect(self, sources: Iterable[str], wait_s: float | None) -> None:
        """The sources of this run: ``wait_for_sources`` waits (at most ``wait_s``) until each has arrived."""
        with self._lock:
            self._expected = frozenset(sources)
            self._wait_s = wait_s

    def arrive(self, source: str, rates: Iterable[FxRate] = ()) -> None:
        """``source`` has parsed (its rates are published) or has failed (none); safe to call again."""
        with self._published:
            if source not in self._arrived:
                self._run_book.extend(rates)
                self._arrived.add(source)
            self._published.notify_all()

    def wait_for_sources(self) -> bool:
        """Block until every expected source has arrived; False when the wait ran out first."""
        with self._published:
            return self._published.wait_for(lambda: self._expected <= self._arrived, self._wait_s)

    def _reference(self) -> list[FxRate]:
        with self._lock:
            if self._reference_rates is not None or self.reference is None:
                return self._reference_rates or []
            try:
                self._reference_rates = list(self.reference.load(self.reference_raws.append))
            except SourceError as exc:
                self._reference_rates = []
                self.reference_error = str(exc)
            return self._reference_rates

    def reference_rate(self, currency: str, at: datetime) -> FxRate | None:
        """The public reference provider's rate nearest ``at`` (fetched once per run), never a broker's."""
        return find_rate(self._reference(), currency, self.base, at)

    def conversion(self, currency: str, at: datetime, own: Sequence[FxRate] = (), *,
                   allow_demo: bool = True) -> Conversion:
        """How to convert ``currency`` at ``at``; ``allow_demo=False`` (a real account) never uses a demo rate."""
        if currency == self.base:
            return Conversion(currency, None, Decimal(1))
        with self._lock:
            run_book = list(self._run_book)
        if not allow_demo:
            own = [r for r in own if not is_demo_rate(r)]
            run_book = [r for r in run_book if not is_demo_rate(r)]
        rate = find_rate(own, currency, self.base, at) or find_rate(run_book, currency, self.base, at)
        if rate is None and self.stored_lookup is not None:
            rate = self.stored_lookup(currency, self.base, at)
            if rate is not None and not allow_demo and is_demo_rate(rate):
                rate = None  # a lookup that was not told (tests, older callers): provenance still holds
        if rate is None or abs(at - rate.asof_ts) > self.max_age:
            # Nothing fresh enough so far: the reference provider may have a newer rate than the stored one.
            fresh = find_rate(self._reference(), currency, self.base, at)
            if fresh is not None and (rate is None or abs(at - fresh.asof_ts) < abs(at - rate.asof_ts)):
                rate = fresh
        if rate is None:
            why = f"; reference rates unavailable: {self.reference_error}" if self.reference_error else ""
            return Conversion(
                currency, None, None, f"no {currency}->{self.base} rate available; GBP values left empty{why}"
            )
        warning = None
        age = abs(at - rate.asof_ts)
        if age > self.max_age:
            warning = (
                f"{currency}->{self.base} rate from {rate.provider} is {age.days} days from the as-of "
                f"(limit {self.max_age.days} days)"
            )
        return Conversion(currency, rate, factor_for(rate, currency), warning)
