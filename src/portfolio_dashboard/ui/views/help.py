"""Help: setting up each broker, what to do when one fails, and what each page's numbers mean.

Short on purpose: each section says what to do here and names the document in ``docs/`` (or the README)
that has the detail, instead of repeating it.
"""

from __future__ import annotations

import streamlit as st

from portfolio_dashboard.services.connections import LABELS, SETUP
from portfolio_dashboard.ui import notices

FLEX_SECTIONS = (
    ("Account Information", "base currency, account type and alias (the ISA/GIA wrapper is read from them)"),
    ("Open Positions", "holdings, prices, cost basis"),
    ("Cash Report", "cash per currency"),
    ("Net Asset Value (NAV) in Base / Equity Summary", "the account total each day"),
    ("Conversion Rates", "IB's own FX rates, used first for GBP values"),
    ("Trades", "buys and sells (capital gains, returns)"),
    ("Cash Transactions", "dividends, interest, fees, deposits and withdrawals"),
    ("Transfers", "securities moved in or out"),
    ("Corporate Actions", "splits, mergers, spin-offs"),
    ("Change in NAV", "deposits and withdrawals per period, for the time-weighted return"),
    ("Open Dividend Accruals", "dividends declared but not yet paid"),
)

GUIDES: dict[str, tuple[list[str], list[tuple[str, str]]]] = {
    "ib_gateway": (
        [
            "Download and run IBKR's Client Portal gateway (`clientportal.gw`) on this machine.",
            "Set `IB_GATEWAY_URL=https://127.0.0.1:5000` (or `IB_HOST` + `IB_GATEWAY_PORT`) and add `ib_gateway` "
            "to `BROKERS`.",
            "Open the gateway's login page (the **Connections** page links to it), sign in with two-factor; the "
            "Connections page notices the sign-in by itself within a few seconds.",
        ],
        [
            ("Not reachable", "the gateway is not running at that address, or another program holds the port."),
            ("Not signed in", "IB ends gateway sessions about once a day and at its nightly reset: sign in again."),
            ("Certificate refused", "the self-signed certificate is accepted on 127.0.0.1 only; elsewhere set "
                                    "`IB_GATEWAY_VERIFY` to its CA file."),
        ],
    ),
    "ib_flex": (
        [
            "In IBKR's Client Portal: Performance & Reports → Flex Queries → create an **Activity Flex Query**, "
            "format XML, with the sections listed below (all fields of each).",
            "Enable the **Flex Web Service** there and generate a token (choose its expiry; up to a year).",
            "Set `IB_FLEX_TOKEN` and `IB_FLEX_QUERY_ID` and add `ib_flex` to `BROKERS`. A query over a past "
            "period backfills one snapshot per day.",
        ],
        [
            ("Token invalid or expired", "generate a new token in Client Portal and update `IB_FLEX_TOKEN`."),
            ("Statement generation in progress", "IBKR is still building the report; the capture waits and "
                                                 "retries, so run it again a minute later if it gave up."),
            ("A section is missing", "the run's warnings name it; edit the Flex query to add the section."),
            ("Too many requests", "IBKR limits Flex requests per token (about one a second, ten a minute); "
                                  "wait a minute and capture again."),
        ],
    ),
    "schwab": (
        [
            "Register an app at developer.schwab.com (Trader API – Individual) with the callback "
            "`https://127.0.0.1`.",
            "Set `SCHWAB_CLIENT_ID`, `SCHWAB_CLIENT_SECRET` (and `SCHWAB_REDIRECT_URI` if yours differs) and add "
            "`schwab` to `BROKERS`.",
            "Sign in on the **Connections** page (or `portfolio-dashboard auth schwab`): open Schwab's page, "
            "allow access, and paste the address Schwab sends your browser to.",
        ],
        [
            ("Login expired", "Schwab's refresh token lasts 7 days: sign in again; the Connections page and "
                              "`status` count the days left."),
            ("Code expired / invalid", "paste the address within about 30 seconds of approving, whole."),
            ("Callback mismatch", "the callback registered with Schwab and `SCHWAB_REDIRECT_URI` must be "
                                  "identical, including the trailing slash."),
            ("Disconnect", "the **Disconnect Schwab** button (or `auth schwab --logout`) deletes the saved "
                           "login on this machine."),
        ],
    ),
}

PAGES = (
    ("Overview", "The total value of the accounts in the filter, in the display currency, at the stored FX rate "
                 "nearest at or before each moment; the change since the previous day and since each account's "
                 "previous snapshot; value over time."),
    ("Positions", "Each holding of the latest snapshot: quantity, price in its own currency, value, cost basis "
                  "and unrealised P&L (value − cost), weight in the filtered total. The CSV has exact decimals."),
    ("Allocation", "The same latest holdings grouped by instrument, asset class (yours or the default), "
                   "currency, broker or account; weights are of the total with a GBP value."),
    ("Runs", "Every capture: when, what triggered it, each source's outcome, warnings and errors, and the raw "
             "broker responses as stored."),
    ("Connections", "Each source's state now, per-source capture, the IB gateway's login and the Schwab "
                    "sign-in/disconnect."),
    ("Instruments", "One line per security across brokers (global instruments), how each broker instrument maps "
                    "to one, and your asset class for each."),
    ("Accounts", "Each account's tax wrapper (ISA, GIA, SIPP, …) and the name shown for it."),
    ("Data explorer", "Any table or view, newest rows first, read-only, with a CSV download."),
)

DOCS = (
    ("README.md", "installing, configuration settings, every command"),
    ("docs/dashboard.md", "the pages, failure modes, where each feature of the old app lives now"),
    ("docs/automation.md", "unattended captures, status, alerts, the spool, reprocessing"),
    ("docs/instrument-mapping.md", "how one security held at two brokers becomes one line"),
    ("docs/returns.md", "time- and money-weighted returns"),
    ("docs/capital-gains.md", "UK capital gains: matching rules and the report"),
    ("docs/exports.md", "CSV exports and statements"),
)


def broker_section(name: str) -> None:
    steps, problems = GUIDES[name]
    with st.expander(LABELS[name], icon=":material/link:", expanded=False):
        st.markdown("**Set up**\n\n" + "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1)))
        if name == "ib_flex":
            st.markdown("**Flex query sections to enable**\n\n"
                        + "\n".join(f"- **{section}** — {why}" for section, why in FLEX_SECTIONS))
        st.markdown("**When it fails**\n\n" + "\n".join(f"- **{what}:** {fix}" for what, fix in problems))
        st.caption(f"In short: {SETUP[name]} Detail: README.md, *Connecting your brokers*.")


def render() -> None:
    notices.page_header("Help")
    st.subheader("Connecting your brokers")
    st.caption("Without any broker configured the dashboard uses the demo source (simulated accounts).")
    for name in GUIDES:
        broker_section(name)
    st.subheader("What the pages show")
    st.markdown("\n".join(f"- **{page}** — {meaning}" for page, meaning in PAGES))
    st.caption("Money is exact to the penny end to end; a value shows empty when it does not apply or no FX "
               "rate is known (the page says so).")
    st.subheader("More detail")
    st.markdown("\n".join(f"- `{path}` — {what}" for path, what in DOCS))


render()
