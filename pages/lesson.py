"""Guided lesson: the headline experiment in five questions. The learner predicts what the accuracy, the
gradients, the forget gate and the cell state will do, then sees the measurement from the pretrained lesson
(an LSTM and a vanilla RNN trained by `make pretrained` on identical batches)."""

from __future__ import annotations

import streamlit as st

from datasets.lessons import HEADLINE
from lstm_core import figures, narrate
from pages import frame, session, ui

frame.ensure_router()
st.title("Guided lesson: why the LSTM remembers")
session.open_link_here()

try:
    if "gl_lab" not in st.session_state:  # the shipped run, shared read-only by every learner
        st.session_state.gl_lab = session.open_lesson(HEADLINE)
    lab = st.session_state.gl_lab
    view = lab.view()
except Exception as e:  # noqa: BLE001 - a missing lesson must not show a traceback
    st.error(f"The pretrained headline lesson is not available ({e}). Run 'make pretrained'.")
    st.stop()

lstm, rnn = lab.trace("lstm"), lab.trace("rnn")
symbol, T = lstm.tokens[0], lstm.steps
f = lstm.layers[0].gates["f"]
memory = lab.memory_units("lstm")
memory_unit = memory.order[0]  # the unit whose cell state best names the cue during the delay (held out)
c_unit = lstm.quantity("c")[: T - 1, memory_unit]
CELL_OPTIONS = {"decays towards 0": 0, "holds its value": 1, "ramps up": 2, "ramps down": 2, "moves up and down": 3,
                "stays near 0": 0}


def question(k: int, text: str, options: list[str], right: int, reveal) -> None:
    """One step: a prediction, then the measurement once the learner has committed to an answer."""
    st.subheader(f"{k}. {text}")
    choice = st.radio("Your prediction", options, index=None, key=f"gl_q{k}")
    shown = st.session_state.get(f"gl_shown{k}", False)
    if st.button("Show me", key=f"gl_show{k}", disabled=choice is None and not shown):
        st.session_state[f"gl_shown{k}"] = shown = True
    if shown:
        verdict = "Right" if choice == options[right] else f"The measurement says: **{options[right]}**"
        st.markdown(f"{verdict}." if choice == options[right] else verdict)
        reveal()


def reveal_task() -> None:
    st.code(" ".join(lstm.tokens), language=None, wrap_lines=True)
    st.markdown(f"The answer is the first letter, **{symbol}**, {T - 1} steps before the `?`. Every other letter "
                "is a distractor from the same alphabet.")


def reveal_accuracy() -> None:
    st.plotly_chart(figures.training_curves(view.histories, "val_metric", baseline=view.task.baseline,
                                            baseline_label=view.task.baseline_label, title="Held-out accuracy",
                                            y_title="accuracy"), key="gl_acc", width="stretch", theme=None)
    st.markdown(f"After {view.step:,} steps on the same batches: LSTM **{view.latest_val('lstm'):.1%}**, vanilla "
                f"RNN **{view.latest_val('rnn'):.1%}** (chance is {view.task.baseline:.1%}).")


def reveal_gradients() -> None:
    st.plotly_chart(figures.gradient_curves({"lstm": lstm, "rnn": rnn}), key="gl_grad", width="stretch", theme=None)
    g = rnn.grad_h
    st.markdown(f"The RNN's gradient at the first letter is {g[0]:.1e}, at the `?` {g[-1]:.1e}. "
                + narrate.gradient_sentence({"lstm": lstm, "rnn": rnn}))


def reveal_forget() -> None:
    start = lab.trace("lstm", 0)
    left, right = st.columns(2)
    left.plotly_chart(figures.gate_heatmap(start, "f", title="forget gate f at step 0"), key="gl_f0",
                      width="stretch", theme=None)
    right.plotly_chart(figures.gate_heatmap(lstm, "f", title="forget gate f after training"), key="gl_f",
                       width="stretch", theme=None)
    st.markdown(narrate.init_sentence(start, lstm, view.step, view.model_cfgs["lstm"].gate_init,
                                      view.task_cfg.name)
                + " So training did not put the forget gates near 1: the initialisation did, and training kept "
                "them there where they are useful. Multiplying the cell state by about 1 at every step is what lets "
                "both the memory and its gradient cross 100 steps; the Gates page lets you train the same lesson "
                "with PyTorch's default initialisation instead.")


def reveal_cell() -> None:
    st.plotly_chart(figures.unit_lines(lstm, memory_unit), key="gl_unit", width="stretch", theme=None)
    st.markdown(f"Unit {memory_unit} is the unit whose cell state best names the first letter during the delay "
                f"({memory.accuracy[memory_unit]:.0%} of {memory.sequences} held-out sequences). Its cell state "
                f"{narrate.shape_of(c_unit)}: {c_unit[0]:+.2f} after the first letter, {c_unit[-1]:+.2f} just before "
                "the `?`. What carries the letter is the level it reaches, different for each letter, not a "
                "copy of the letter held still.")


question(1, "Which answer must the model give at the `?`?",
         ["the letter just before the `?`", "the first letter of the sequence", "the most frequent letter"],
         1, reveal_task)
# the right answers are read from the measurements of the lesson shown, not written for the textbook story
question(2, f"After {view.step:,} training steps on the same batches, where will the vanilla RNN's accuracy be?",
         ["near chance (about 12 %)", "about 50 %", "near 100 %, like the LSTM"],
         narrate.accuracy_band(view.task, view.latest_val("rnn")), reveal_accuracy)
question(3, "Where is the RNN's gradient ‖dL/dh_t‖ smallest?",
         ["at the start of the sequence, where the letter is", "at the end, near the `?`", "the same everywhere"],
         narrate.smallest_gradient_where(rnn.grad_h), reveal_gradients)
question(4, "What does the trained LSTM's forget gate look like over the sequence?",
         ["mostly near 0 (forget)", "mostly near 1 (keep)", "about 0.5 everywhere"], narrate.forget_band(f),
         reveal_forget)
question(5, "And the cell state of the unit that best remembers the letter, from the letter to the `?`?",
         ["it decays to 0 within a few steps", "it holds one value", "it ramps steadily up or down",
          "it swings up and down"], CELL_OPTIONS[narrate.shape_of(c_unit)], reveal_cell)
ui.look_for("the same experiment, live: Home → Start the headline lesson. Every number here comes from the "
                "pretrained run shipped with the app; Train & compare reproduces it with seed 0.")
