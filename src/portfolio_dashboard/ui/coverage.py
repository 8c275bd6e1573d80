"""The Runs page's coverage account: for each source of a run, every section of the payload with the rows it
held and what became of them (parsed, or skipped with the reason), and storage's side (stored now, or already
stored by an earlier capture). See docs/record.md."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from portfolio_dashboard.storage.reads.audit import RunLine
from portfolio_dashboard.ui import tables


def skipped(outcome: dict[str, Any]) -> int:
    """Rows of one source's payload skipped (all reasons, including restatements that lose nothing)."""
    return sum(int(line.get("skipped") or 0) for line in outcome.get("coverage") or [])


def _lines(lines: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame({
        "Section": [line.get("section", "") for line in lines],
        "Rows of": [line.get("kind") or "" for line in lines],
        "Seen": [line.get("seen", 0) for line in lines],
        "Parsed": [line.get("parsed", 0) for line in lines],
        "Skipped": [line.get("skipped", 0) for line in lines],
        "Why skipped": ["; ".join(line.get("reasons") or []) for line in lines],
    })


def _stored(lines: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame({
        "Stored as": [line.get("table", "") for line in lines],
        "Stored now": [line.get("stored", 0) for line in lines],
        "Already stored": [line.get("already_stored", 0) for line in lines],
    })


def coverage(run: RunLine) -> None:
    """Render the run's coverage account, one block per source that reported one."""
    shown = [o for o in run.outcome if isinstance(o, dict) and (o.get("coverage") or o.get("stored"))]
    if not shown:
        st.caption("This run has no coverage account (it failed before parsing, or predates the account).")
        return
    st.caption("Every row each broker sent, per section: parsed, or skipped with the reason. A skip that loses "
               "data is also a run warning. 'Already stored' rows were kept by an earlier capture.")
    for o in shown:
        source = str(o.get("source", ""))
        lines = o.get("coverage") or []
        st.markdown(f"**{source}** · {sum(int(x.get('seen') or 0) for x in lines):,} row(s) seen · "
                    f"{skipped(o):,} skipped")
        if lines:
            st.dataframe(_lines(lines), hide_index=True, key=f"coverage_{source}",
                         height=tables.height(len(lines), 420),
                         column_config={"Section": tables.text("Section", width="medium"),
                                        "Rows of": tables.text("Rows of", width="medium"),
                                        "Seen": tables.number("Seen", 0, width="small"),
                                        "Parsed": tables.number("Parsed", 0, width="small"),
                                        "Skipped": tables.number("Skipped", 0, width="small"),
                                        "Why skipped": tables.text("Why skipped", width="large")})
            reasons = [(line, reason) for line in lines for reason in line.get("reasons") or []]
            if reasons:  # in full: a table cell cuts a long reason
                st.markdown("Why rows were skipped:\n" + "\n".join(
                    f"- {line.get('section', '')} ({int(line.get('skipped') or 0):,}): {reason}"
                    for line, reason in reasons))
        if o.get("stored"):
            st.dataframe(_stored(o["stored"]), hide_index=True, key=f"stored_{source}", width="content",
                         column_config={"Stored as": tables.text("Stored as", width="medium"),
                                        "Stored now": tables.number("Stored now", 0),
                                        "Already stored": tables.number("Already stored", 0)})
