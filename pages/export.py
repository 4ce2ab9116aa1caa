"""Export & import: the current run's trace (.npz and CSV, the command line's format), its main figures (PNG and
standalone HTML) and each model's checkpoint with its config (.zip); a run .zip uploaded here, once validated,
replaces the current run. Files are built only when their button is clicked."""

from __future__ import annotations

import math
from collections.abc import Callable

import streamlit as st

from lstm_core import figures, render, trace_file
from lstm_core.cells import CELLS
from lstm_core.config import LabSpec
from lstm_core.errors import ConfigError, DataError, RunError, WorkerError
from lstm_core.limits import MAX_RUN_ZIP_BYTES
from lstm_core.pool.client import RemoteLab, get_pool
from lstm_core.views import LabView
from pages import frame, session, ui

frame.ensure_router()
st.title("Export & import")  # first: on a fresh server the run takes a moment to open
lab = session.get_lab()
view = lab.refresh(playing=False)
session.sidebar_status(view)
ui.flash()
if session.is_playing():  # every file on this page shows one step; training resumes with Play on another page
    st.session_state.playing = False
    st.rerun()

PNG_MIME, HTML_MIME, ZIP_MIME = "image/png", "text/html", "application/zip"
plain = ui.plain


def slug(view: LabView, name: str) -> str:
    return f"{view.task.name}-{name}-step{view.step}"


def download(label: str, make: Callable[[], bytes | str], file_name: str, mime: str, key: str,
             disabled: bool = False, tip: str | None = None) -> None:
    """A download button whose file is made only on click (in a worker thread; the button spins meanwhile)."""
    st.download_button(label, make, file_name=file_name, mime=mime, key=key, on_click="ignore",
                       disabled=disabled, help=tip, icon=":material/download:", width="stretch")


def figure_builders(view: LabView, name: str) -> dict[str, tuple[str, Callable]]:
    """Title and a builder for each main figure. Builders read the view and traces (frozen numpy arrays, never
    the live lab), because they run later on another thread."""
    task = view.task
    trace = lab.trace(name)
    traces = {n: lab.trace(n) for n in view.names}
    histories = view.histories
    metric = task.metric_name.replace("_", " ")
    loss_base = task.baseline if task.baseline_of == "loss" else None
    metric_base = task.baseline if task.baseline_of == "metric" else None
    return {
        "gates": (f"Gates and states of the {ui.model_label(name)}",
                  lambda: figures.gate_panel(trace, list(CELLS[trace.cell].quantities))),
        "gradients": ("Gradient through time, every model", lambda: figures.gradient_curves(traces)),
        "loss": ("Training loss, every model",
                 lambda: figures.training_curves(histories, "loss", baseline=loss_base,
                                                 baseline_label=task.baseline_label, title="Training loss",
                                                 y_title="loss (nats)")),
        "metric": (f"Held-out {metric}, every model",
                   lambda: figures.training_curves(histories, "val_metric", baseline=metric_base,
                                                   baseline_label=task.baseline_label,
                                                   title=f"Held-out {metric}", y_title=metric)),
    }


