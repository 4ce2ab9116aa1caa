"""Train & compare: choose a task and settings; models from the cell registry (an LSTM and a vanilla RNN by default)
train side by side on identical batches, with live curves of loss, the task metric (baseline drawn) and gradient
norm, each with the sentence its numbers make."""

from __future__ import annotations

import streamlit as st

from datasets.corpora import CORPORA, UPLOAD, check_text, summarise
from datasets.series import SERIES
from lstm_core import figures, narrate
from lstm_core.cells import CELLS, label
from lstm_core.config import LabSpec, ModelConfig, TaskConfig, TrainConfig, bound
from lstm_core.errors import ConfigError, DataError, WorkerError
from lstm_core.tasks import TASKS
from lstm_core.views import LabView
from pages import controls, frame, live, session, ui, widgets

frame.ensure_router()
st.title("Train & compare")  # first: on a fresh server the run takes a moment to open
lab = session.get_lab()
view = lab.view()
ui.flash()

TITLES = {"corpus": lambda n: CORPORA[n].title, "series": lambda n: SERIES[n].title}
INIT_WORDS = {
    "chrono": "chrono: the forget gates' biases spread over the task's time lag (Tallec & Ollivier 2018), so the "
              "forget gates start near 1 and the input gates near 0",
    "forget-bias": "forget-bias: every forget gate's bias set to the value below (1 is the classic choice)",
    "default": "default: PyTorch's own, so every gate starts near 0.5 and a memory fades as 0.5 per step",
}


def init_note(task: str, gate_init: str) -> str:
    """Which LSTM gate initialisation is in use, and why, for the settings form."""
    spec = TASKS[task]
    if gate_init == "auto":
        return f"In use: {INIT_WORDS[spec.gate_init]}. Auto picks it for this task: {spec.why_init}."
    return f"In use: {INIT_WORDS[gate_init]}."


def task_settings(tc: TaskConfig) -> tuple[dict, object]:
    """The task and the settings it reads (its registry entry says which), and an upload if it takes one."""
    name = widgets.choice(TaskConfig, "name", tc.name, "tr_task", text="Task", fmt=lambda n: TASKS[n].title)
    kw: dict = {"name": name}
    upload = None
    for f in TASKS[name].settings:
        value = getattr(tc, f)
        if bound(TaskConfig, f).kind == "choice":
            kw[f] = widgets.choice(TaskConfig, f, value, f"tr_{f}", fmt=TITLES.get(f))
        else:
            kw[f] = widgets.number(TaskConfig, f, value, f"tr_{f}")
    if kw.get("corpus") == UPLOAD:
        # no file-type filter: a refused type would leave the previous file in place without a word; every
        # file is read here and refused, if it must be, with one sentence
        upload = st.file_uploader("UTF-8 text file (at most 5 MB)", key="tr_upload")
        kw["text_file"] = "upload"
    return kw, upload


def read_upload(data: bytes) -> str:
    """The uploaded text, checked, with a progress bar while it is decoded (first half) and its characters are
    counted for the vocabulary (second half), and one line saying what the model will read."""
    bar = st.progress(0.0, text=f"Reading the upload ({len(data) / 1e6:.1f} MB)")
    text = check_text(data, lambda f, what: bar.progress(0.5 * f, text=what))
    s = summarise(text, lambda f, what: bar.progress(0.5 + 0.5 * f, text=what))
    rare = (f"; {s.unknown_chars:,} rarer characters ({s.unknown_count:,} occurrences) are read as \ufffd, "
            "outside the vocabulary" if s.unknown_chars else "")
    bar.progress(1.0, text=f"Read {len(data) / 1e6:.2f} MB: {s.chars:,} characters, {s.distinct:,} distinct, a "
                 f"vocabulary of {s.vocabulary}{rare}. Starting the run.")
    return text


