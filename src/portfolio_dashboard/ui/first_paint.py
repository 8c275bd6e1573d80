"""A browser session's first Overview run is sent in stages: headline numbers, then the sidebar, then the rest.

Streamlit's browser code loads each kind of element (metric, multiselect, Plotly chart, table) as a separate
JavaScript chunk the first time one arrives, and React does not show the elements whose code has loaded while
others sent with them are still loading: it reveals them together, at most every half second. Sent in one go,
the total value therefore waited for the sidebar's widgets and then for Plotly's 4.7 MB and the table's 1.5 MB
(measured on the 10-year benchmark: the total showed 0.5-2 s after it arrived, later the faster the server).
Pausing after each stage lets the browser load the code for what it already has and paint it before heavier
elements arrive. Later runs of the session (a filter, the currency) have everything loaded and do not pause.
"""

from __future__ import annotations

import time

import streamlit as st

# After the headline (the metric's code: ~7 small files), then after the sidebar (its widgets: ~25 files).
PAUSES_S: tuple[float, ...] = (0.4, 0.35)
_DONE_KEY = "_first_paint_done"


class Stages:
    """``next()`` between the stages of a run: pauses on the session's first run only."""

    def __init__(self) -> None:
        self.first_run = not st.session_state.get(_DONE_KEY, False)
        st.session_state[_DONE_KEY] = True
        self._stage = 0

    def next(self) -> None:
        if self.first_run and self._stage < len(PAUSES_S):
            time.sleep(PAUSES_S[self._stage])
        self._stage += 1
