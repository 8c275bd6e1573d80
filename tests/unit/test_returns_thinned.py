"""Thinned series (docs/returns.md, "Since inception, thinned"): valuations left out between kept ones that were not
neighbours can never make a gap, for one series and for a combined scope; the figures of a run without flows are
the same from its two ends as from every day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from portfolio_dashboard.domain.returns import ExternalFlow, ReturnSeries, SeriesColumns, combine_columns

D = Decimal


def day(n: int) -> datetime:
    return datetime(2026, 1, 1, 12, tzinfo=UTC) + timedelta(days=n)


def test_a_long_stretch_between_kept_valuations_is_a_gap_only_when_they_were_neighbours() -> None:
    stamps = (day(0), day(10), day(11))
    values = (D(100), D(110), D(111))
    thinned = ReturnSeries.from_columns(stamps, values, (), adjacent=(False, True))
    full = ReturnSeries.from_columns(stamps, values, ())
    assert thinned.period(date(2026, 1, 1), date(2026, 1, 12)).unavailable == ()
    assert full.period(date(2026, 1, 1), date(2026, 1, 12)).unavailable[0].startswith("gap in valuations")
    assert ReturnSeries.from_columns(stamps, values, (), adjacent=(True, True)).period(
        date(2026, 1, 1), date(2026, 1, 12)) == full.period(date(2026, 1, 1), date(2026, 1, 12))


def test_a_run_without_flows_chains_to_the_ratio_of_its_ends() -> None:
    daily = [D(100), D("101.5"), D("99.25"), D(104), D("103.2"), D(110)]
    stamps = tuple(day(n) for n in range(6))
    flows = (ExternalFlow(day(4) - timedelta(hours=3), D(5)),)
    full = ReturnSeries.from_columns(stamps, tuple(daily), flows).period(date(2026, 1, 1), date(2026, 1, 6))
    keep = (0, 3, 4, 5)  # first, the flow's two valuations, last
    thinned = ReturnSeries.from_columns(tuple(stamps[k] for k in keep), tuple(daily[k] for k in keep), flows,
                                        adjacent=(False, True, True)).period(date(2026, 1, 1), date(2026, 1, 6))
    assert thinned == full


def test_a_combined_scope_knows_which_of_its_moments_were_neighbours() -> None:
    thinned = SeriesColumns((day(0), day(5), day(6)), (D(1), D(2), D(3)), (), (False, True))
    whole = SeriesColumns((day(1), day(20)), (D(10), D(20)), ())
    combined = combine_columns([thinned, whole])
    assert combined.stamps == (day(0), day(1), day(5), day(6), day(20))
    # day 1 – day 5 lies inside the thinned part's left-out stretch (day 0 – day 5); the whole part was valued
    # on day 1 and next on day 20, neighbours throughout
    assert combined.adjacent == (False, False, True, True)
    assert combine_columns([whole, whole]).adjacent is None


def test_neighbour_flags_must_match_the_valuations() -> None:
    with pytest.raises(ValueError, match="2 neighbour flags for 2 valuations"):
        ReturnSeries.from_columns((day(0), day(1)), (D(1), D(2)), (), adjacent=(True, True))
