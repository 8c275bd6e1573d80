"""``python -m portfolio_dashboard.ui.launch run app.py ...``: Streamlit's own CLI, started warm.

Streamlit imports a page's modules on the first visit, which makes the first render pay for pandas, Plotly,
SQLAlchemy, the database connection and cold PostgreSQL buffers (seconds on a small machine). Doing that here,
before the server listens, moves the cost to start-up: once the health check answers, the Overview renders
without it. Nothing is cached on the dashboard's side: its read caches start empty as before.
"""

from __future__ import annotations

import contextlib
import sys


def warm_up() -> None:
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401
    from sqlalchemy.exc import SQLAlchemyError

    from portfolio_dashboard.bootstrap import get_app
    from portfolio_dashboard.errors import PortfolioError
    from portfolio_dashboard.storage import read_portfolio
    from portfolio_dashboard.storage.engine import check_connection
    from portfolio_dashboard.storage.read_scope import Scope
    from portfolio_dashboard.ui import charts, data, shell  # noqa: F401

    app = get_app()
    with contextlib.suppress(PortfolioError, SQLAlchemyError):  # the dashboard explains a database problem
        check_connection(app.engine)
        with app.engine.connect() as conn:  # reads the Overview's pages into PostgreSQL's buffers
            read_portfolio.portfolio_summary(conn, Scope(), base=app.settings.base_currency)
            read_portfolio.portfolio_series(conn, Scope(), base=app.settings.base_currency)


def main() -> None:
    warm_up()
    from streamlit.web import cli

    sys.argv = ["streamlit", *sys.argv[1:]]
    cli.main()


if __name__ == "__main__":
    main()
