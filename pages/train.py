"""Train & compare: choose a task and settings; the LSTM and the vanilla RNN (and optionally a GRU) train side by
side on identical batches, with live curves of loss, the task metric (baseline drawn) and gradient norm."""

from __future__ import annotations

import streamlit as st

from datasets.corpora import check_text
from datasets.series import SERIES_INFO
from lstm_core import ConfigError, DataError, ModelConfig, TaskConfig, figures
from lstm_core.config import CORPORA, GATE_INITS, TASKS
from lstm_core.lab import Lab
from lstm_core.tasks import TASKS as TASK_CLASSES
from pages import frame, shared

shared.ensure_router()
lab = shared.get_lab()
st.title("Train & compare")
shared.flash()

LRS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
CORPUS_NAMES = {"python-docs": "Python's documentation (English prose)", "python-source": "Python source code",
                "reber": "embedded Reber grammar (generated)", "file": "upload your own text"}


def settings(lab: Lab) -> None:
    """Widgets start from the running lab's settings, so they show what is training after a page switch."""
    tc, mc, trc = lab.task_cfg, next(iter(lab.model_cfgs.values())), lab.train_cfg
    c1, c2, c3 = st.columns(3)
    with c1:
        st.markdown("**Task**")
        name = st.selectbox("Task", TASKS, index=TASKS.index(tc.name), key="tr_task",
                            format_func=lambda n: TASK_CLASSES[n].title)
        kw: dict = {"name": name}
        upload = None
        if name in ("recall", "copy"):
            kw["lag"] = st.number_input("Lag T (timesteps to remember over)", 1, 1000, tc.lag, key="tr_lag")
        if name == "recall":
            kw["alphabet"] = st.number_input("Alphabet size (chance = 1/size)", 2, 32, tc.alphabet, key="tr_alpha")
        if name == "copy":
            kw["copy_len"] = st.number_input("Symbols to copy K", 1, 30, tc.copy_len, key="tr_copylen")
        if name in ("sine", "text", "series"):
            kw["seq_len"] = st.number_input("Sequence length", 5, 1000, tc.seq_len, key="tr_seqlen")
        if name == "text":
            kw["corpus"] = st.selectbox("Corpus", CORPORA, index=CORPORA.index(tc.corpus), key="tr_corpus",
                                        format_func=CORPUS_NAMES.get)
            if kw["corpus"] == "file":
                upload = st.file_uploader("UTF-8 text file (at most 5 MB)", type=["txt", "md", "py", "csv"],
                                          key="tr_upload")
                kw["text_file"] = "upload"
        if name == "series":
            names = list(SERIES_INFO)
            kw["series"] = st.selectbox("Series", names, index=names.index(tc.series), key="tr_series",
                                        format_func=SERIES_INFO.get)
    with c2:
        st.markdown("**Models** (same batches, same seed)")
        use_gru = st.checkbox("Add a GRU as a third model", value="gru" in lab.model_cfgs, key="tr_gru")
        hidden = st.select_slider("Hidden units", [2, 4, 8, 16, 32, 64, 128, 256], value=mc.hidden, key="tr_hidden")
        layers = st.radio("Layers", [1, 2], index=mc.layers - 1, horizontal=True, key="tr_layers")
        gate_init = st.selectbox("LSTM gate-bias init", GATE_INITS, index=GATE_INITS.index(mc.gate_init),
                                 key="tr_init", help="chrono: forget-gate biases spread over the task's time "
                                 "scale (Tallec & Ollivier 2018). default: PyTorch's, the forget gate starts near "
                                 "0.5, so memory fades as 0.5^T.")
        forget_bias = st.number_input("Forget bias (for forget-bias init)", -10.0, 10.0, mc.forget_bias,
                                      key="tr_fbias")
        dropout = st.slider("Dropout", 0.0, 0.9, mc.dropout, 0.05, key="tr_dropout")
    with c3:
        st.markdown("**Training**")
        lr = st.select_slider("Learning rate", LRS, value=min(LRS, key=lambda v: abs(v - trc.lr)), key="tr_lr")
        clip_on = st.toggle("Gradient clipping", value=trc.clip > 0, key="tr_clip_on")
        clip = st.number_input("Max gradient norm", 0.01, 1000.0, trc.clip if trc.clip > 0 else 1.0,
                               key="tr_clip", disabled=not clip_on)
        wd = st.select_slider("Weight decay (L2)", [0.0, 1e-6, 1e-5, 1e-4, 1e-3], value=trc.weight_decay
                              if trc.weight_decay in (0.0, 1e-6, 1e-5, 1e-4, 1e-3) else 0.0, key="tr_wd")
        batch = st.select_slider("Batch size", [8, 16, 32, 64, 128, 256], value=trc.batch
                                 if trc.batch in (8, 16, 32, 64, 128, 256) else 64, key="tr_batch")
        steps = st.number_input("Steps budget", 10, shared.MAX_STEPS, trc.steps, step=100, key="tr_steps")
        patience = st.number_input("Early stopping patience (evaluations, 0 = off)", 0, 100, trc.patience,
                                   key="tr_patience")
    if st.button("Apply settings and restart", type="primary", key="tr_apply"):
        try:
            text = None
            if kw.get("text_file") == "upload":
                if upload is None:
                    raise DataError("choose a text file to upload first.")
                text = check_text(upload.getvalue())
            task = TaskConfig(**kw)
            model = dict(hidden=hidden, layers=layers, dropout=dropout, gate_init=gate_init,
                         forget_bias=float(forget_bias))
            cells = ["lstm", "rnn"] + (["gru"] if use_gru else [])
            models = {c: ModelConfig(cell=c, **model) for c in cells}
            train = trc.replace(seed=shared.seed(), device=shared.device(), lr=float(lr),
                                clip=float(clip) if clip_on else 0.0, weight_decay=float(wd), batch=int(batch),
                                steps=int(steps), patience=int(patience))
            shared.set_lab(Lab(task, train, models, text=text))
            st.rerun()
        except (ConfigError, DataError) as e:
            st.error(shared.plain(f"Not applied: {e} The current run is unchanged."))


