"""Files out and in: a trace as .npz and long-form CSV (the contract of `python -m lstm_core trace`), a run as one
.zip (`config.json`, `metrics.jsonl`, `model.pt`, exactly what `train --out` writes), and figures as standalone
HTML or PNG.

A run archive from outside is validated before anything uses it: its size, its members (exactly the expected
ones, each under its own size limit, read without unpacking to disk), its config, and its weights, which are read
with `torch.load(weights_only=True)` (never an arbitrary unpickle) and checked key by key and shape by shape
against the model the config describes. Every refusal is a `RunError` with one sentence saying what is wrong.

No streamlit here; plotly and kaleido are imported inside the figure functions only, so the engine stays free of
UI libraries (tests/test_isolation.py).
"""

from __future__ import annotations

import csv
import html
import importlib.util
import io
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, NamedTuple, TextIO

import numpy as np
import torch

from datasets.corpora import MAX_TEXT_BYTES, check_text

from .config import ConfigError, RunConfig
from .lab import Lab
from .models import SeqModel
from .runs import MAX_CHECKPOINT_BYTES, RunError, load_state, model_from_state, save_run
from .tasks import make_task
from .tasks.base import DataError
from .trace import GATE_NAMES, Trace
from .train import StepRecord

if TYPE_CHECKING:
    import plotly.graph_objects as go

CONFIG, METRICS, MODEL, CORPUS = "config.json", "metrics.jsonl", "model.pt", "corpus.txt"
MAX_CONFIG_BYTES = 64_000  # a config is about 1 KB
MAX_METRICS_BYTES = 16_000_000  # ~80,000 logged steps; the app caps a run at 20,000
MEMBER_LIMITS = {CONFIG: MAX_CONFIG_BYTES, METRICS: MAX_METRICS_BYTES, MODEL: MAX_CHECKPOINT_BYTES,
                 CORPUS: MAX_TEXT_BYTES}  # the corpus: the same limit as a text uploaded on Train & compare
MAX_RUN_ZIP_BYTES = 48_000_000  # the archive as uploaded; its members' own limits add up to ~42 MB
MAX_MEMBERS = 16  # a run has 3 or 4 files; more is not a run (and bounds the central directory we parse)

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
DEBIAN_CHROMIUM = "/usr/bin/chromium"


class ExportError(RuntimeError):
    """A file cannot be produced here (e.g. PNG without a browser); the message says why and what to do."""


# -- trace: the contract of `python -m lstm_core trace` ----------------------------------------------------------
def trace_arrays(tr: Trace, cell: str | None = None) -> dict[str, np.ndarray]:
    """The arrays of the trace contract (DESIGN.md), first layer: x (T, input_size) float32, h (T, H), grad_h (T,),
    tokens (T,) strings, then the gates (LSTM i, f, g, o, c; GRU r, z, n; each (T, H)) and the LSTM's grad_c (T,).
    The order is the CSV's row order."""
    cell = cell or tr.cell
    if cell != tr.cell:
        raise ValueError(f"the trace is of a {tr.cell}, not a {cell}.")
    if tr.grad_h is None:
        raise ValueError("the trace has no gradients; trace it with grads=True.")
    arrays = {"x": tr.x.astype(np.float32), "h": tr.h, "grad_h": tr.grad_h, "tokens": np.array(tr.tokens)}
    for name in GATE_NAMES[cell]:
        arrays[name] = tr.layers[0].gates[name]
    if cell == "lstm":
        arrays["grad_c"] = tr.grad_c
    return arrays


def write_trace_csv_rows(f: TextIO, arrays: dict[str, np.ndarray]) -> None:
    """Long form: a header, then one row per (quantity, t, unit) with the token at t; 7 significant digits."""
    tokens = arrays["tokens"]
    w = csv.writer(f)
    w.writerow(["quantity", "t", "token", "unit", "value"])
    for name, arr in arrays.items():
        if name == "tokens":
            continue
        a2 = arr.reshape(arr.shape[0], -1)
        for t in range(a2.shape[0]):
            for u in range(a2.shape[1]):
                w.writerow([name, t, tokens[t], u, f"{float(a2[t, u]):.7g}"])


def trace_npz_bytes(tr: Trace, cell: str | None = None) -> bytes:
    """The .npz that `python -m lstm_core trace` writes, as bytes (load with `np.load(..., allow_pickle=False)`)."""
    buf = io.BytesIO()
    np.savez(buf, **trace_arrays(tr, cell))
    return buf.getvalue()


def trace_csv_text(tr: Trace, cell: str | None = None) -> str:
    """The long-form CSV that `python -m lstm_core trace --csv` writes, as text (CRLF line ends, as csv writes)."""
    buf = io.StringIO(newline="")
    write_trace_csv_rows(buf, trace_arrays(tr, cell))
    return buf.getvalue()


