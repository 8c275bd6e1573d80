"""The Streamlit dashboard (run by `portfolio-dashboard serve`)."""
