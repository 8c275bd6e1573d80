"""The filter in the page's URL, so a view can be bookmarked and each page's address works when typed.

``/overview?wrapper=ISA``, ``?broker=ib``, ``?account=ib:U1234567``, ``?ccy=USD``, ``?view=NAME`` (a saved
view). Repeated or comma-separated values mean "any of". A browser session adopts its URL on its first run;
after that the session holds the filter (the sidebar changes it) and every run writes it back to the URL,
which also carries it across a change of page (Streamlit drops the query string when the page changes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from urllib.parse import parse_qs, urlencode

import streamlit as st

from portfolio_dashboard.ui import state

_ADOPTED_KEY = "_url_adopted"
FILTER_PARAMS = ("wrapper", "broker", "account")
Query = dict[str, list[str]]


def _values(raw: str | Iterable[str]) -> list[str]:
    items = [raw] if isinstance(raw, str) else list(raw)
    return [v.strip() for item in items for v in item.split(",") if v.strip()]


def parse(params: Mapping[str, str | Iterable[str]]) -> Query:
    """The known parameters of a query (``st.query_params`` or ``parse_qs``), values split and de-duplicated."""
    out: Query = {}
    for key in (*FILTER_PARAMS, "ccy", "view"):
        if key in params:
            values = list(dict.fromkeys(_values(params[key])))
            if values:
                out[key] = values
    if "wrapper" in out:
        out["wrapper"] = list(dict.fromkeys(w.upper() for w in out["wrapper"]))
    if "ccy" in out:
        out["ccy"] = [out["ccy"][-1].upper()]
    return out


def parse_string(query: str) -> Query:
    return parse(parse_qs(query.lstrip("?")))


def to_string(query: Query) -> str:
    return urlencode([(k, ",".join(v)) for k, v in query.items() if v])


def flat(query: Query) -> dict[str, str]:
    """One string per parameter, as the URL shows it (``wrapper=ISA,SIPP``)."""
    return {k: ",".join(v) for k, v in query.items()}


def current() -> Query:
    """The session's filter and currency as a query (what the URL should say)."""
    s = state.scope()
    out: Query = {}
    if s.wrappers:
        out["wrapper"] = list(s.wrappers)
    if s.brokers:
        out["broker"] = list(s.brokers)
    if s.accounts:
        out["account"] = [f"{b}:{a}" for b, a in s.accounts]
    if state.currency() != state.DEFAULT_CURRENCY:
        out["ccy"] = [state.currency()]
    return out


def filter_part(query: Query) -> Query:
    """Only the filter (no currency, no view name): what decides whether two views are the same."""
    return {k: sorted(v) for k, v in query.items() if k in FILTER_PARAMS}


def apply(query: Query) -> None:
    """Put a query's filter (and currency, when it names one) into the session; the filter is replaced whole."""
    st.session_state[state.WRAPPERS_KEY] = list(query.get("wrapper", []))
    st.session_state[state.BROKERS_KEY] = list(query.get("broker", []))
    st.session_state[state.ACCOUNTS_KEY] = [a.replace(":", "/", 1) for a in query.get("account", []) if ":" in a]
    ccy = query.get("ccy", [])
    if ccy and ccy[0] in state.CURRENCIES:
        st.session_state[state.CURRENCY_KEY] = ccy[0]


def adopt(saved: Callable[[], Mapping[str, str]]) -> str | None:
    """On the session's first run, take the filter from the URL. ``saved`` gives the saved views (name ->
    query), read only when the URL names one. Returns a message when the URL named an unknown view."""
    if st.session_state.get(_ADOPTED_KEY):
        return None
    st.session_state[_ADOPTED_KEY] = True
    query = parse({k: st.query_params.get_all(k) for k in st.query_params})
    problem = None
    if "view" in query:
        name = query.pop("view")[0]
        views = saved()
        if name in views:
            query = parse_string(views[name]) | {k: v for k, v in query.items() if k == "ccy"}
            st.session_state[state.VIEW_NAME_KEY] = name
        else:
            problem = f"There is no saved view called “{name}”; showing the filter the address gives."
    if query:
        apply(query)
    return problem


def publish(saved: Callable[[], Mapping[str, str]]) -> None:
    """Write the session's filter to the URL (only when it differs: each write is a browser history entry)."""
    query = current()
    name = st.session_state.get(state.VIEW_NAME_KEY)
    if name:
        views = saved()
        if name in views and filter_part(parse_string(views[name])) == filter_part(query):
            query = {"view": [name], **query}
        else:
            st.session_state[state.VIEW_NAME_KEY] = None  # the filter moved away from the view
    wanted = {**others(), **flat(query)}
    if {k: st.query_params.get(k) for k in st.query_params} != wanted:
        st.query_params.from_dict(wanted)


def others() -> dict[str, str]:
    """The URL's parameters this module does not own (``asof``, a traced ``snapshot`` or ``raw``): kept as they are."""
    owned = (*FILTER_PARAMS, "ccy", "view")
    return {k: str(st.query_params.get(k)) for k in st.query_params if k not in owned}
