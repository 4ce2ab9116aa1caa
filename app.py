"""LSTM Gate Lab: the router and the frame every page shares (sidebar: seed, device, presenter mode).

Kept light: torch is never imported here; the worker processes load it while the first page paints.
"""

from __future__ import annotations

import streamlit as st

from pages import frame

frame.ensure_router()
st.set_page_config(page_title="LSTM Gate Lab", page_icon="🧠", layout="wide", initial_sidebar_state="expanded")
frame.start_workers()
frame.sidebar()
frame.presenter_style()
st.navigation(frame.pages()).run()
