"""The Overview's value chart, drawn on the server as SVG with HTML labels and shown with ``st.markdown``.

Why not a chart library: Plotly's 4.7 MB script took ~2 s of a fresh browser's main thread before it drew
anything, and Vega-Lite, its replacement, still cost the Overview ~0.3 s on every fresh visit (its 0.8 MB chunk
fetched and compiled, then its first draw). The page's Markdown-with-HTML chunk is loaded anyway, so an SVG
shows with the rest of the page (``bench/chart_renderer.py``, docs/benchmarks.md).

What a reader used is kept: the value over time (or one stacked area per account), the net money put in as a
dotted step line, round value ticks and calendar date ticks, a legend, gaps where a day has no value, and one
hover box per day listing every series in the dashboard's number style (``fmt.money``). The period buttons
(1M … All) are the page's own and fit the value axis to the period.

How it stays sharp at any width: the plot is an SVG in a 1000 × 1000 box stretched to the container (strokes
keep their width: ``vector-effect``), and every label is HTML placed in percent of the plot, so text never
stretches. Each drawn day owns an invisible band halfway to its neighbours; hovering it shows a rule and its box
(CSS ``:hover`` with the box's text in the band's ``data-tip``: no script runs in the page).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from html import escape
from itertools import pairwise

from portfolio_dashboard.domain.returns.periods import resolve_period
from portfolio_dashboard.ui import chart_axes, fmt
from portfolio_dashboard.ui.charts import PALETTE

RANGES = {"1M": "1m", "3M": "3m", "YTD": "ytd", "1Y": "1y", "All": "all"}
INVESTED = "Net money in"
PORTFOLIO = "Portfolio"
HEIGHT = 380  # px: the plot, its date labels and their margins (the legend goes below)
PLOT = 330  # px of it the plot takes
# Days drawn at most: on a ~900 px chart 250 days are a point every 3-4 px, a line no eye tells from every
# day's, and each drawn day is a hover band the browser parses (ten years of days would be ~0.5 MB of HTML).
MOST_DAYS = 250
BOX = 1000  # the SVG's own coordinates, each way
CSS = f"""<style>
.pdc {{ position: relative; height: {HEIGHT}px; font-size: 12px; color: #5a6270; --g: 5.5em;
        font-variant-numeric: tabular-nums; }}
.pdc svg, .pdc .pdc-b, .pdc .pdc-x {{ position: absolute; left: var(--g); right: 0.5em; }}
.pdc svg, .pdc .pdc-b {{ top: 8px; height: {PLOT}px; width: calc(100% - var(--g) - 0.5em); }}
.pdc .pdc-x {{ top: {PLOT + 16}px; height: 1.4em; }}
.pdc .pdc-y span {{ position: absolute; left: 0; width: calc(var(--g) - 0.6em); text-align: right;
                    transform: translateY(-50%); }}