if not frame.presenter():
    with st.expander("Settings: task, models, training", expanded=False):
        settings(lab)

st.markdown(f"**{lab.task.title}.** Seed {lab.train_cfg.seed}, "
            + ", ".join(f"{shared.model_label(n)} ({m.hidden} units)" for n, m in lab.model_cfgs.items()) + ".")
shared.controls(lab, "tr")
if lab.snapshots:
    st.info(f"This is a pretrained lesson, shown at step {lab.step:,} with the curves it was trained with "
            "(`make pretrained`). Press Reset to train the same models again, live, from step 0.")


def draw(lab: Lab) -> None:
    task = lab.task
    cols = st.columns(len(lab.trainers) + 1)
    for col, name in zip(cols, lab.trainers):
        val = lab.latest_val(name)
        col.metric(f"{shared.model_label(name)}: held-out {task.metric_name.replace('_', ' ')}",
                   shared.metric_text(lab, val))
    if task.baseline is not None:
        cols[-1].metric(f"Baseline ({task.baseline_label})", f"{task.baseline:.3g}")
    histories = lab.histories
    left, right = st.columns(2)
    with left:
        base = task.baseline if task.baseline_of == "loss" else None
        fig = figures.training_curves(histories, "loss", baseline=base, baseline_label=task.baseline_label,
                                      title="Training loss", y_title="loss (nats)", smooth=1)
        st.plotly_chart(fig, key="tr_loss_chart", width="stretch", theme=None)
        shared.look_for("both curves start at the same height. The LSTM's falls once it finds the memory; "
                        "the vanilla RNN's stays flat at the chance level on long lags.")
    with right:
        base = task.baseline if task.baseline_of == "metric" else None
        fig = figures.training_curves(histories, "val_metric", baseline=base, baseline_label=task.baseline_label,
                                      title=f"Held-out {task.metric_name.replace('_', ' ')}",
                                      y_title=task.metric_name.replace("_", " "))
        st.plotly_chart(fig, key="tr_metric_chart", width="stretch", theme=None)
        shared.look_for("the dashed line is what a model with no memory scores. A curve that never leaves it "
                        "has learned nothing about the past.")
    fig = figures.training_curves(histories, "grad_norm", title="Gradient norm per step (before clipping)",
                                  y_title="‖∇L‖ (log scale)", log_y=True)
    st.plotly_chart(fig, key="tr_grad_chart", width="stretch", theme=None)
    shared.look_for("a vanilla RNN's gradient norm is tiny on long lags: the error signal from the answer "
                    "barely reaches the first symbol. Spikes mean exploding gradients; clipping caps them.")


shared.live(draw, records_only=True)  # draw reads only step records: it may overlap training
