"""LSTM Gate Lab: the router and the frame every page shares (sidebar: seed and device).

Kept light: torch is imported by a background warm-up thread, so the first page paints at once.
"""

from __future__ import annotations

import streamlit as st

from pages import frame

frame.ensure_router()
st.set_page_config(page_title="LSTM Gate Lab", page_icon="🧠", layout="wide", initial_sidebar_state="expanded")
frame.warm_up_thread()
frame.sidebar()
frame.presenter_style()

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/lesson.py", title="Guided lesson", icon=":material/school:", url_path="lesson"),
    st.Page("pages/train.py", title="Train & compare", icon=":material/play_circle:", url_path="train"),
    st.Page("pages/gates.py", title="Gates", icon=":material/grid_on:", url_path="gates"),
    st.Page("pages/gradients.py", title="Vanishing gradients", icon=":material/trending_down:", url_path="gradients"),
    st.Page("pages/by_hand.py", title="One step by hand", icon=":material/calculate:", url_path="by_hand"),
    st.Page("pages/export.py", title="Export & import", icon=":material/download:", url_path="export"),
    st.Page("pages/text.py", title="Text", icon=":material/text_fields:", url_path="text"),
]
st.navigation(PAGES).run()
