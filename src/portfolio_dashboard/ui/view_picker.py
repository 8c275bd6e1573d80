"""One-click views in the sidebar: All, one per broker, one per wrapper ("ISA only"), and the user's saved ones.

Each view is a URL query (``ui.url_state``): choosing one replaces the filter; the view whose filter equals
the current one is shown as chosen; "Save this view" stores the current filter under a name.
"""

from __future__ import annotations

import streamlit as st

from portfolio_dashboard.bootstrap import get_app
from portfolio_dashboard.services import views as view_service
from portfolio_dashboard.ui import data, fmt, state, url_state

PICK_KEY = "view_pick"
NAME_KEY = "view_new_name"
ALL = "all"


def options(db: str) -> dict[str, str]:
    """Option key -> label, in the order shown. Keys are ``all``, ``broker:X``, ``wrapper:X``, ``saved:NAME``."""
    tags = data.account_tags(db)
    out = {ALL: "All"}
    for broker in sorted({t.broker for t in tags}):
        out[f"broker:{broker}"] = fmt.broker_label(broker)
    for wrapper in sorted({t.wrapper for t in tags if t.wrapper}):
        out[f"wrapper:{wrapper}"] = f"{fmt.wrapper_label(wrapper)} only"
    for name in data.saved_views(db):
        out[f"saved:{name}"] = f"★ {name}"
    return out


def query_of(key: str, db: str) -> url_state.Query:
    kind, _, value = key.partition(":")
    if kind == "broker":
        return {"broker": [value]}
    if kind == "wrapper":
        return {"wrapper": [value]}
    if kind == "saved":
        return url_state.parse_string(data.saved_views(db).get(value, ""))
    return {}


def matching(db: str, keys: list[str]) -> str | None:
    """The view that the current filter is (a saved view first, so its name shows)."""
    now = url_state.filter_part(url_state.current())
    named = st.session_state.get(state.VIEW_NAME_KEY)
    ordered = ([f"saved:{named}"] if named else []) + keys
    return next((k for k in ordered if k in keys and url_state.filter_part(query_of(k, db)) == now), None)


def settle(db: str) -> None:
    """Before the widget: show as chosen the view the filter equals (the filter may have changed elsewhere)."""
    keys = list(options(db))
    chosen = matching(db, keys)
    if st.session_state.get(PICK_KEY) != chosen:
        st.session_state[PICK_KEY] = chosen


def _picked() -> None:
    key = st.session_state.get(PICK_KEY)
    if key is None:  # clicking the chosen pill again deselects it: that means "All"
        key = ALL
    db = data.db_key()
    url_state.apply(query_of(key, db))
    st.session_state[state.VIEW_NAME_KEY] = key.partition(":")[2] if key.startswith("saved:") else None


def _save() -> None:
    name = (st.session_state.get(NAME_KEY) or "").strip()
    try:
        stored = view_service.save(get_app(), name, url_state.to_string(url_state.current()))
    except view_service.ViewNameError as exc:
        st.session_state["view_save_problem"] = str(exc)
        return
    data.clear_views()
    st.session_state[state.VIEW_NAME_KEY] = stored
    st.session_state[NAME_KEY] = ""
    st.toast(f"Saved the view “{stored}”.", icon=":material/bookmark_added:")


def _delete(name: str) -> None:
    view_service.delete(get_app(), name)
    data.clear_views()
    if st.session_state.get(state.VIEW_NAME_KEY) == name:
        st.session_state[state.VIEW_NAME_KEY] = None


def picker() -> None:
    db = data.db_key()
    labels = options(db)
    settle(db)
    st.pills("View", list(labels), key=PICK_KEY, format_func=lambda k: labels.get(k, k), on_change=_picked,
             help="One click for a common filter. The address bar keeps it, so a view can be bookmarked.")
    with st.popover("Save this view", icon=":material/bookmark_add:", width="stretch"):
        st.text_input("Name", key=NAME_KEY, placeholder="e.g. ISA in USD", max_chars=view_service.MAX_NAME)
        st.button("Save", key="view_save", on_click=_save, type="primary")
        problem = st.session_state.pop("view_save_problem", None)
        if problem:
            st.caption(f":red[{problem}]")
        saved = data.saved_views(db)
        if saved:
            st.caption("Saved views")
            for name, query in saved.items():
                left, right = st.columns([4, 1], vertical_alignment="center")
                left.markdown(f"**{name}** · `{query or 'all'}`")
                right.button("", icon=":material/delete:", key=f"view_del_{name}", on_click=_delete, args=(name,),
                             help=f"Delete the view “{name}”")
