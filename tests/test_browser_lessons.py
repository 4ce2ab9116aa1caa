"""Classroom flows in a real Chromium (Debian's, driven by Playwright), beyond the headline lesson:
gate surgery on the pretrained lesson, presenter mode, a bad link opened on each page, and a computed sentence
that changes when the run changes."""

from __future__ import annotations

import re

import pytest
from browser_util import ARTIFACTS, open_browser, settle, start_server, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server():
    with start_server() as url:
        yield url


def goto(page, url: str, heading: str) -> None:
    page.goto(url)
    page.get_by_role("heading", name=heading).first.wait_for(timeout=90_000)
    settle(page, 90)


def measured(page) -> list[str]:
    return [t for t in page.locator('[data-testid="stMarkdownContainer"]').all_inner_texts()
            if t.startswith("Measured:")]


def no_error_box(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


def test_surgery_on_the_pretrained_lesson(server):
    with open_browser() as page:
        goto(page, server + "/gates", "Gates")
        wait_for(lambda: page.locator(".js-plotly-plot").count() >= 4, 90, what="the gate charts")
        assert any("guess of the cue" in t for t in measured(page))  # the memory units, found and named
        goto(page, server + "/surgery", "Gate surgery")
        # the teacher's flow: the memory units' forget gates shut in the middle of the delay, as measured
        page.get_by_role("button", name=re.compile("Shut the forget gate of the 4 best memory units")).click()
        wait_for(lambda: page.locator('[data-testid="stMetric"]').count() == 3, 90, what="the outcome")
        settle(page)
        values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
        assert values[:2] == ["100.0%", "100.0%"]  # as measured (tests/test_surgery.py): the others carry the cue
        assert any("unchanged: the model did not need what was held" in t for t in measured(page))
        page.get_by_role("button", name=re.compile("Undo")).click()
        wait_for(lambda: page.locator('[data-testid="stMetric"]').count() == 0, 60, what="the undo")
        page.get_by_role("button", name=re.compile("Forget everything at t = 50")).click()
        wait_for(lambda: page.locator('[data-testid="stMetric"]').count() == 3, 90, what="the outcome")
        settle(page)
        values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
        assert values[0] == "100.0%" and values[1] == "56.6%"  # as measured (tests/test_surgery.py)
        assert any("hurt, not erased" in t for t in measured(page))
        page.screenshot(path=str(ARTIFACTS / "surgery.png"), full_page=True)
        page.get_by_role("button", name=re.compile("Undo")).click()
        wait_for(lambda: page.locator('[data-testid="stMetric"]').count() == 0, 60, what="the undo")
        no_error_box(page)


def test_the_teacher_opens_the_pretrained_text_lesson_from_the_text_page(server):
    """Text with the recall lesson open: one click and both models write samples, and the held-out text is
    coloured, with no training first."""
    with open_browser() as page:
        goto(page, server + "/text", "Text")
        assert "not a text task" in page.locator('[data-testid="stAlert"]').first.inner_text()
        page.get_by_role("button", name="Open the pretrained text lesson").click()
        wait_for(lambda: page.locator('[data-testid="stCode"]').count() == 2, 90, what="a sample from each model")
        settle(page)
        samples = page.locator('[data-testid="stCode"]').all_inner_texts()
        assert all(len(s.strip()) > 100 for s in samples)
        wait_for(lambda: "linear-gradient" in page.content(), 60, what="the coloured held-out text")
        page.screenshot(path=str(ARTIFACTS / "text_lesson.png"), full_page=True)
        no_error_box(page)


def test_presenter_mode_trains_a_finished_lesson_live_in_large_type(server):
    with open_browser() as page:
        goto(page, server + "/train", "Train & compare")
        page.get_by_test_id("stSidebarUserContent").get_by_text("Presenter mode", exact=True).click()
        button = page.get_by_role("button", name=re.compile("Train it live"))
        button.wait_for(timeout=60_000)
        settle(page)
        sizes = page.evaluate("""() => {
            const px = e => parseFloat(getComputedStyle(e).fontSize);
            const v = document.querySelector('[data-testid="stMetricValue"]');
            const l = document.querySelector('[data-testid="stMetricLabel"] p');
            return [px(v), px(l)];
        }""")
        assert sizes[0] > 1.5 * sizes[1], sizes  # the figure is larger than its label, from the back of the room
        page.screenshot(path=str(ARTIFACTS / "presenter.png"), full_page=True)
        button.click()
        page.get_by_role("button", name=re.compile("Pause")).wait_for(timeout=60_000)
        wait_for(lambda: re.search(r"step ([\d,]+) of", page.locator('[data-testid="stProgress"]').first
                                   .inner_text()) and int(re.search(r"step ([\d,]+) of", page.locator(
                                       '[data-testid="stProgress"]').first.inner_text()).group(1).replace(",", ""))
                 > 0, 90, what="training to start")
        page.get_by_role("button", name=re.compile("Pause")).click()
        no_error_box(page)


@pytest.mark.parametrize("path", ["", "lesson", "train", "gates", "surgery", "gradients", "by_hand", "export", "text",
                                  "lag_race"])
def test_a_bad_link_says_why_on_the_page_it_opens(server, path):
    with open_browser(1400, 1400) as page:
        page.goto(f"{server}/{path}?task.lag=-1&train.lr=fast")
        page.locator('[data-testid="stAlertContentError"]').first.wait_for(timeout=90_000)
        text = page.locator('[data-testid="stAlertContentError"]').first.inner_text()
        assert "link's settings were not used" in text and "lag must be between" in text and "train.lr" in text
        no_error_box(page)


def test_a_computed_sentence_changes_when_the_run_changes(server):
    with open_browser() as page:
        goto(page, server + "/train?task.lag=20&train.seed=44&train.steps=400&train.val_every=10", "Train & compare")
        wait_for(lambda: any("No held-out evaluation yet" in t for t in measured(page)), 90, what="the first sentence")
        before = measured(page)
        for _ in range(10):
            page.get_by_role("button", name=re.compile(r"\+1 step")).click()
            settle(page)
        after = wait_for(lambda: (m := measured(page)) != before and m, 60, what="the sentences to change")
        assert any("At step 10, held out" in t for t in after)
        no_error_box(page)


def test_the_teacher_switches_the_pair_to_peephole_and_bidirectional(server):
    with open_browser() as page:
        goto(page, server + "/train", "Train & compare")
        page.get_by_text("Settings: task, models, training").click()
        models = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Models").first
        models.locator("button[aria-label=\"Remove LSTM\"]").click()
        models.locator("button[aria-label=\"Remove vanilla RNN\"]").click()
        box = models.locator("input")
        for name in ("peephole LSTM", "bidirectional LSTM"):
            box.click()
            box.fill(name)
            page.get_by_role("option", name=name, exact=True).click()
        page.keyboard.press("Escape")
        settle(page)
        page.get_by_role("button", name=re.compile("Apply settings and restart")).click()
        labels = '[data-testid="stMetricLabel"]'
        wait_for(lambda: {"peephole LSTM: held-out accuracy", "bidirectional LSTM: held-out accuracy"}
                 <= set(page.locator(labels).all_inner_texts()), 120, what="the new pair's metrics")
        progress = '[data-testid="stProgress"]'
        assert "step 0 of" in page.locator(progress).first.inner_text()  # a new pair starts paused
        page.get_by_role("button", name=re.compile("Play")).click()
        wait_for(lambda: (m := re.search(r"step ([\d,]+) of", page.locator(progress).first.inner_text()))
                 and int(m.group(1).replace(",", "")) >= 20, 120, what="the pair to train")
        page.get_by_role("button", name=re.compile("Pause")).click()
        settle(page)
        page.screenshot(path=str(ARTIFACTS / "peephole_bidirectional.png"), full_page=True)
        # through the sidebar: a new address would open a new session with the default lesson
        page.locator('[data-testid="stSidebarNav"]').get_by_text("Gates", exact=True).click()
        page.get_by_role("heading", name="Gates").first.wait_for(timeout=90_000)
        settle(page, 90)
        page.get_by_text("peephole LSTM", exact=True).first.click()
        wait_for(lambda: any("peephole" in t for t in page.locator(".js-plotly-plot").all_inner_texts()), 90,
                 what="the peephole terms in the heatmaps")
        no_error_box(page)


def test_the_timestep_scrubber_works_from_the_keyboard(server):
    with open_browser() as page:
        goto(page, server + "/gates", "Gates")
        value = page.locator('[data-testid="stSlider"]').filter(has_text="Timestep").locator(
            '[data-testid="stSliderThumbValue"]')

        def t() -> int:
            return int(value.inner_text().replace(",", ""))

        start = t()
        page.locator("h1").first.click()  # focus on the page, not on a widget
        assert start > 3  # the scrubber starts at the answer, the last timestep
        for _ in range(3):
            page.keyboard.press("ArrowLeft")
            settle(page)
        wait_for(lambda: t() == start - 3, 30, what="t to move back by 3")
        page.keyboard.press("ArrowRight")
        wait_for(lambda: t() == start - 2, 30, what="t to move on by 1")
        no_error_box(page)


def choose(page, box: str, option) -> None:
    """Pick `option` in the selectbox labelled `box`: open it until its options show (a click that lands while
    the form is still drawing opens nothing), then click the option."""
    select = page.locator('[data-testid="stSelectbox"]').filter(has_text=box).first
    select.wait_for(timeout=60_000)
    settle(page)

    def opened() -> bool:
        if not page.get_by_role("option", name=option).count():
            select.click()
            page.wait_for_timeout(500)
        return page.get_by_role("option", name=option).count() > 0

    wait_for(opened, 60, what=f"the {box} options")
    page.get_by_role("option", name=option).first.click()
    settle(page)


def _real_text(min_bytes: int) -> str:
    """Python's own standard-library source (real text shipped with Python, not written for this project)."""
    import sysconfig
    from pathlib import Path

    parts, size = [], 0
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="ignore")
        parts.append(text)
        size += len(text.encode("utf-8"))
        if size >= min_bytes:
            break
    return "".join(parts)


