"""Data explorer: any table or view of the database, newest rows first, read-only, with a CSV download.

Raw broker responses (``payload_json``, ``body_text``, ``body_bytes``, ``headers``) and anything named like a
secret stay out unless the checkbox asks for them: they are large and may hold personal data.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

from portfolio_dashboard.storage.reads.explorer import RelationRows
from portfolio_dashboard.ui import data, notices, settings_data, tables
from portfolio_dashboard.ui.guard import guarded

LIMITS = (50, 200, 1000, 5000)
DEFAULT_RELATION = "snapshot_runs"


def _cell(value: Any) -> Any:
    """A value a table and a CSV show exactly: Decimals as their digits, JSON as text, bytes by size."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (bytes, memoryview)):
        return f"<{len(bytes(value)):,} bytes>"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str, ensure_ascii=False)
    return value if isinstance(value, (int, float, str, bool)) else str(value)


def frame_of(result: RelationRows) -> pd.DataFrame:
    return pd.DataFrame([[_cell(v) for v in row] for row in result.rows], columns=result.columns)


def render() -> None:
    notices.page_header("Data explorer")
    with guarded("the data explorer"):
        db = data.db_key()
        found = settings_data.relations(db)
        names = [r.name for r in found]
        kinds = {r.name: r for r in found}
        st.session_state.setdefault("explorer_relation", DEFAULT_RELATION if DEFAULT_RELATION in names else
                                    (names[0] if names else None))
        pick, limit_col, raw_col = st.columns([3, 1, 2], vertical_alignment="bottom")
        relation = pick.selectbox(
            "Table or view", names, key="explorer_relation",
            format_func=lambda n: f"{n}  ({kinds[n].kind}"
                                  + (f", ~{kinds[n].estimated_rows:,} rows)" if kinds[n].estimated_rows else ")"))
        limit = limit_col.selectbox("Rows", LIMITS, index=1, key="explorer_limit")
        include_raw = raw_col.checkbox("Include raw payloads and secrets", key="explorer_raw",
                                       help="Raw broker responses and credential-like columns are hidden by "
                                            "default: large, and they may hold personal data.")
        if relation is None:
            st.info("The database has no tables yet.")
            return
        result = settings_data.relation_rows(db, relation, int(limit), include_raw)
        order = f"newest first by `{result.order_by}`" if result.order_by else "in stored order (no time column)"
        hidden = f" · hidden: {', '.join(result.hidden)}" if result.hidden else ""
        st.caption(f"{len(result.rows):,} row(s) of `{relation}`, {order}{hidden}. Read-only: nothing here can "
                   "change the data.")
        frame = frame_of(result)
        st.dataframe(frame, hide_index=True, key="explorer_table", height=tables.height(len(frame), 560))
        st.download_button("Download CSV", frame.to_csv(index=False).encode("utf-8"), file_name=f"{relation}.csv",
                           mime="text/csv", icon=":material/download:", key="explorer_csv")


render()
