"""Helpers for AppTest page tests: start the app on a page, and read plotly charts back as numpy arrays."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(Path(__file__).resolve().parent / "app_entry.py")  # runs ROOT/app.py (see app_entry.py for why)
TIMEOUT = 120

# plotly typed arrays ({"dtype", "bdata", "shape"}) -> numpy dtypes
_DTYPES = {k: "<" + k for k in ("i1", "u1", "i2", "u2", "i4", "u4", "f4", "f8")}


def decode(obj):
    """Replace plotly's base64 typed arrays by numpy arrays, recursively."""
    if isinstance(obj, dict):
        if "bdata" in obj and "dtype" in obj:
            a = np.frombuffer(base64.b64decode(obj["bdata"]), dtype=_DTYPES[obj["dtype"]])
            return a.reshape([int(s) for s in obj["shape"].split(",")]) if obj.get("shape") else a
        return {k: decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    return obj


def _spec(el) -> dict:
    # theme=None: the browser draws the figure's own house template (18 px type, thick axes), not Streamlit's
    # theme, which replaces a template's fonts with its small ones
    assert el.proto.theme == "", f"chart {el.key or el.proto.id} is drawn with Streamlit's theme {el.proto.theme!r}"
    return decode(json.loads(el.proto.spec))


def charts(at: AppTest) -> dict[str, dict]:
    """Every plotly chart on the page, keyed by its widget key, as a decoded figure dict."""
    return {el.proto.id.split("-")[-1] if not el.key else el.key: _spec(el) for el in at.get("plotly_chart")}


def chart(at: AppTest, key: str) -> dict:
    for el in at.get("plotly_chart"):
        if el.key == key or key in el.proto.id:
            return _spec(el)
    raise KeyError(f"no chart {key!r}; charts: {[el.proto.id for el in at.get('plotly_chart')]}")


def open_page(page: str | None = None, state: dict | None = None) -> AppTest:
    """Run app.py (router + sidebar), then switch to `page` (e.g. "pages/gates.py") and run it."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in (state or {}).items():
        at.session_state[k] = v
    at.run()
    if page:
        at.switch_page(page_path(page)).run()
    return at


def page_path(page: str) -> str:
    """A page of the app ("pages/gates.py") as AppTest's switch_page wants it: relative to the entry script."""
    return "../" + page


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
