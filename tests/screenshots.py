"""Open every page of the app in Debian's Chromium and save one screenshot of each, to look at what a learner
sees; reports any page that shows an exception box or a traceback. Not a test: `make screenshots` runs it.

Usage (from the repository's root): python -m tests.screenshots [OUT_DIR]   (default: screenshots/)
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from tests.browser_util import open_browser, settle, start_server, wait_for

CHARTS_DRAWN = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
  .every(c => c.querySelector('.main-svg'))"""


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    problems = []
    with start_server() as url, open_browser(1400, 3200) as page:  # tall: Streamlit scrolls an inner container
        t0 = time.time()
        page.goto(url)
        settle(page, 60)
        first = time.time() - t0
        links = page.locator('[data-testid="stSidebarNavLink"]')
        # a link's text starts with its icon's name (a Material Symbols ligature, "grid_on"): drop it
        names = [re.sub(r"^[a-z_]+\s+", "", links.nth(k).inner_text().strip()) for k in range(links.count())]
        for k, name in enumerate(names):
            links.filter(has_text=re.compile(f"{re.escape(name)}$")).first.click()
            title = "LSTM Gate Lab" if k == 0 else name
            page.locator('[data-testid="stMain"] h1').filter(has_text=title).first.wait_for(timeout=120_000)
            settle(page, 120)
            wait_for(lambda: page.evaluate(CHARTS_DRAWN), 60, 0.3, f"the charts of {name}")
            time.sleep(0.5)
            slug = re.sub(r"\W+", "_", name)[:40]
            page.screenshot(path=str(out / f"{k:02d}_{slug}.png"), full_page=True)
            if page.locator('[data-testid="stException"]').count():
                problems.append(f"{name}: exception box")
            if "Traceback" in page.locator('[data-testid="stMain"]').first.inner_text():
                problems.append(f"{name}: traceback text")
    print(f"{len(names)} pages, screenshots in {out}/; first page settled in {first:.1f} s; look at each PNG")
    if problems:
        print("; ".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