# -- a run as one .zip --------------------------------------------------------------------------------------------
class RunArchive(NamedTuple):
    run: RunConfig  # the run's config.json
    state: dict[str, torch.Tensor]  # model.pt, checked against the model `run` describes
    text: str | None  # corpus.txt: the uploaded text of a text run on corpus "file", else None
    metrics: list[dict]  # metrics.jsonl, one dict per logged step


def _needs_text(run: RunConfig) -> bool:
    """A text run on an uploaded corpus: its text travels inside the archive, never as a path on this server."""
    return run.task.name == "text" and run.task.corpus == "file"


def run_zip_bytes(run: RunConfig, model: SeqModel, history: list[StepRecord], text: str | None = None) -> bytes:
    """config.json, metrics.jsonl and model.pt, written by `runs.save_run` exactly as `train --out` writes them,
    zipped flat; plus corpus.txt (`text`) for a text run on an uploaded corpus."""
    if _needs_text(run) and text is None:
        raise RunError("a run on an uploaded text can only be exported with its text.")
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="lstm-gate-lab-") as tmp:
        folder = save_run(Path(tmp) / "run", run, model, history)
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in (CONFIG, METRICS, MODEL):
                zf.write(folder / name, name)
            if _needs_text(run):
                zf.writestr(CORPUS, text.encode("utf-8"))
    return buf.getvalue()


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> bytes:
    limit = MEMBER_LIMITS[name]
    if info.file_size > limit:
        raise RunError(f"the archive's {name} is larger than its limit of {limit / 1e6:g} MB.")
    try:
        with zf.open(info) as f:
            data = f.read(limit + 1)  # never trust the declared size: stop reading past the limit
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError, OSError, zlib.error) as e:
        raise RunError(f"the archive's {name} cannot be read ({e}).") from None
    if len(data) > limit:
        raise RunError(f"the archive's {name} is larger than its limit of {limit / 1e6:g} MB.")
    return data


