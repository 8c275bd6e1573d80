"""A failed source in one line with the action to take, and its full details one click away.

Used by the sidebar after Save Snapshot and by the Runs page. An error message may carry the broker module's
own hint after " — " (``PortfolioError.user_message``); that hint is the most specific action, so it comes first.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

SHORT = 90  # characters of the problem kept on the one line; the rest is in the details
# What to do about a failed source, by error category (the error message may carry a more specific hint).
ACTIONS = {
    "auth": "Sign in again: see the Connections page.",
    "network": "Check that the broker (or the IB gateway) is running and reachable: see the Connections page.",
    "rate_limit": "The broker is throttling requests: wait a few minutes, then save again.",
    "parsing": "The broker sent a response we could not read; it is kept on the Runs page for diagnosis.",
    "validation": "The broker's data failed a check; the raw response is kept on the Runs page.",
    "db": "Check that PostgreSQL is running and has free disk space.",
    "config": "A setting is missing or wrong: see the Connections page.",
}


@dataclass(frozen=True, slots=True)
class Failure:
    source: str
    category: str | None
    message: str | None


def split(message: str | None) -> tuple[str, str | None]:
    """``(problem, hint)`` from a stored error message."""
    text = (message or "").strip()
    problem, sep, hint = text.partition(" — ")
    return problem, (hint.strip() or None) if sep else None


def line(f: Failure) -> str:
    """``**ib_gateway** — connection refused by … → Start the IB gateway and log in. Check that …``."""
    problem, hint = split(f.message)
    short = problem if len(problem) <= SHORT else problem[: SHORT - 1].rstrip() + "…"
    action = ACTIONS.get(f.category or "", "See the Runs page for the details.")
    if hint:
        action = f"{hint[0].upper()}{hint[1:].rstrip('.')}. {action}"
    return f"**{f.source}** — {short or 'failed'} → {action}"


def show(failures: list[Failure]) -> None:
    """The lines (inside the caller's alert), then the details in an expander."""
    st.markdown("\n".join(f"- {line(f)}" for f in failures))


def details(failures: list[Failure]) -> None:
    with st.expander("Details", icon=":material/info:"):
        for f in failures:
            st.markdown(f"**{f.source}** · category `{f.category or 'unknown'}`")
            st.code(f.message or "(no message)", language="text", wrap_lines=True)
