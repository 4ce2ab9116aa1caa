"""LSTM Gate Lab: the router and the frame every page shares (sidebar: seed, device, presenter mode).

Kept light: torch is imported by a background warm-up thread, so the first page paints at once.
"""

from __future__ import annotations

import streamlit as st

from pages import frame, session

frame.ensure_router()
st.set_page_config(page_title="LSTM Gate Lab", page_icon="🧠", layout="wide", initial_sidebar_state="expanded")
frame.warm_up_thread()
frame.sidebar()
session.sidebar_status()
frame.presenter_style()
st.navigation(frame.pages()).run()
