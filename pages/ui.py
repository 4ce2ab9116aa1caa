"""The small pieces every page uses to say things: user text shown as text, one-off messages, the "what to look
for" line beside every chart, metric values as a learner reads them, and widget values kept in range."""

from __future__ import annotations

import re

import streamlit as st

from lstm_core.cells import label
from lstm_core.views import LabView

MARKDOWN = re.compile(r"([\\`*_\[\]<>()!|~$:#])")  # characters that make markup in st.error / st.info


def plain(text: str) -> str:
    """Text that may quote a user's value (a link, an uploaded file) shown as text, never markup: no link,
    image, LaTeX or coloured span can come out of it."""
    return MARKDOWN.sub(r"\\\1", text)


def flash() -> None:
    """Show (once) a message left by a callback or a link, e.g. a rejected setting."""
    msg = st.session_state.pop("flash", None)
    if msg:
        st.error(plain(msg))


def look_for(text: str) -> None:
    """The one or two sentences beside every chart that say how to read it (no fact about the run: those are
    measured, see `chart`)."""
    st.caption(f"**What to look for:** {text}")


def chart(fig, key: str, says: str = "", look: str = "") -> None:
    """A chart, the sentence computed from its numbers (lstm_core.narrate: its text twin), how to read it, and a
    toggle that shows the numbers it draws as a table."""
    st.plotly_chart(fig, key=key, width="stretch", theme=None)
    if says:
        st.markdown(f"**Measured:** {says}")
    if look:
        look_for(look)
    if st.toggle("Show the numbers", key=f"{key}_numbers", help="The values this chart draws, as a table."):
        from lstm_core.figures import table

        st.dataframe(table(fig), hide_index=True, height=260)


def model_label(name: str) -> str:
    return label(name)


def metric_text(view: LabView, value: float | None) -> str:
    if value is None:
        return "–"
    if view.task.metric_name == "accuracy":
        return f"{value:.1%}"
    if view.task.metric_name == "bits_per_char":
        return f"{value:.3f} bits/char"
    return f"{value:.4f}"


def clamp_state(key: str, lo: int, hi: int, default: int) -> None:
    """Keep a widget's remembered value inside its current range (a new run may have fewer steps or units)."""
    v = st.session_state.get(key, default)
    st.session_state[key] = max(lo, min(hi, int(v)))