def downloads(view: LabView) -> None:
    st.caption(f"Every file shows the run as it is now: {view.task.title.lower()}, step {view.step:,} of "
               f"{view.train_cfg.steps:,}, seed {view.train_cfg.seed}. Training is paused while this page is open; "
               "press Play on any other page to go on.")
    names = view.names
    name = names[0]
    if len(names) > 1:
        name = st.radio("Model (for the trace, the gates figure)", names, format_func=ui.model_label,
                        horizontal=True, key="ex_model")

    st.subheader("Trace of the display sequence")
    trace = lab.trace(name)
    c1, c2, _ = st.columns([1, 1, 2])
    with c1:
        download("Trace (.npz)", lambda: trace_file.trace_npz_bytes(trace), f"trace-{slug(view, name)}.npz",
                 "application/octet-stream", "ex_npz")
    with c2:
        download("Trace (.csv)", lambda: trace_file.trace_csv_text(trace), f"trace-{slug(view, name)}.csv",
                 "text/csv", "ex_csv")
    gates = ", ".join(CELLS[trace.cell].gates) or "no gates"
    ui.look_for(f"the same arrays as `python -m lstm_core trace`, from the first layer: `x` (timesteps × "
                    f"inputs), `h` and the gates ({gates}) as timesteps × units, `grad_h` = ‖dL/dh_t‖ per timestep"
                    f"{' and `grad_c` = ‖dL/dc_t‖' if trace.cell == 'lstm' else ''}, `tokens`. Open the .npz with "
                    "`numpy.load(path)`; the CSV has one row per quantity, timestep and unit.")

    st.subheader("Figures")
    no_png = render.png_unavailable()
    for key, (title, build) in figure_builders(view, name).items():
        c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="center")
        c1.markdown(f"**{title}**")
        with c2:
            download("PNG", lambda b=build: render.figure_png(b()), f"{key}-{slug(view, name)}.png", PNG_MIME,
                     f"ex_png_{key}", disabled=no_png is not None, tip=no_png or "A picture, 1200 px wide at "
                     "twice the resolution; drawing it takes a few seconds.")
        with c3:
            download("HTML", lambda b=build: render.figure_html(b()), f"{key}-{slug(view, name)}.html", HTML_MIME,
                     f"ex_html_{key}", tip="An interactive page that works offline (plotly.js included, ~5 MB).")
    if no_png:
        st.info(no_png)
    ui.look_for("PNG for slides and reports; HTML keeps the hover values and zoom, and opens in any browser "
                    "without this app.")

    st.subheader("Runs: checkpoint and config")
    cols = st.columns(max(len(names), 2))
    for col, n in zip(cols, names):
        with col:
            download(f"{ui.model_label(n)} run (.zip)", lambda n=n: lab.run_archive(n), f"run-{slug(view, n)}.zip",
                     ZIP_MIME, f"ex_zip_{n}")
    ui.look_for("`config.json`, `metrics.jsonl` and `model.pt` (weights only), the files "
                    "`python -m lstm_core train --out` writes: unzip and run `python -m lstm_core trace FOLDER "
                    "--out trace.npz`, or upload the .zip below to go on from these weights later.")


def checked(upload):
    """The uploaded archive's summary, validated by a worker once per upload (kept until another file is chosen)."""
    key = (upload.file_id, upload.name, upload.size)
    cached = st.session_state.get("ex_checked")
    if cached is None or cached[0] != key:
        try:
            result = get_pool().job("check_archive", data=upload.getvalue())
        except (RunError, ConfigError, DataError, WorkerError) as e:
            result = str(e)
        st.session_state.ex_checked = cached = (key, result)
    if isinstance(cached[1], str):
        raise RunError(cached[1])
    return cached[1]


def summary(archive) -> str:
    run = archive.run
    m = run.model
    return (f"{ui.model_label(m.cell)} with {m.hidden} units × {m.layers} layer{'s' if m.layers > 1 else ''} "
            f"on the {run.task.name} task, seed {run.train.seed}, trained for {archive.steps:,} steps.")


def load(upload, archive) -> None:
    run = archive.run
    try:
        session.set_lab(RemoteLab(LabSpec(run.task, (run.model,), run.train), origin=("archive", upload.getvalue()),
                                  pool=lab.pool))
    except (RunError, ConfigError, DataError, WorkerError) as e:
        st.error(f"Not imported: {plain(str(e))} The current run is unchanged.")
        return
    st.session_state.ex_loaded = st.session_state.ex_checked[0]
    st.rerun()


def imports() -> None:
    st.subheader("Import a run")
    ui.look_for("an upload replaces the current run only after its config and every weight's name and shape "
                "have been checked; the model then goes on from the uploaded weights, at the step and with the "
                "curves its metrics.jsonl holds (the optimiser starts afresh: an archive holds no optimiser state). "
                "The file is read as weights only: nothing in it is run.")
    upload = st.file_uploader("A run .zip exported on this page, or a zipped `train --out` folder", type=["zip"],
                              key="ex_upload", max_upload_size=math.floor(MAX_RUN_ZIP_BYTES / 2**20))
    if upload is None:
        st.session_state.pop("ex_checked", None)  # the validated summary is not kept once the file is removed
        return
    try:
        archive = checked(upload)
    except RunError as e:
        st.error(f"Not imported: {plain(str(e))} The current run is unchanged.")
        return
    if st.session_state.get("ex_loaded") == st.session_state.ex_checked[0]:
        st.success(f"Loaded: {summary(archive)} It is now the current run on every page.")
        return
    st.info(f"Checked and ready: {summary(archive)}")
    if st.button("Replace the current run with this one", key="ex_load", type="primary"):
        load(upload, archive)


downloads(view)
st.divider()
imports()