.pdc .pdc-x span {{ position: absolute; transform: translateX(-50%); white-space: nowrap; }}
.pdc .pdc-x span.l {{ transform: none; }}
.pdc .pdc-x span.r {{ transform: translateX(-100%); }}
.pdc .pdc-x span.n {{ display: none; }}
.pdc .pdc-b span {{ position: absolute; top: 0; bottom: 0; }}
.pdc .pdc-b span:hover::before {{ content: ""; position: absolute; left: 50%; top: 0; bottom: 0;
                                  border-left: 1px solid #9aa3ad; }}
.pdc .pdc-b span:hover::after {{ content: attr(data-tip); white-space: pre; position: absolute; top: 12px;
  left: calc(50% + 10px); z-index: 5; pointer-events: none; background: #fff; color: #262730;
  border: 1px solid #d0d4da; border-radius: 6px; padding: 6px 10px; font-size: 13px; line-height: 1.5;
  box-shadow: 0 2px 8px rgba(0, 0, 0, 0.12); }}
.pdc .pdc-b span.r:hover::after {{ left: auto; right: calc(50% + 10px); }}
.pdc .pdc-b span.m:hover::after {{ left: 50%; transform: translateX(-50%); }}
.pdc-k {{ display: flex; flex-wrap: wrap; gap: 0.3em 1.2em; justify-content: center; font-size: 13px;
          color: #31333f; margin: 0.2em 0 0.6em; }}
.pdc-k i {{ display: inline-block; width: 18px; margin-right: 6px; vertical-align: middle;
            border-top: 3px solid var(--c); }}
.pdc-k i.d {{ border-top: 2px dotted var(--c); }}
@media (max-width: 640px) {{ .pdc {{ --g: 4.6em; }} .pdc .pdc-x span.w {{ display: none; }}
                            .pdc .pdc-x span.n {{ display: block; }} }}
</style>"""


Band = tuple[float | None, float | None]  # (bottom, top) of an area on a day; top None: no value that day
Scale = Callable[[float], float]


def first_day(days: Sequence[date], choice: str) -> date | None:
    """The first day the period button ``choice`` shows (the periods end on the newest day charted)."""
    if not days or RANGES.get(choice, "all") == "all":
        return None
    return resolve_period(RANGES[choice], max(days))[0]


def thin(days: Sequence[date], most: int = MOST_DAYS) -> list[date]:
    """At most about ``most`` of ``days``, evenly spaced, always with the first and the newest (exact values of
    the days kept, never averages; the CSV download has every day)."""
    step = -(-len(days) // most)  # ceiling division
    kept = list(days[::step])
    if days and kept[-1] != days[-1]:
        kept.append(days[-1])
    return kept


def html(
    days: Sequence[date],
    series: dict[str, Sequence[Decimal | None]],
    currency: str,
    *,
    stacked: bool,
    invested: Sequence[float | None] | None = None,
) -> str:
    """The chart as one HTML fragment. ``series``: label → one value per day (None where there is none; a gap),
    bottom first when ``stacked``; ``invested``: the net money in line (None where unknown)."""
    labels = list(series)
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(labels)} | {INVESTED: PALETTE[1]}
    bands: dict[str, list[Band]] = _stack(days, series) if stacked else {
        n: [(None, None if v is None else float(v)) for v in vs] for n, vs in series.items()}
    drawn = [float(v) for b in bands.values() for lo, hi in b for v in (lo, hi) if v is not None]
    drawn += [v for v in invested or [] if v is not None]
    axis = (chart_axes.value_axis(min([0.0, *drawn]), max(drawn, default=1.0), extend=True) if stacked
            else chart_axes.value_axis(*_padded(drawn), extend=False))
    xs = _positions(days)

    def y(value: float) -> float:  # a value's height in the SVG's box (down from the top)
        return (axis.high - value) / (axis.high - axis.low) * BOX

    zero = y(min(max(0.0, axis.low), axis.high))  # an unstacked area fills down to zero, or the nearer edge
    paths = [f'<path d="{_grid(axis, y)}" stroke="#eef0f3" stroke-width="1" vector-effect="non-scaling-stroke"/>']
    for name in labels:
        paths += _area(name, xs, bands[name], y, colours[name], stacked=stacked, floor=zero)
    if invested:
        paths.append(f'<path data-series="{_text(INVESTED)}" d="{_steps(xs, invested, y)}" fill="none" '
                     f'stroke="{colours[INVESTED]}" stroke-width="1.6" stroke-dasharray="2 3" '
                     'vector-effect="non-scaling-stroke"/>')
    ticks = "".join(f'<span style="top:calc(8px + {y(t) * PLOT / BOX:.1f}px)">'
                    f"{_text(fmt.money(Decimal(str(t)), currency, decimals=axis.decimals))}</span>" for t in axis.ticks)
    names = [*labels, INVESTED] if invested else labels
    out = [CSS, f'<div class="pdc" role="img" aria-label="{_text(_summary(days, series, currency))}">',
           f'<div class="pdc-y">{ticks}</div>',
           f'<svg viewBox="0 0 {BOX} {BOX}" preserveAspectRatio="none" fill="none">{"".join(paths)}</svg>',
           f'<div class="pdc-x">{_date_labels(days)}</div>',
           f'<div class="pdc-b">{_hover(days, xs, series, invested, currency, stacked=stacked)}</div></div>']
    if len(names) > 1:
        keys = "".join(f'<span><i{" class=d" if n == INVESTED else ""} style="--c:'
                       f'{colours[n]}"></i>{_text(n)}</span>' for n in names)
        out.append(f'<div class="pdc-k">{keys}</div>')
    return "".join(out)


def _stack(days: Sequence[date], series: dict[str, Sequence[Decimal | None]]) -> dict[str, list[Band]]:
    """Each series on top of the ones before it, day by day; a negative value (an account in debt) hangs below
    zero from the negative ones before it, as Vega's stack does. A day without a value adds nothing."""
    up, down = [0.0] * len(days), [0.0] * len(days)
    out: dict[str, list[Band]] = {}
    for name, values in series.items():
        out[name] = []
        for i, v in enumerate(values):
            base = down if v is not None and v < 0 else up
            if v is None:
                out[name].append((base[i], None))
                continue
            out[name].append((base[i], base[i] + float(v)))
            base[i] += float(v)
    return out


def _padded(values: list[float]) -> tuple[float, float]:
    """The value axis fitted to what is drawn, 8% spare each side; never below zero when nothing drawn is (an
    account in debt is drawn below zero, as it is)."""
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or abs(high) * 0.05 or 1.0
    return (low - pad if low < 0 else max(0.0, low - pad)), high + pad


def _across(day: date, days: Sequence[date]) -> float:
    """Where ``day`` sits across the plot, 0…1, by date (drawn days need not be evenly spaced); a single day is
    in the middle. The one rule for the lines, the hover bands and the date labels."""
    span = (days[-1] - days[0]).days
    return (day - days[0]).days / span if span else 0.5


def _positions(days: Sequence[date]) -> list[float]:
    """Each drawn day across the plot, 0…BOX."""
    return [_across(d, days) * BOX for d in days]


def _runs(values: Sequence[object]) -> list[list[int]]:
    """The indexes of each unbroken run of values (None breaks a run: a gap in the line)."""
    runs: list[list[int]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            runs.append([])
        else:
            runs[-1].append(i)
    return [r for r in runs if r]


def _area(name: str, xs: list[float], bands: list[Band], y: Scale, colour: str, *, stacked: bool,
          floor: float) -> list[str]:
    """The area's fill (down to its base) and its top line, one piece per unbroken run; a run of one day (a
    value between two gaps) is a dot, which a line of no length would not show."""
    fills, line, dots = [], [], []
    for run in _runs([top for _, top in bands]):
        if len(run) == 1:
            dots.append(f"M{xs[run[0]]:.1f},{y(bands[run[0]][1] or 0.0):.1f} h0")
        top = [f"{xs[i]:.1f},{y(bands[i][1] or 0.0):.1f}" for i in run]
        base = ([f"{xs[i]:.1f},{y(bands[i][0] or 0.0):.1f}" for i in reversed(run)] if stacked
                else [f"{xs[run[-1]]:.1f},{floor:.1f}", f"{xs[run[0]]:.1f},{floor:.1f}"])
        fills.append("M" + " L".join(top + base) + " Z")
        line.append("M" + " L".join(top))
    label = _text(name)
    return [f'<path data-series="{label}" d="{" ".join(fills)}" fill="{colour}" '
            f'fill-opacity="{0.5 if stacked else 0.08}"/>',
            f'<path d="{" ".join(line)}" stroke="{colour}" stroke-width="{0.8 if stacked else 2}" '
            'stroke-linejoin="round" vector-effect="non-scaling-stroke"/>',
            *([f'<path d="{" ".join(dots)}" stroke="{colour}" stroke-width="6" stroke-linecap="round" '
               'vector-effect="non-scaling-stroke"/>'] if dots else [])]


def _steps(xs: list[float], values: Sequence[float | None], y: Scale) -> str:
    """A line that holds each value until the next day drawn (money in changes on the day it moves)."""
    parts = []
    for run in _runs(values):
        at = [(xs[i], y(values[i] or 0.0)) for i in run]
        points = [f"{at[0][0]:.1f},{at[0][1]:.1f}"]
        for (_, held), (x, new) in pairwise(at):
            points += [f"{x:.1f},{held:.1f}", f"{x:.1f},{new:.1f}"]
        parts.append("M" + " L".join(points))
    return " ".join(parts)


def _grid(axis: chart_axes.ValueAxis, y: Scale) -> str:
    return " ".join(f"M0,{y(t):.1f} H{BOX}" for t in axis.ticks)


def _date_labels(days: Sequence[date]) -> str:
    """The date ticks twice: up to 8 for a wide screen, up to 4 for a phone (CSS shows one set), each set
    writing the year where it starts."""
    if not days:
        return ""
    out = []
    for screen, most in (("w", 8), ("n", 4)):
        for tick in chart_axes.date_ticks(days[0], days[-1], most):
            at = _across(tick.day, days) * 100
            edge = " l" if at < 4 else " r" if at > 96 else ""
            out.append(f'<span class="{screen}{edge}" style="left:{at:.2f}%">{_text(tick.label)}</span>')
    return "".join(out)


def _hover(days: Sequence[date], xs: list[float], series: dict[str, Sequence[Decimal | None]],
           invested: Sequence[float | None] | None, currency: str, *, stacked: bool) -> str:
    """One invisible band per drawn day, from halfway after the day before to halfway before the next; its
    box lists the day and every series' amount."""
    edges = [0.0, *((a + b) / 2 for a, b in pairwise(xs)), float(BOX)]
    out = []
    for i, day in enumerate(days):
        lines = [day.strftime("%d %b %Y")] + [f"{' '.join(name.split())}: {fmt.money(values[i], currency)}"
                                               for name, values in series.items()]
        if stacked and len(series) > 1:  # the top of the stack: None when an account has no value that day
            lines.append(f"Total: {fmt.money(_total(series, i), currency)}")
        if invested:
            lines.append(f"{INVESTED}: {fmt.money(invested[i], currency)}")
        tip = escape("\n".join(lines)).replace("\n", "&#10;")
        # the box opens away from the nearer edge, and over the middle of the chart it is centred on the day:
        # beside it, a box would run off a phone's screen
        side = ' class="r"' if xs[i] > BOX * 0.6 else ' class="m"' if xs[i] > BOX * 0.4 else ""
        a, b = edges[i], edges[i + 1]
        out.append(f'<span{side} style="left:{a / 10:.3f}%;width:{(b - a) / 10:.3f}%" data-tip="{tip}"></span>')
    return "".join(out)


def _text(name: str) -> str:
    """Text from the data (an account's label) safe inside the chart's HTML, and on one line: a line break
    would end Markdown's HTML block and let the rest be read as Markdown."""
    return escape(" ".join(name.split()))


def _total(series: dict[str, Sequence[Decimal | None]], i: int) -> Decimal | None:
    """Every series' value on day ``i`` added up; None when one has no value that day (the sum would be short)."""
    values = [v[i] for v in series.values()]
    return None if any(v is None for v in values) else sum((v for v in values if v is not None), Decimal(0))


def _summary(days: Sequence[date], series: dict[str, Sequence[Decimal | None]], currency: str) -> str:
    """What the chart shows, for a screen reader: the span and the newest total (a dash when a series has no
    value that day, as in the hover box)."""
    if not days:
        return "Value over time: no days"
    total = fmt.money(_total(series, len(days) - 1), currency) if series else fmt.DASH
    return f"Value over time from {days[0]:%d %b %Y} to {days[-1]:%d %b %Y}; on the last day {total}"