def settings(view: LabView) -> None:
    """Widgets start from the running lab's settings, so they show what is training after a page switch."""
    tc, mc, trc = view.task_cfg, next(iter(view.model_cfgs.values())), view.train_cfg
    c1, c2, c3 = st.columns(3)
    with c1:
        st.markdown("**Task**")
        kw, upload = task_settings(tc)
    with c2:
        st.markdown("**Models** (same batches, same seed)")
        cells = st.multiselect("Models", list(CELLS), default=view.names, max_selections=3, format_func=label,
                               key="tr_models", help="Up to three cells, trained side by side on identical batches.")
        hidden = widgets.offered(ModelConfig, "hidden", mc.hidden, "tr_hidden", text="Hidden units")
        layers = st.radio("Layers", [1, 2], index=mc.layers - 1, horizontal=True, key="tr_layers")
        # a run whose init is what "auto" picks for its task is shown as "auto", so that choosing another task
        # here gives that task's own init (the headline lesson's explicit chrono would otherwise follow onto text)
        same = mc.gate_init == TASKS[view.task_cfg.name].gate_init
        gate_init = widgets.choice(ModelConfig, "gate_init", "auto" if same else mc.gate_init, "tr_init",
                                   text="LSTM gate-bias init")
        st.caption(init_note(kw["name"], gate_init))
        forget_bias = widgets.number(ModelConfig, "forget_bias", mc.forget_bias, "tr_fbias",
                                     text="Forget bias (for forget-bias init)")
        dropout = st.slider("Dropout", 0.0, bound(ModelConfig, "dropout").hi, mc.dropout, 0.05, key="tr_dropout")
    with c3:
        st.markdown("**Training**")
        lr = widgets.offered(TrainConfig, "lr", trc.lr, "tr_lr", text="Learning rate", fmt=lambda v: f"{v:g}")
        clip_on = st.toggle("Gradient clipping", value=trc.clip > 0, key="tr_clip_on")
        clip = st.number_input("Max gradient norm", 0.01, bound(TrainConfig, "clip").hi,
                               trc.clip if trc.clip > 0 else 1.0, key="tr_clip", disabled=not clip_on)
        wd = widgets.offered(TrainConfig, "weight_decay", trc.weight_decay, "tr_wd", text="Weight decay (L2)",
                             fmt=lambda v: f"{v:g}")
        batch = widgets.offered(TrainConfig, "batch", trc.batch, "tr_batch", text="Batch size")
        steps = widgets.number(TrainConfig, "steps", trc.steps, "tr_steps", text="Steps budget", step=100)
        patience = widgets.number(TrainConfig, "patience", trc.patience, "tr_patience",
                                  text="Early stopping patience (evaluations, 0 = off)")
    if st.button("Apply settings and restart", type="primary", key="tr_apply"):
        try:
            text = None
            if kw.get("text_file") == "upload":
                if upload is None:
                    raise DataError("choose a text file to upload first.")
                text = read_upload(upload.getvalue())
            if not cells:
                raise ConfigError("choose at least one model.")
            task = TaskConfig(**kw)
            model = dict(hidden=hidden, layers=layers, dropout=dropout, gate_init=gate_init,
                         forget_bias=float(forget_bias))
            train = trc.replace(seed=session.seed(), device=session.device(), lr=float(lr),
                                clip=float(clip) if clip_on else 0.0, weight_decay=float(wd), batch=int(batch),
                                steps=int(steps), patience=int(patience))
            spec = LabSpec(task, tuple(ModelConfig(cell=c, **model) for c in cells), train)
            session.set_lab(session.build(spec, text=text))
            st.rerun()
        except (ConfigError, DataError, WorkerError) as e:
            st.error(ui.plain(f"Not applied: {e} The current run is unchanged."))


if not frame.presenter():
    with st.expander("Settings: task, models, training", expanded=False):
        settings(view)

st.markdown(f"**{view.task.title}.** Seed {view.train_cfg.seed}, "
            + ", ".join(f"{ui.model_label(n)} ({m.hidden} units)" for n, m in view.model_cfgs.items()) + ".")
controls.controls(view, "tr")
if view.snapshot_steps and not session.is_playing() and lab.origin[0] == "lesson":
    st.info(f"This is a pretrained lesson, shown at step {view.step:,} with the curves it was trained with "
            "(`make pretrained`). Press Reset (in presenter mode: Train it live) to train the same models again, "
            "live, from step 0.")


def draw(lab, view: LabView) -> None:
    task = view.task
    cols = st.columns(len(view.names) + 1)
    for col, name in zip(cols, view.names):
        col.metric(f"{ui.model_label(name)}: held-out {task.metric_name.replace('_', ' ')}",
                   ui.metric_text(view, view.latest_val(name)))
    if task.baseline is not None:
        cols[-1].metric(f"Baseline ({task.baseline_label})", f"{task.baseline:.3g}")
    histories = view.histories
    left, right = st.columns(2)
    with left:
        base = task.baseline if task.baseline_of == "loss" else None
        fig = figures.training_curves(histories, "loss", baseline=base, baseline_label=task.baseline_label,
                                      title="Training loss", y_title="loss (nats)", smooth=1)
        ui.chart(fig, "tr_loss_chart", narrate.loss_sentence(view),
                 "every model starts from the same height on the same batches; a curve that falls has found "
                 "something to learn, one that stays flat has not.")
    with right:
        base = task.baseline if task.baseline_of == "metric" else None
        fig = figures.training_curves(histories, "val_metric", baseline=base, baseline_label=task.baseline_label,
                                      title=f"Held-out {task.metric_name.replace('_', ' ')}",
                                      y_title=task.metric_name.replace("_", " "))
        ui.chart(fig, "tr_metric_chart", narrate.metric_sentence(view),
                 "the dashed line is what a model with no memory scores. A curve that never leaves it has learned "
                 "nothing about the past.")
    fig = figures.training_curves(histories, "grad_norm", title="Gradient norm per step (before clipping)",
                                  y_title="‖∇L‖ (log scale)", log_y=True)
    ui.chart(fig, "tr_grad_chart", narrate.grad_norm_sentence(view),
             "how large each model's update signal is. Spikes of tens or hundreds of times are exploding "
             "gradients, which clipping caps; the Vanishing gradients page shows where along the sequence it goes.")


live.live(draw)