def _members(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Files of the archive by base name: flat, or all inside one folder (a zipped `train --out` folder)."""
    infos = [i for i in zf.infolist() if not i.is_dir()]
    if len(infos) > MAX_MEMBERS:
        raise RunError(f"the archive holds {len(infos)} files; a run archive holds config.json, metrics.jsonl "
                       "and model.pt.")
    folders = {PurePosixPath(i.filename).parent for i in infos}
    if len(folders) > 1:
        raise RunError("the archive's files are spread over several folders; a run archive holds config.json, "
                       "metrics.jsonl and model.pt side by side.")
    members: dict[str, zipfile.ZipInfo] = {}
    for i in infos:
        name = PurePosixPath(i.filename).name
        if name in members:
            raise RunError(f"the archive holds {name} twice.")
        members[name] = i
    return members


def load_run_zip(data: bytes) -> RunArchive:
    """Validate a run archive from outside and return its parts; raise RunError with one sentence if it is not
    usable. Nothing is unpacked to disk, and no path named inside it is ever read."""
    if not isinstance(data, (bytes, bytearray)):
        raise RunError("a run archive must be given as bytes.")
    if len(data) > MAX_RUN_ZIP_BYTES:
        raise RunError(f"the file is {len(data) / 1e6:.1f} MB; a run archive may be at most "
                       f"{MAX_RUN_ZIP_BYTES / 1e6:.0f} MB.")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        raise RunError("the file is not a .zip archive; export a run on this page, or zip a folder written by "
                       "'python -m lstm_core train --out'.") from None
    with zf:
        members = _members(zf)
        for name in (CONFIG, METRICS, MODEL):
            if name not in members:
                raise RunError(f"the archive has no {name}; a run archive holds config.json, metrics.jsonl and "
                               "model.pt.")
        try:
            run = RunConfig.from_json(_read_member(zf, members[CONFIG], CONFIG).decode("utf-8"))
        except UnicodeDecodeError:
            raise RunError("the archive's config.json is not UTF-8 text.") from None
        except ConfigError as e:
            raise RunError(f"the archive's config.json is not a valid run config: {e}") from None
        expected = {CONFIG, METRICS, MODEL} | ({CORPUS} if _needs_text(run) else set())
        extra = sorted(set(members) - expected)
        if extra:
            raise RunError(f"the archive holds an unexpected file {extra[0]!r}; a run archive holds only "
                           f"{', '.join(sorted(expected))}.")
        if CORPUS in expected and CORPUS not in members:
            raise RunError("the run learns an uploaded text, but the archive has no corpus.txt with that text.")
        metrics = _parse_metrics(_read_member(zf, members[METRICS], METRICS))
        text = None
        if CORPUS in expected:
            try:
                text = check_text(_read_member(zf, members[CORPUS], CORPUS))
            except DataError as e:
                raise RunError(f"the archive's corpus.txt is unusable: {e}") from None
        try:
            state = load_state(_read_member(zf, members[MODEL], MODEL))
        except RunError as e:
            raise RunError(f"the archive's model.pt is unusable: {e}") from None
    check_state(run, state, text)
    return RunArchive(run, state, text, metrics)


def _parse_metrics(raw: bytes) -> list[dict]:
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise RunError("the archive's metrics.jsonl is not UTF-8 text.") from None
    out = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            rec = None
        if not isinstance(rec, dict):
            raise RunError(f"line {n} of the archive's metrics.jsonl is not a JSON object.")
        out.append(rec)
    return out


def _task(run: RunConfig, text: str | None):
    if _needs_text(run) and text is None:  # never read run.task.text_file: it names a path on someone's machine
        raise RunError("the run learns an uploaded text, and that text was not given.")
    try:
        return make_task(run.task, run.train.seed, text if _needs_text(run) else None)
    except DataError as e:
        raise RunError(f"the run's task cannot be built: {e}") from None


def check_state(run: RunConfig, state: dict[str, torch.Tensor], text: str | None = None) -> None:
    """Raise RunError unless `state` has exactly the keys and shapes (and finite values) the config's model has."""
    model_from_state(run, _task(run, text), state)


def lab_from_run(run: RunConfig, state: dict[str, torch.Tensor], text: str | None = None) -> Lab:
    """A Lab with the one model of `run`, holding the weights `state` (checked first). Its step counter, optimiser
    and curves start afresh; the display trace and the first gradient snapshot are of the loaded weights."""
    if _needs_text(run) and text is None:
        raise RunError("the run learns an uploaded text, and that text was not given.")
    name = run.model.cell
    try:
        lab = Lab(run.task, run.train, {name: run.model}, text=text if _needs_text(run) else None)
    except DataError as e:
        raise RunError(f"the run's task cannot be built: {e}") from None
    lab.load_weights(name, state)
    return lab


# -- figures ------------------------------------------------------------------------------------------------------
def figure_html(fig: go.Figure, title: str | None = None) -> str:
    """A standalone HTML page holding the figure and all of plotly.js (about 5 MB): opens offline, stays interactive.
    `title` (default: the figure's) names the browser tab."""
    page = fig.to_html(include_plotlyjs=True, full_html=True, include_mathjax=False,
                       config={"displaylogo": False, "responsive": True})
    title = title or fig.layout.title.text or "LSTM Gate Lab figure"
    return page.replace("<head>", f"<head>\n    <title>{html.escape(title)}</title>", 1)


def browser_path() -> str | None:
    """The Chromium-family browser kaleido will drive: $BROWSER_PATH, Debian's /usr/bin/chromium, else one on PATH."""
    for p in (os.environ.get("BROWSER_PATH"), DEBIAN_CHROMIUM):
        if p and os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    for name in BROWSERS:
        if p := shutil.which(name):
            return p
    return None


def png_unavailable() -> str | None:
    """Why PNG export cannot work on this server (one sentence), or None if it can."""
    if importlib.util.find_spec("kaleido") is None:
        return "PNG export needs the kaleido package (pip install -r requirements.txt); download the HTML instead."
    if browser_path() is None:
        return ("PNG export needs a Chromium browser on the server (Debian: apt-get install chromium); download "
                "the HTML instead.")
    return None


def figure_png(fig: go.Figure, width: int = 1200, scale: float = 2.0) -> bytes:
    """The figure as a PNG, drawn by plotly.js in headless Chromium through kaleido (a few seconds per image).

    kaleido 1.x looks for Chrome first and then Chromium on PATH; we hand it the browser explicitly
    (`browser_path()`), and turn off MathJax, which kaleido would otherwise load from a CDN (the app is offline).
    plotly.js itself comes from the plotly package on disk.
    """
    reason = png_unavailable()
    if reason:
        raise ExportError(reason)
    import kaleido

    height = fig.layout.height or 500
    try:
        png = kaleido.calc_fig_sync(fig, opts=dict(format="png", width=width, height=height, scale=scale),
                                    kopts={"path": browser_path(), "mathjax": False})
    except Exception as e:  # noqa: BLE001 - browser start-up and rendering fail in many ways; one sentence for all
        raise ExportError(f"PNG export failed in the browser ({type(e).__name__}); download the HTML instead.") \
            from None
    if not isinstance(png, bytes) or not png.startswith(b"\x89PNG"):
        raise ExportError("PNG export returned no image; download the HTML instead.")
    return png
