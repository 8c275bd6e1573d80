"""The dashboard's entry script (``portfolio-dashboard serve`` runs ``streamlit run`` on this file).

It holds no logic of its own: the shell draws the frame, the pages under ``views/`` draw themselves from the
read queries, and Save Snapshot calls the same ``capture()`` as the CLI.
"""

from pathlib import Path

import streamlit as st

from portfolio_dashboard.ui import shell

# A local image: a Material icon name makes the browser fetch the favicon from Google's font CDN, which a
# dashboard on a Pi without internet (and the tests) must not depend on.
ICON = Path(__file__).with_name("icon.png")
st.set_page_config(page_title="Portfolio Dashboard", page_icon=str(ICON), layout="wide",
                   initial_sidebar_state="auto")
shell.main()
