"""Text: a character-level model's samples at a chosen temperature, and held-out text coloured character by
character by one unit's cell state or gate (every character escaped: uploaded text is data, never markup)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from datasets.corpora import CORPORA
from datasets.lessons import available as lessons_available
from datasets.measured import text_lesson
from lstm_core import figures, narrate
from lstm_core.cells import CELLS, QUANTITIES
from lstm_core.config import LabSpec, ModelConfig, TaskConfig, TrainConfig
from lstm_core.errors import ConfigError, DataError, RunError, WorkerError
from lstm_core.narrate import PROPERTIES
from lstm_core.views import LabView
from pages import controls, frame, live, session, ui

TEXT_LESSON = "text"  # datasets.lessons.LESSONS
TITLES = {k: c.title for k, c in CORPORA.items()}  # a corpus's name as the measured lesson says it


def measured_chart() -> None:
    """The measured curves of one corpus, the crossing marked (its sentence is the paragraph above)."""
    rows = text_lesson()
    corpora = list(dict.fromkeys(r["corpus"] for r in rows))
    corpus = st.radio("Corpus", corpora, horizontal=True, key="tx_measured_corpus",
                      format_func=lambda c: TITLES.get(c, c))
    facts = narrate.text_lesson_facts(rows, corpus)
    if not facts:
        return
    last = facts["changes"][-1] if facts["changes"] else None
    lead_from = last[0] if last and last[1] == "lstm" else None
    ui.chart(figures.text_lesson_chart(narrate.text_lesson_curves(rows, corpus),
                                       f"{TITLES.get(corpus, corpus)}: held out, per step",
                                       lead_from, seeds=facts["seeds"]), "tx_measured",
             look="every model starts at a uniform guess (far above this axis) and falls fast. Lower is better; "
                  + ("the vanilla RNN is lower at first, and where the LSTM's line passes below it the LSTM's memory "
                     "starts to pay." if facts["first_leader"] == "rnn" and lead_from else
                     "where one line stays below another, that model predicts the held-out text better."))


def measured_lesson(expanded: bool) -> None:
    """What `make measure-text` measured (datasets/measured/text_lesson.csv): its sentences and its chart."""
    measured = narrate.text_lesson_sentences(text_lesson(), TITLES)
    if measured:
        with st.expander("LSTM, vanilla RNN and GRU on text: what was measured", expanded=expanded):
            st.markdown("With the text lesson's settings (128 units, batch 32, windows of 100 characters, Adam "
                        "3e-3, the same batches for every model; `make measure-text`): " + " ".join(measured))
            measured_chart()


frame.ensure_router()
st.title("Text")  # first: on a fresh server the run takes a moment to open
lab = session.get_lab()
view = lab.view()
ui.flash()

if view.task.name != "text":  # the buttons first: on a projector the measured lesson below runs past the fold
    st.info("The current run is not a text task. Open the pretrained text lesson (trained for 1,500 steps by "
            "`make pretrained`: samples and coloured text at once), start a character-level run on Python's "
            "documentation (LSTM and vanilla RNN, 128 units), or choose another corpus or upload a file in "
            "Train & compare.")
    b1, b2, _ = st.columns([2, 2, 3])
    if TEXT_LESSON in lessons_available() and b1.button(
            "Open the pretrained text lesson", type="primary", key="tx_lesson", width="stretch",
            help="LSTM and vanilla RNN, 128 units, at step 1,500; Reset trains the same models again, live."):
        try:
            session.set_lab(session.open_lesson(TEXT_LESSON))
            st.rerun()
        except (RunError, WorkerError) as e:
            st.error(ui.plain(str(e)))
    if b2.button("▶ Start a text run", key="tx_start", width="stretch"):
        spec = LabSpec(TaskConfig(name="text", seq_len=100),
                       tuple(ModelConfig(cell=c, hidden=128) for c in ("lstm", "rnn")),
                       TrainConfig(seed=session.seed(), steps=3000, batch=32, lr=3e-3))
        try:
            session.set_lab(session.build(spec), play=True)
            st.rerun()
        except (ConfigError, DataError, WorkerError) as e:
            st.error(ui.plain(str(e)))
    measured_lesson(expanded=True)
    st.stop()

measured_lesson(expanded=False)  # a text run's own samples and units come first

controls.controls(view, "tx")
names = view.names
c1, c2, c3 = st.columns(3)
temperature = c1.slider("Temperature", 0.0, 2.0, 0.8, 0.1, key="tx_temp",
                        help="0 always picks the most likely character; 1 samples the model's distribution; "
                        "higher flattens it.")
length = c2.slider("Characters to generate", 50, 600, 300, 50, key="tx_len")
prompt = c3.text_input("Prompt", "The ", max_chars=200, key="tx_prompt")


def stand_in(view: LabView) -> str:
    """What the model reads for a character outside its vocabulary (Text.encode): its unknown symbol, else its
    first symbol."""
    return "\ufffd" if "\ufffd" in view.task.symbols else view.task.symbols[0]


def as_read(view: LabView, prompt: str) -> str:
    """The prompt as the samples show it: every character outside the vocabulary as \ufffd (the note above the
    samples says what the model reads for it)."""
    known = set(view.task.symbols)
    return "".join(c if c in known else "\ufffd" for c in prompt) if known else prompt


def vocabulary_note(view: LabView, prompt: str) -> str:
    """Which characters of the prompt the model has never seen, and what it reads instead."""
    known = set(view.task.symbols)
    outside = sorted({c for c in prompt if c not in known})
    if not outside or not known:
        return ""
    sub = stand_in(view)
    shown = ", ".join(f"`{ui.plain(c)}`" if c.strip() else repr(c) for c in outside[:10])
    return (f"Not in the model's vocabulary ({len(known)} characters): {shown}. It reads each as "
            f"`{ui.plain(sub) if sub.strip() else repr(sub)}`; the samples below show each as \ufffd.")


def draw(lab, view: LabView) -> None:
    task = view.task
    st.markdown("**Measured:** " + narrate.metric_sentence(view) + f" A uniform guess costs {task.baseline:.2f} "
                "bits/char.")
    st.subheader("Samples")
    note = vocabulary_note(view, prompt or " ")
    if note:
        st.warning(note)
    cols = st.columns(len(names))
    for col, n in zip(cols, names):
        text = lab.sample_text(n, prompt or " ", int(length), float(temperature), seed=view.train_cfg.seed)
        col.markdown(f"**{ui.model_label(n)}**")
        col.code(as_read(view, prompt or " ") + text, language=None, wrap_lines=True)
    ui.look_for("early on, samples are random characters; then common letters and spaces; then words and the "
                "corpus's layout. Low temperature repeats the likeliest phrase; high temperature invents.")

    st.subheader("What does one unit track?")
    d1, d2, d3 = st.columns(3)
    model = d1.radio("Model", names, format_func=ui.model_label, horizontal=True, key="tx_model")
    cell = CELLS[view.cell(model)]
    units = lab.text_units(model)
    choices = [*units.best, "a unit of my choice"]
    pick = d2.selectbox("Colour by the unit that best tracks", choices, key="tx_prop",
                        format_func=lambda p: p if p not in units.best else
                        f"{p} (unit {units.best[p][0]}, r = {units.best[p][1]:+.2f})")
    H = view.hidden(model)
    if pick in units.best:
        q, unit = units.quantity, units.best[pick][0]
        st.markdown(f"**Measured:** over {units.characters:,} held-out characters, unit {unit}'s "
                    f"{QUANTITIES[q].label} correlates with *{pick}* ({PROPERTIES[pick]}) at r = "
                    f"{units.best[pick][1]:+.2f}; the other properties' best units: "
                    + "; ".join(f"{p} unit {u} (r = {r:+.2f})" for p, (u, r) in units.best.items() if p != pick)
                    + ".")
    else:
        q = d3.selectbox("Colour by", cell.panel, key="tx_q", format_func=lambda k: QUANTITIES[k].label)
        ui.clamp_state("tx_unit", 0, H - 1, 0)
        unit = d3.number_input(f"Unit (0 to {H - 1})", 0, H - 1, key="tx_unit")
    tr = lab.passage(model, 400)
    vals = tr.quantity(q)[:, int(unit)]
    gate = QUANTITIES[q].range == "gate"
    lo, hi = (0.0, 1.0) if gate else (-float(np.abs(vals).max() or 1.0), float(np.abs(vals).max() or 1.0))
    scale = "Cividis" if gate else "RdBu"
    st.html(figures.scale_legend_html(lo, hi, scale, f"unit {unit}, {QUANTITIES[q].label}"))
    st.html(figures.text_heat_html(list(tr.tokens), vals, lo, hi, scale=scale))
    ui.look_for("each character is coloured by the unit's value as the model reads it (hover for the number). "
                "A unit that changes colour at quotes, brackets, spaces or line ends has learned that structure.")


live.live(draw)
