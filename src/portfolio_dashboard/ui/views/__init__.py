"""The dashboard pages: each file is a Streamlit page script registered by ``shell``."""
