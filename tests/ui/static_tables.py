"""Reading the dashboard's static HTML tables (``ui.tables.static``) back out of an AppTest run, as text."""

from __future__ import annotations

from html.parser import HTMLParser

from streamlit.testing.v1 import AppTest


class _Cells(HTMLParser):
    """The text of each cell, row by row; a link's cell is its ``href`` (the table shows the link's text)."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell, self._href = [], None
        elif tag == "a":
            self._href = dict(attrs).get("href") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(self._href if self._href is not None else "".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(markup: str) -> list[dict[str, str]]:
    """Each row of the first table in ``markup`` as column -> cell text."""
    cells = _Cells()
    cells.feed(markup)
    head, *rows = cells.rows
    return [dict(zip(head, row, strict=True)) for row in rows]


def columns(markup: str) -> list[str]:
    cells = _Cells()
    cells.feed(markup)
    return cells.rows[0]


def find(at: AppTest, column: str) -> str:
    """The markup of the static table that has ``column``."""
    for element in at.markdown:
        if "<table" in element.value and column in columns(element.value):
            return str(element.value)
    raise AssertionError(f"no static table with a column {column!r}")
