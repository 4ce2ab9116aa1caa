"""Text: a character-level model's samples at a chosen temperature, and held-out text coloured character by
character by one unit's cell state or gate (every character escaped: uploaded text is data, never markup)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from lstm_core import figures
from lstm_core.lab import Lab
from lstm_core.sample import sample_text
from lstm_core.trace import trace
from pages import shared

shared.ensure_router()
lab = shared.get_lab()
st.title("Text")

if lab.task.name != "text":
    st.info("The current run is not a text task. Start a character-level run on Python's documentation "
            "(LSTM and vanilla RNN, 128 units), or choose another corpus or upload a file in Train & compare.")
    if st.button("▶ Start a text run", type="primary", key="tx_start"):
        from lstm_core import ModelConfig, TaskConfig, TrainConfig

        shared.set_lab(Lab(TaskConfig(name="text", seq_len=100),
                           TrainConfig(seed=shared.seed(), steps=3000, batch=32, lr=3e-3),
                           {c: ModelConfig(cell=c, hidden=128) for c in ("lstm", "rnn")}), play=True)
        st.rerun()
    st.stop()

shared.controls(lab, "tx")
names = list(lab.trainers)
c1, c2, c3 = st.columns(3)
temperature = c1.slider("Temperature", 0.0, 2.0, 0.8, 0.1, key="tx_temp",
                        help="0 always picks the most likely character; 1 samples the model's distribution; "
                        "higher flattens it.")
length = c2.slider("Characters to generate", 50, 600, 300, 50, key="tx_len")
prompt = c3.text_input("Prompt", "The ", max_chars=200, key="tx_prompt")


def draw(lab: Lab) -> None:
    task = lab.task
    st.caption(f"Step {lab.step:,}. Held-out loss: "
               + ", ".join(f"{shared.model_label(n)} {shared.metric_text(lab, lab.latest_val(n))}" for n in names)
               + f"; a uniform guess costs {task.baseline:.2f} bits/char.")
    st.subheader("Samples")
    cols = st.columns(len(names))
    for col, n in zip(cols, names):
        text = sample_text(lab.trainers[n].model, task, prompt or " ", int(length), float(temperature),
                           seed=lab.train_cfg.seed)
        col.markdown(f"**{shared.model_label(n)}**")
        col.code((prompt or " ") + text, language=None, wrap_lines=True)
    shared.look_for("early on, samples are random characters; then common letters and spaces; then words and "
                    "the corpus's layout. Low temperature repeats the likeliest phrase; high temperature invents.")

    st.subheader("What does one unit track?")
    d1, d2, d3 = st.columns(3)
    model = d1.radio("Model", names, format_func=shared.model_label, horizontal=True, key="tx_model")
    quantities = {"lstm": ["c", "h", "f", "i", "o", "g"], "gru": ["h", "z", "r", "n"], "rnn": ["h"]}
    q = d2.selectbox("Colour by", quantities[lab.model_cfgs[model].cell], key="tx_q")
    H = lab.model_cfgs[model].hidden
    shared.clamp_state("tx_unit", 0, H - 1, 0)
    unit = d3.number_input(f"Unit (0 to {H - 1})", 0, H - 1, key="tx_unit")
    passage = task.passage(400)
    tr = trace(lab.trainers[model].model, task, passage, grads=False)
    arr = tr.h if q == "h" else tr.layers[0].gates[q]
    vals = arr[:, int(unit)]
    chars = [task.symbol(int(i)) for i in passage.x[0].tolist()]
    lo, hi = (0.0, 1.0) if q in ("f", "i", "o", "z", "r") else (-float(np.abs(vals).max() or 1.0),
                                                                float(np.abs(vals).max() or 1.0))
    st.html(figures.text_heat_html(chars, vals, lo, hi, scale="Cividis" if q in ("f", "i", "o", "z", "r") else "RdBu"))
    shared.look_for("Karpathy found units that track quotes, line length or indentation. Try a few units of the "
                    "cell state c: one that changes colour at spaces, line ends or brackets has learned that "
                    "structure. Hover a character for the exact value.")


shared.live(draw)
