"""Figures as files: a standalone interactive HTML page, or a PNG drawn by plotly.js in headless Chromium.

No plotly import here (the figure object brings its own methods) and kaleido only inside `figure_png`, so the
engine stays free of UI libraries (tests/test_isolation.py).
"""

from __future__ import annotations

import html
import importlib.util
import os
import shutil
from typing import TYPE_CHECKING

from .errors import ExportError

if TYPE_CHECKING:
    import plotly.graph_objects as go

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
DEBIAN_CHROMIUM = "/usr/bin/chromium"


def figure_html(fig: go.Figure, title: str | None = None) -> str:
    """A standalone HTML page holding the figure and all of plotly.js (about 5 MB): opens offline, stays interactive.
    `title` (default: the figure's) names the browser tab."""
    page = fig.to_html(include_plotlyjs=True, full_html=True, include_mathjax=False,
                       config={"displaylogo": False, "responsive": True})
    title = title or fig.layout.title.text or "LSTM Gate Lab figure"
    return page.replace("<head>", f"<head>\n    <title>{html.escape(title)}</title>", 1)


def browser_path() -> str | None:
    """The Chromium-family browser kaleido will drive: $BROWSER_PATH, Debian's /usr/bin/chromium, else one on PATH."""
    for p in (os.environ.get("BROWSER_PATH"), DEBIAN_CHROMIUM):
        if p and os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    for name in BROWSERS:
        if p := shutil.which(name):
            return p
    return None


def png_unavailable() -> str | None:
    """Why PNG export cannot work on this server (one sentence), or None if it can."""
    if importlib.util.find_spec("kaleido") is None:
        return "PNG export needs the kaleido package (pip install -r requirements.txt); download the HTML instead."
    if browser_path() is None:
        return ("PNG export needs a Chromium browser on the server (Debian: apt-get install chromium); download "
                "the HTML instead.")
    return None


def figure_png(fig: go.Figure, width: int = 1200, scale: float = 2.0) -> bytes:
    """The figure as a PNG, drawn by plotly.js in headless Chromium through kaleido (a few seconds per image).

    kaleido 1.x looks for Chrome first and then Chromium on PATH; we hand it the browser explicitly
    (`browser_path()`), and turn off MathJax, which kaleido would otherwise load from a CDN (the app is offline).
    plotly.js itself comes from the plotly package on disk.
    """
    reason = png_unavailable()
    if reason:
        raise ExportError(reason)
    import kaleido

    height = fig.layout.height or 500
    try:
        png = kaleido.calc_fig_sync(fig, opts=dict(format="png", width=width, height=height, scale=scale),
                                    kopts={"path": browser_path(), "mathjax": False})
    except Exception as e:  # noqa: BLE001 - browser start-up and rendering fail in many ways; one sentence for all
        raise ExportError(f"PNG export failed in the browser ({type(e).__name__}); download the HTML instead.") \
            from None
    if not isinstance(png, bytes) or not png.startswith(b"\x89PNG"):
        raise ExportError("PNG export returned no image; download the HTML instead.")
    return png
