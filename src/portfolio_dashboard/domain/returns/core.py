"""Time- and money-weighted return arithmetic over one series (pure). Definitions: docs/returns.md.

TWR is computed in ``Decimal`` (28 significant digits), so chain-linking thousands of daily sub-periods loses
nothing measurable. MWR is solved by ``pyxirr`` (a well-kept XIRR solver), which works in ``float``: its result
is converted back to ``Decimal`` and rounded to ``RETURN_PLACES``.
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

import pyxirr

from portfolio_dashboard.domain.returns.periods import add_years
from portfolio_dashboard.domain.returns.types import ExternalFlow, Valuation

# Returns are fractions; ten decimal places keep 1e-8 percentage points, far below anything shown.
RETURN_PLACES = Decimal("1e-10")
_ZERO = Decimal(0)
_ONE = Decimal(1)
_MICROSECOND = timedelta(microseconds=1)


class ReturnUndefinedError(ValueError):
    """The figure cannot be computed from these inputs; the message is the reason shown to the user."""


def quantize_return(value: Decimal) -> Decimal:
    return value.quantize(RETURN_PLACES)


def check_ordered(valuations: Sequence[Valuation]) -> None:
    check_stamps_ordered([v.ts for v in valuations])


def check_stamps_ordered(stamps: Sequence[datetime]) -> None:
    # a C-level pass first (thousands of days); the message names the first offending pair
    if any(map(operator.ge, stamps, stamps[1:])):
        earlier, later = next((a, b) for a, b in itertools.pairwise(stamps) if b <= a)
        raise ValueError(f"valuations must be in strictly increasing time order ({earlier} then {later})")


def subperiod_growth(v0: Valuation, v1: Valuation, flows: Iterable[ExternalFlow]) -> Decimal:
    """1 + r for one sub-period by Modified Dietz: r = (V1 − V0 − F) / (V0 + Σ wᵢFᵢ).

    ``flows`` are those with ``v0.ts < ts <= v1.ts``; wᵢ is the fraction of the sub-period remaining after the
    flow, so a flow at ``v1.ts`` (already in V1) weighs 0 and one just after ``v0.ts`` weighs almost 1.
    """
    span = Decimal((v1.ts - v0.ts) // _MICROSECOND)
    total = _ZERO
    weighted = _ZERO
    for flow in flows:
        if flow.amount is None:
            raise ReturnUndefinedError(f"a flow on {flow.ts.date()} could not be valued (no exchange rate)")
        total += flow.amount
        weighted += flow.amount * Decimal((v1.ts - flow.ts) // _MICROSECOND) / span
    capital = v0.value + weighted
    gain = v1.value - v0.value - total
    if capital == 0:
        if gain == 0:  # nothing invested and nothing earned: a neutral sub-period
            return _ONE
        raise ReturnUndefinedError(
            f"no capital was invested between {v0.ts.date()} and {v1.ts.date()} yet the value changed by {gain}"
        )
    if capital < 0:
        raise ReturnUndefinedError(
            f"the invested capital between {v0.ts.date()} and {v1.ts.date()} is not positive "
            "(a negative value or a withdrawal larger than the value), so a rate of return is undefined"
        )
    return _ONE + gain / capital


def growth_factors(
    valuations: Sequence[Valuation], flows: Sequence[ExternalFlow]
) -> list[Decimal | ReturnUndefinedError]:
    """The growth factor of each sub-period between consecutive valuations (see ``column_growth_factors``)."""
    return column_growth_factors([v.ts for v in valuations], [v.value for v in valuations], flows)


def column_growth_factors(
    stamps: Sequence[datetime], values: Sequence[Decimal], flows: Sequence[ExternalFlow]
) -> list[Decimal | ReturnUndefinedError]:
    """The growth factor of each sub-period between consecutive valuations, given as two columns (moments and
    values): element k is the sub-period from valuation k to valuation k + 1.

    A sub-period whose return is undefined holds the error instead, so one bad day withholds only the periods
    that contain it. ``flows`` must be sorted by time; those at or before the first valuation are in its value,
    those after the last belong to no sub-period.
    """
    check_stamps_ordered(stamps)
    if len(stamps) < 2:
        return []
    # Which sub-period each flow falls in: the one ending at the first valuation at or after it.
    inside: dict[int, list[ExternalFlow]] = {}
    for flow in flows:
        if stamps[0] < flow.ts <= stamps[-1]:
            inside.setdefault(bisect.bisect_left(stamps, flow.ts) - 1, []).append(flow)
    # Most sub-periods have no flow and start from a positive value, so 1 + r is simply V1/V0 (one C-level pass
    # over the whole history); the others go through Modified Dietz and its checks.
    factors: list[Decimal | ReturnUndefinedError]
    if min(values[:-1]) > 0:
        factors = list(map(operator.truediv, values[1:], values[:-1]))
        dietz = sorted(inside)
    else:
        factors = [_ONE] * (len(stamps) - 1)
        dietz = []
        for k in range(len(factors)):
            if k in inside or values[k] <= 0:
                dietz.append(k)
            else:
                factors[k] = values[k + 1] / values[k]
    for k in dietz:
        try:
            factors[k] = subperiod_growth(
                Valuation(stamps[k], values[k]), Valuation(stamps[k + 1], values[k + 1]), inside.get(k, ())
            )
        except ReturnUndefinedError as error:
            factors[k] = error
    return factors


def twr(valuations: Sequence[Valuation], flows: Sequence[ExternalFlow]) -> Decimal:
    """Chain-linked TWR from the first to the last valuation: Π(1 + r) − 1, unrounded.

    Flows at or before the first valuation are ignored (they are in its value); raises ``ReturnUndefinedError``.
    """
    product = _ONE
    for factor in growth_factors(valuations, sorted(flows)):
        if isinstance(factor, ReturnUndefinedError):
            raise factor
        product *= factor
    return product - _ONE


def longer_than_a_year(start: date, end: date) -> bool:
    return end > add_years(start, 1)


def annualise(total: Decimal, start: date, end: date, *, over_a_year: bool | None = None) -> Decimal | None:
    """(1 + total)^(365.25/days) − 1 for a period longer than one year; ``None`` for shorter periods.

    ``start``/``end`` are the days of the two valuations (the exponent's days); ``over_a_year`` lets the caller
    decide by the period asked for, so a 1Y period starting from a Friday close is not annualised by a weekend.
    """
    if not (longer_than_a_year(start, end) if over_a_year is None else over_a_year):
        return None
    days = (end - start).days
    if total <= -1:
        raise ReturnUndefinedError("the whole value was lost, an annualised rate is undefined")
    return quantize_return((_ONE + total) ** (Decimal("365.25") / Decimal(days)) - _ONE)


def mwr(start: Valuation, end: Valuation, flows: Sequence[ExternalFlow], *, over_a_year: bool | None = None) -> Decimal:
    """Money-weighted return: XIRR (pyxirr, actual/365 days) of the start value as money in, the external flows
    (a deposit is money in) and the end value as money out.

    XIRR is an annual rate. For periods longer than one year that rate is the result; for a year or less it is
    turned into the rate over the period itself, (1 + x)^(days/365) − 1, so it reads like the TWR beside it.
    ``over_a_year`` as for ``annualise``.
    """
    dates: list[date] = [start.ts.date()]
    amounts: list[float] = [-float(start.value)]
    for flow in flows:
        if flow.amount is None:
            raise ReturnUndefinedError(f"a flow on {flow.ts.date()} could not be valued (no exchange rate)")
        dates.append(flow.ts.date())
        amounts.append(-float(flow.amount))
    dates.append(end.ts.date())
    amounts.append(float(end.value))
    days = (end.ts.date() - start.ts.date()).days
    if days <= 0:
        raise ReturnUndefinedError("the period spans less than a day, so a money-weighted rate is undefined")
    if all(amount == 0 for amount in amounts):
        return _ZERO
    rate = pyxirr.xirr(dates, amounts, silent=True)
    if rate is None or rate != rate:  # pyxirr answers None (or NaN) when no rate solves the flows
        raise ReturnUndefinedError("no money-weighted rate solves these flows (XIRR has no solution)")
    annual = longer_than_a_year(start.ts.date(), end.ts.date()) if over_a_year is None else over_a_year
    try:
        result = rate if annual else (1.0 + rate) ** (days / 365.0) - 1.0
        if not math.isfinite(result):
            raise OverflowError
        return quantize_return(Decimal(repr(result)))
    except (OverflowError, InvalidOperation):
        # e.g. a large gain over a day or two annualised: no rate a person could read; say so, never invent one
        raise ReturnUndefinedError(
            "the money-weighted rate is too large to state (a short period with a large "
            "gain relative to the money invested)"
        ) from None
