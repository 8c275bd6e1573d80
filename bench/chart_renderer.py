"""What drawing the value chart costs a fresh browser, by renderer (issue 19's remaining step, measured first).

    uv run python bench/chart_renderer.py --rounds 8

Three one-file Streamlit pages, each served warm with plain ``streamlit run`` and opened in a fresh browser
context in turn (the machine's load drifts, so the pages take turns within each round):

- ``floor``: a title only;
- ``vega``: the title and a 250-day line as ``st.vega_lite_chart`` (the Overview's chart draws at most 250 days);
- ``svg``: the title and the same 250 days as an SVG made on the server and shown with ``st.markdown``, with an
  invisible band per day holding its hover text (``<title>``), as the Overview's hover box does.

Printed: the median moment each page's title and chart show after the navigation's start, and each chart's
margin over the floor measured in the same run. A Vega chart has to fetch and compile Streamlit's Vega chunks
(0.8 MB) and draw; an SVG needs only the Markdown-with-HTML chunk, which the dashboard loads anyway.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.dashboard_server import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

from bench.ui_warm_render import FLOOR, fresh_visits, served_page  # noqa: E402

DAYS = 250
HEAD = FLOOR  # every page starts as the floor does: its title
VEGA = f"""
import pandas as pd
values = {[round(100 + i * 0.1 + random.gauss(0, 1), 2) for i in range(DAYS)]!r}
frame = pd.DataFrame({{"day": pd.date_range("2016-01-01", periods={DAYS}, freq="14D"), "value": values}})
with st.container(key="chart"):
    st.vega_lite_chart({{"height": 380, "datasets": {{"lines": frame}}, "layer": [{{"data": {{"name": "lines"}},
        "mark": {{"type": "area", "line": True, "fillOpacity": 0.08}},
        "encoding": {{"x": {{"field": "day", "type": "temporal"}},
                     "y": {{"field": "value", "type": "quantitative"}}}}}}]}}, width="stretch")
"""


def svg_page() -> str:
    values = [100 + i * 0.1 + random.gauss(0, 1) for i in range(DAYS)]
    points = [(i * 1000 / DAYS, 380 - (v - 90) * 10) for i, v in enumerate(values)]
    path = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points)
    bands = "".join(f'<rect x="{x - 2:.1f}" y="0" width="4" height="380" fill="transparent">'
                    f"<title>Day {i}: £{v:,.2f}</title></rect>"
                    for i, ((x, _), v) in enumerate(zip(points, values, strict=True)))
    svg = (f'<svg viewBox="0 0 1000 380" width="100%" height="380"><path d="{path}" fill="none" '
           f'stroke="#1f77b4" stroke-width="2"/>{bands}</svg>')
    return f'with st.container(key="chart"):\n    st.markdown({svg!r}, unsafe_allow_html=True)\n'


PAGES = {"floor": ("", "h1"), "vega": (VEGA, ".st-key-chart .marks"), "svg": (svg_page(), ".st-key-chart svg path")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        urls = {name: stack.enter_context(served_page(HEAD + body, as_served=False))
                for name, (body, _) in PAGES.items()}
        shown = _visit_in_turn(urls, args.rounds)
    floor = statistics.median(t[1] for t in shown["floor"])
    print(f"{args.rounds} fresh visits each; floor (title only): {floor:.2f} s")
    for name, times in shown.items():
        title, chart = (statistics.median(t[i] for t in times) for i in (0, 1))
        print(f"{name:>6}: title {title:.2f} s, chart {chart:.2f} s (floor + {chart - floor:.2f})")


def _visit_in_turn(urls: dict[str, str], rounds: int) -> dict[str, list[tuple[float, ...]]]:
    from playwright.sync_api import sync_playwright

    shown: dict[str, list[tuple[float, ...]]] = {name: [] for name in urls}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for name, url in urls.items():  # warm: each server has run its page once
            fresh_visits(browser, url, ("h1", PAGES[name][1]), 1)
        for r in range(rounds):
            for name in list(urls) if r % 2 == 0 else list(urls)[::-1]:
                shown[name] += fresh_visits(browser, urls[name], ("h1", PAGES[name][1]), 1)
        browser.close()
    return shown


if __name__ == "__main__":
    main()
