"""``python -m portfolio_dashboard.ui.launch run app.py ...``: Streamlit's own CLI, started warm.

Streamlit imports a page's modules on the first visit, which makes the first render pay for pandas, Plotly,
SQLAlchemy and the database connection (seconds on a small machine). Doing that here, before the server
listens, moves the cost to start-up: once the health check answers, the first Overview renders at once.
"""

from __future__ import annotations

import contextlib
import sys


def warm_up() -> None:
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401

    from portfolio_dashboard.bootstrap import get_app
    from portfolio_dashboard.errors import PortfolioError
    from portfolio_dashboard.storage.engine import check_connection
    from portfolio_dashboard.ui import charts, data, shell  # noqa: F401

    with contextlib.suppress(PortfolioError):  # the dashboard itself explains an unreachable database
        check_connection(get_app().engine)


def main() -> None:
    warm_up()
    from streamlit.web import cli

    sys.argv = ["streamlit", *sys.argv[1:]]
    cli.main()


if __name__ == "__main__":
    main()
