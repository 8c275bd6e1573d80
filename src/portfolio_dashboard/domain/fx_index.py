"""A source's own FX rates, indexed so that valuing a snapshot does not scan every rate for every position.

``fx.find_rate`` scans the whole list (twice per candidate cross currency) for each conversion: fine for the
handful of rates a broker response carries, quadratic for a long history parsed at once (a year-long Flex
statement, ``demo seed``'s single run of every day, a reprocess). ``OwnRates.near`` hands it only the rates
that can win — per currency pair touching the currency or the base, those closest in time to the as-of — so
``find_rate(near(...))`` returns exactly what ``find_rate(all rates)`` would.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import datetime

from portfolio_dashboard.domain import FxRate

SMALL = 32  # below this a scan is as quick as the index


class OwnRates:
    def __init__(self, rates: Sequence[FxRate]) -> None:
        self.rates = rates
        # pair -> (as-of times ascending, [(original position, rate)] in the same order)
        self._pairs: dict[frozenset[str], tuple[list[datetime], list[tuple[int, FxRate]]]] = {}
        if len(rates) > SMALL:
            grouped: dict[frozenset[str], list[tuple[int, FxRate]]] = {}
            for i, r in enumerate(rates):
                grouped.setdefault(frozenset((r.source_ccy, r.target_ccy)), []).append((i, r))
            for pair, items in grouped.items():
                items.sort(key=lambda item: (item[1].asof_ts, item[0]))
                self._pairs[pair] = ([r.asof_ts for _, r in items], items)

    def near(self, currency: str, base: str, at: datetime) -> Sequence[FxRate]:
        """The rates ``find_rate(·, currency, base, at)`` can choose from, in their original order."""
        if not self._pairs:
            return self.rates
        chosen: list[tuple[int, FxRate]] = []
        for pair, (times, items) in self._pairs.items():
            if currency not in pair and base not in pair:
                continue
            i = bisect_left(times, at)
            best = min(abs(times[j] - at) for j in (i - 1, i) if 0 <= j < len(times))
            # every rate at that distance (both sides of the as-of, duplicates of a time): find_rate's tie rule
            # decides among them exactly as it would in the full list
            lo = i - 1
            while lo >= 0 and abs(times[lo] - at) <= best:
                lo -= 1
            hi = i
            while hi < len(times) and abs(times[hi] - at) <= best:
                hi += 1
            chosen.extend(item for item in items[lo + 1 : hi] if abs(item[1].asof_ts - at) == best)
        chosen.sort(key=lambda item: item[0])
        return [r for _, r in chosen]
