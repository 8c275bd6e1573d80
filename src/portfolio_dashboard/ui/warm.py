"""What ``serve`` does before its health check answers, so the first visitor finds the Overview warm.

Otherwise the first browser session pays, inside its first script run, for the dashboard's imports, Plotly's
validators (built on the first figure), the Overview's read queries and a full garbage collection over every
object the imports created, all on a server that is at the same time handing the browser the JavaScript it
needs. The reads here go through the very cached functions the Overview calls, with what a new session shows
(all accounts, GBP), so the entries have the same keys. Those keys hold the data version (the newest run), so
a capture made anywhere afterwards still shows at once, and ``data.clear()`` drops these entries like any other.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Iterator

from sqlalchemy.exc import SQLAlchemyError

from portfolio_dashboard.errors import PortfolioError
from portfolio_dashboard.storage.reads.scope import Scope

log = logging.getLogger("portfolio_dashboard.ui")


def warm_start() -> None:
    """Imports, Plotly, the Overview's cached reads, then ``settle``; logged, as the serve log's proof it ran."""
    started = time.perf_counter()
    with _no_runtime_warnings():
        from portfolio_dashboard.ui import shell

        shell.logging_once()
        warm_plotly()
        try:
            problem = warm_overview()
        except (PortfolioError, SQLAlchemyError) as exc:  # the dashboard explains it to the visitor
            problem = type(exc).__name__
    settle()
    log.info("warm start done in %.1f s: imports, Plotly and the Overview's reads%s",
             time.perf_counter() - started, f" (database not ready: {problem})" if problem else "")


def warm_plotly() -> None:
    """Build and serialise throwaway charts: Plotly loads its validators on the first figure (0.1 s+)."""
    import pandas as pd
    import plotly.io

    from portfolio_dashboard.ui import charts

    day = dt.date(2000, 1, 3)
    frame = pd.DataFrame({"day": [day, day + dt.timedelta(days=1)], "account": ["a", "a"], "value": [1.0, 2.0]})
    for stacked in (False, True):
        plotly.io.to_json(charts.value_over_time(frame, "GBP", stacked=stacked).to_dict(), validate=False)


def warm_overview() -> str | None:
    """Run the Overview's cached reads for what a new session shows; the database problem when there is one
    (nothing is cached then)."""
    from portfolio_dashboard.ui import data, state

    problem = data.database_problem(data.db_url_key())
    if problem:
        return problem
    db = data.db_key()
    data.accounts(db)  # the sidebar's filter choices
    data.account_tags(db)  # the one-click views
    data.saved_views(db)
    if data.has_snapshots(db):
        data.summary(db, Scope(), state.DEFAULT_CURRENCY)
        data.holdings(db, Scope(), state.DEFAULT_CURRENCY)  # the position cards, drawn before the chart
        data.series(db, Scope(), state.DEFAULT_CURRENCY, False)
        data.account_lines(db, Scope())
    return None


def settle() -> None:
    """Streamlit's once-per-process REPL check, and a garbage collector that leaves start-up objects alone.

    The first element a process sends makes Streamlit walk the stack, and ``inspect`` then maps every loaded
    module to its file (0.1 s with pandas and Plotly loaded); the mapping is cached, so doing it here leaves the
    first visitor a cheap walk. Freezing the objects alive now (modules, validators, caches) keeps the full
    collection that otherwise strikes during the first run (0.13 s measured) from traversing them.
    """
    import gc

    from streamlit import env_util

    env_util.is_repl()
    gc.collect()
    gc.freeze()


@contextlib.contextmanager
def _no_runtime_warnings() -> Iterator[None]:
    """Streamlit warns that no runtime exists yet when a cache is made: true, and harmless here, as the
    runtime finds and uses these caches (same keys, same parameters)."""
    logger = logging.getLogger("streamlit.runtime.caching.cache_data_api")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
