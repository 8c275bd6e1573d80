"""Placeholder dashboard page (the full dashboard replaces it)."""

import streamlit as st

st.set_page_config(page_title="Portfolio Dashboard", layout="wide")
st.title("Portfolio Dashboard")
st.write("The dashboard is starting up.")
