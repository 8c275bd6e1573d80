"""``python -m portfolio_dashboard.ui.launch run app.py ...``: Streamlit's own CLI, started warm.

Streamlit listens (and its health check answers) only once ``cli.main`` runs, so everything ``warm.warm_start``
does here (imports, Plotly, the Overview's cached reads) is paid before the server is up rather than by the
first visitor.
"""

from __future__ import annotations

import sys


def main() -> None:
    from portfolio_dashboard.ui import warm

    warm.warm_start()
    from streamlit.web import cli

    sys.argv = ["streamlit", *sys.argv[1:]]
    cli.main()


if __name__ == "__main__":
    main()