def test_a_learner_uploads_a_real_text_of_over_a_megabyte_trains_samples_and_colours_it(server, tmp_path):
    path = tmp_path / "stdlib.txt"
    path.write_text(_real_text(1_200_000) + "\u00e9\u00e8", encoding="utf-8")
    assert 1_200_000 <= path.stat().st_size <= 5_000_000
    with open_browser() as page:
        goto(page, server + "/train", "Train & compare")
        page.get_by_text("Settings: task, models, training").click()
        choose(page, "Task", re.compile("Character-level text"))
        choose(page, "Corpus", "upload your own text")
        page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(path))
        settle(page)
        page.get_by_role("button", name=re.compile("Apply settings and restart")).click()
        wait_for(lambda: "Character-level text" in page.locator('[data-testid="stMarkdownContainer"]')
                 .first.inner_text() or any("Character-level text" in t for t in page.locator(
                     '[data-testid="stMarkdownContainer"]').all_inner_texts()), 120, what="the text run")
        assert "gate_init=chrono" not in page.url  # the recall lesson's chrono init does not follow onto text
        page.get_by_role("button", name=re.compile("Play")).click()
        progress = '[data-testid="stProgress"]'
        wait_for(lambda: (m := re.search(r"step ([\d,]+) of", page.locator(progress).first.inner_text()))
                 and int(m.group(1).replace(",", "")) >= 20, 180, what="the upload to train")
        page.get_by_role("button", name=re.compile("Pause")).click()
        settle(page)
        page.locator('[data-testid="stSidebarNav"]').get_by_text("Text", exact=True).click()
        page.get_by_role("heading", name="Samples").first.wait_for(timeout=120_000)
        settle(page, 90)
        page.screenshot(path=str(ARTIFACTS / "upload_text.png"), full_page=True)
        samples = page.locator("pre").all_inner_texts()  # one sample per model, each after the prompt "The "
        assert len(samples) >= 2 and all(s.startswith("The ") and len(s) > 50 for s in samples[:2]), samples
        page.get_by_role("heading", name="What does one unit track?").first.wait_for(timeout=120_000)
        assert page.get_by_text(re.compile(r"over 3,000 held-out characters, unit \d+")).count()  # measured
        assert page.locator('span[title][style*="background-color"]').count() > 100  # each character coloured
        no_error_box(page)
