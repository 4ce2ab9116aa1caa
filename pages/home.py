"""Home: what the app shows, in a few lines, and one button that starts the headline lesson."""

from __future__ import annotations

import streamlit as st

from pages import frame

frame.ensure_router()
st.title("LSTM Gate Lab")
if "lab" not in st.session_state:
    from pages import session

    session.open_link_here()
st.markdown(
    """
**Train a small LSTM and a vanilla RNN live, side by side, on the same data, and watch what happens inside.**

- The **cell state** is a conveyor belt: the **forget gate** (0 = drop, 1 = keep) decides what stays on it,
  the **input gate** what new **candidate** values get written, the **output gate** what the next hidden state shows.
- In a vanilla RNN the gradient that reaches early timesteps shrinks step after step: **vanishing gradients**.
  Here you *measure* ‖dL/dh_t‖ at every timestep, on the model you trained.
- Every number on screen comes from a model really trained: live on this server with your seed, or, for the
  pretrained lessons, by `make pretrained` in this repository.
"""
)

c1, c2 = st.columns([2, 3])
with c1:
    if st.button("▶ Start the headline lesson", type="primary", key="home_start", width="stretch"):
        from pages import session

        session.set_lab(session.build(session.headline_spec(session.seed())), play=True)
        st.switch_page(frame.page("train"))
with c2:
    st.markdown(
        "**The headline lesson:** each sequence starts with a letter, then 99 random letters, then a `?`. "
        "The model must answer the *first* letter. Chance is 1 in 8 (12.5 %). An LSTM and a vanilla RNN train on "
        "exactly the same batches: the chart below shows what they did when this lesson was made."
    )

# Imported here, after the button is on screen: plotly takes a few tenths of a second to import on a fresh server.
# Neither imports torch (tests/test_isolation.py), which loads in a background thread meanwhile.
from datasets.lessons import HEADLINE, LESSONS  # noqa: E402
from lstm_core import figures  # noqa: E402
from lstm_core.lessons import read_config, read_curves  # noqa: E402
from lstm_core.narrate import curves_sentence  # noqa: E402

curves = read_curves(HEADLINE)
run = read_config(HEADLINE)
if curves and run is not None:  # the shipped run of the headline lesson (make pretrained): what the class reproduces
    chance = 1 / run.task.alphabet
    fig = figures.training_curves(curves, "val_accuracy", baseline=chance,
                                  baseline_label=f"chance = 1/{run.task.alphabet}",
                                  title=f"The headline lesson, trained by make pretrained (seed {run.train.seed}): "
                                  "held-out accuracy", y_title="accuracy")
    fig.update_layout(height=340)
    st.plotly_chart(fig, key="home_preview", width="stretch", theme=None)
    st.markdown("**Measured:** " + curves_sentence(curves, chance))
    st.caption("**What to look for:** both models see exactly the same batches; the dashed line is chance. Start "
               "the lesson to watch it happen live, or open the pretrained lesson below.")

st.markdown("**Or open a pretrained lesson** (trained by `make pretrained`; opens at once, with snapshots "
            "taken during training to scrub through on the Gates page; Reset retrains it live):")
for col, (name, lesson) in zip(st.columns(len(LESSONS)), LESSONS.items()):
    if col.button(lesson.title, key=f"home_lesson_{name}", width="stretch"):
        from pages import session

        try:
            session.set_lab(session.open_lesson(name))
            st.switch_page(frame.page("train"))
        except Exception as e:  # noqa: BLE001 - a missing or damaged lesson must not show a traceback
            st.error(f"The pretrained lesson could not be opened: {e}. Run 'make pretrained' to make it again.")

from datasets.corpora import CORPORA  # noqa: E402
from datasets.measured import text_lesson  # noqa: E402
from lstm_core.narrate import text_lesson_sentences  # noqa: E402

measured = text_lesson_sentences(text_lesson(), {k: c.title for k, c in CORPORA.items()})
if measured:  # datasets/measured/text_lesson.csv (make measure-text)
    st.markdown("**The text lesson, measured** (LSTM, vanilla RNN and GRU with the lesson's settings, the same "
                "batches; `make measure-text`): " + " ".join(measured))

st.divider()
st.markdown(
    """
**Pages**
1. **Guided lesson**: predict what the RNN and the LSTM will do, then see the measurement.
2. **Train & compare**: choose a task, the models and settings; play / pause / step; live loss and accuracy with the
   chance line.
3. **Gates**: heatmaps of input, forget and output gates, candidate, cell and hidden state, time × unit; the units
   that carry the memory first; how the gates took shape over training.
4. **Gate surgery**: clamp a gate or wipe a cell for chosen units and timesteps, and see what the answer does.
5. **Vanishing gradients**: ‖dL/dh_t‖ against t for each model, how it changes with training, exploding gradients
   and clipping.
6. **Lag race**: who learns to recall at which lag, over seeds, and how much gradient reaches the cue.
7. **One step by hand**: the LSTM equations with the real numbers of one unit at one timestep.
8. **Export & import**: traces, figures and the whole run as files; a saved run goes on where it stopped.
9. **Text**: a character-level model samples text; the text coloured by one unit, the units that track quotes,
   brackets or the position in the line.
"""
)
