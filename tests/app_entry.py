"""AppTest's entry script: runs the real app.py from this folder, which has no `pages/` directory.

Streamlit keeps a process-wide flag for apps with a `pages/` folder (see `pages.frame.ensure_router`), and AppTest
resets it before every run; started from here the flag stays off, so every test run executes app.py's router and
a clicked button is seen by the page that drew it.
"""

from __future__ import annotations

import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).resolve().parents[1] / "app.py"), run_name="__main__")
