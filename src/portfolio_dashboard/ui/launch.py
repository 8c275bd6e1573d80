"""``python -m portfolio_dashboard.ui.launch run app.py ...``: Streamlit's own CLI, as ``serve`` starts it.

Streamlit starts listening at once, on a socket with Nagle's algorithm off (``no_delay.py`` says why); the
dashboard's imports follow in the background once it answers
(``warm.py`` says why nothing more, and nothing before).
"""

from __future__ import annotations

import sys


def run_streamlit(args: list[str]) -> None:
    """Streamlit's CLI with ``args`` (``run app.py ...``), on a socket with Nagle's algorithm off."""
    from portfolio_dashboard.ui import no_delay

    no_delay.install()  # before Streamlit binds its port: responses are not held back by Nagle's algorithm
    from streamlit.web import cli

    sys.argv = ["streamlit", *args]
    cli.main()


def main() -> None:
    from portfolio_dashboard.ui import warm

    args = sys.argv[1:]
    warm.start(args)
    run_streamlit(args)


if __name__ == "__main__":
    main()
