"""The dashboard's entry script (``portfolio-dashboard serve`` runs ``streamlit run`` on this file).

It holds no logic of its own: the shell draws the frame, the pages under ``views/`` draw themselves from the
read queries, and Save Snapshot calls the same ``capture()`` as the CLI.
"""

import streamlit as st

from portfolio_dashboard.ui import shell

st.set_page_config(page_title="Portfolio Dashboard", page_icon=":material/monitoring:", layout="wide",
                   initial_sidebar_state="auto")
shell.main()
