"""The address bar carries the run: copying it shares this exact run (same settings, same seed, same numbers),
and opening such a link rebuilds it. A bad link is refused with one sentence naming every bad value."""

from __future__ import annotations

import streamlit as st

from lstm_core.config import LabSpec
from lstm_core.errors import ConfigError, DataError

LINK_KEYS = ("task.", "model.", "train.", "models")


def has_link() -> bool:
    return any(k.startswith(LINK_KEYS) for k in st.query_params.to_dict())


def spec_from_link() -> tuple[LabSpec | None, bool]:
    """(settings, play) from the URL, if it carries any; a bad link leaves a message and no settings."""
    q = st.query_params.to_dict()
    if not any(k.startswith(LINK_KEYS) for k in q):
        return None, False
    try:
        spec = LabSpec.from_query({k: v for k, v in q.items() if k.startswith(LINK_KEYS)})
    except (ConfigError, DataError) as e:
        st.session_state.flash = f"The link's settings were not used: {e}"
        return None, False
    return spec, q.get("play") == "1"


def sync(spec: LabSpec) -> None:
    """Keep the address bar equal to the running lab's settings, so copying it shares this exact run."""
    want = spec.to_query()
    if st.query_params.to_dict() != want:
        st.query_params.from_dict(want)
