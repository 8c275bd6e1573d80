"""Reading the Overview's value chart (``ui.value_chart.html``) back out of its markup or an AppTest run."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from streamlit.testing.v1 import AppTest

from portfolio_dashboard.ui import value_chart


@dataclass
class Chart:
    areas: dict[str, str] = field(default_factory=dict)  # series -> its fill's path data
    invested: str | None = None  # the net money in line's path data
    tips: list[str] = field(default_factory=list)  # each hover band's box text, in day order
    bands: list[tuple[float, float]] = field(default_factory=list)  # each band's (left %, width %)
    value_ticks: list[str] = field(default_factory=list)
    date_ticks: list[str] = field(default_factory=list)  # on a wide screen
    phone_date_ticks: list[str] = field(default_factory=list)
    date_at: dict[str, float] = field(default_factory=dict)  # a wide screen's date label -> its left %
    dots: list[str] = field(default_factory=list)  # path data of the dots (a day between two gaps)
    legend: list[str] = field(default_factory=list)
    label: str = ""  # what a screen reader is told


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.chart = Chart()
        self._in: list[str] = []  # the classes of the open divs
        self._span = False
        self._class = ""
        self._left = 0.0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "div":
            self._in.append(a.get("class", ""))
            if a.get("class") == "pdc":
                self.chart.label = a.get("aria-label", "")
        elif tag == "path" and "data-series" in a:
            if a["data-series"] == value_chart.INVESTED:
                self.chart.invested = a["d"]
            else:
                self.chart.areas[a["data-series"]] = a["d"]
        elif tag == "path" and a.get("stroke-linecap") == "round":
            self.chart.dots.append(a["d"])
        elif tag == "span":
            self._span, self._class = True, a.get("class", "")
            self._left = float(m.group(1)) if (m := re.search(r"left:([\d.]+)%", a.get("style", ""))) else 0.0
            if self._in and self._in[-1] == "pdc-b":
                self.chart.tips.append(a["data-tip"])
                left, width = re.findall(r"([\d.]+)%", a["style"])
                self.chart.bands.append((float(left), float(width)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._in:
            self._in.pop()
        elif tag == "span":
            self._span = False
        self._class = ""
        self._left = 0.0

    def handle_data(self, data: str) -> None:
        where = self._in[-1] if self._in else ""
        if self._span and where == "pdc-y":
            self.chart.value_ticks.append(data)
        elif self._span and where == "pdc-x" and self._class.split()[0] == "w":
            self.chart.date_ticks.append(data)
            self.chart.date_at[data] = self._left
        elif self._span and where == "pdc-x":
            self.chart.phone_date_ticks.append(data)
        elif self._span and where == "pdc-k":
            self.chart.legend.append(data)


def read(markup: str) -> Chart:
    reader = _Reader()
    reader.feed(markup)
    return reader.chart


def find(at: AppTest) -> Chart:
    """The page's value chart (there is one)."""
    (markup,) = [str(m.value) for m in at.markdown if 'class="pdc"' in str(m.value)]
    return read(markup)
