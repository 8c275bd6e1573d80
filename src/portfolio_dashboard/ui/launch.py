"""``python -m portfolio_dashboard.ui.launch run app.py ...``: Streamlit's own CLI, as ``serve`` starts it.

Nothing is warmed up before Streamlit listens. Measured (``bench/serve_start.py``, docs/benchmarks.md): warming
the imports, Plotly and the Overview's reads first delayed the health check by more than the first visitor's
Overview then saved, and made the caches outside Streamlit's runtime (22 "No runtime found" warnings at every
start). The first session pays for the dashboard's imports instead, once per process.
"""

from __future__ import annotations

import sys


def main() -> None:
    from streamlit.web import cli

    sys.argv = ["streamlit", *sys.argv[1:]]
    cli.main()


if __name__ == "__main__":
    main()
