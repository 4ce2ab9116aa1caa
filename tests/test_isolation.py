"""The engine imports neither streamlit nor plotly: checked in a fresh interpreter, where nothing else loaded them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = r"""
import importlib, importlib.util, json, pkgutil, sys
import lstm_core
modules = pkgutil.walk_packages(lstm_core.__path__, "lstm_core.")
engine = sorted(m.name for m in modules if m.name != "lstm_core.figures")
for name in engine + ["datasets.corpora", "datasets.series"]:
    importlib.import_module(name)
# exercise the data paths too: corpora, a real series (pandas via vega_datasets), a model and its trace
# (no optimiser: Adam's first use imports torch._dynamo, seconds of work that prove nothing here)
from lstm_core import TaskConfig, ModelConfig, build_model, make_task
from lstm_core.trace import trace
for cfg in (TaskConfig(name="text", corpus="reber", seq_len=20), TaskConfig(name="series", seq_len=20)):
    task = make_task(cfg)
    trace(build_model(ModelConfig(hidden=4), task, 0), task, task.display(0))
found = {"engine": engine, "streamlit": sorted(m for m in sys.modules if m.split(".")[0] == "streamlit"),
         "plotly": sorted(m for m in sys.modules if m.split(".")[0] == "plotly")}
if importlib.util.find_spec("lstm_core.figures") is not None:
    importlib.import_module("lstm_core.figures")  # plotly is allowed there, streamlit is not
    found["streamlit_after_figures"] = sorted(m for m in sys.modules if m.split(".")[0] == "streamlit")
print(json.dumps(found))
"""


def test_engine_imports_no_ui_library():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    found = json.loads(p.stdout.strip().splitlines()[-1])
    assert {"lstm_core.config", "lstm_core.models", "lstm_core.trace", "lstm_core.train", "lstm_core.runs",
            "lstm_core.sample", "lstm_core.tasks", "lstm_core.__main__"} <= set(found["engine"])
    assert found["streamlit"] == []
    assert found["plotly"] == []
    assert found.get("streamlit_after_figures", []) == []


def test_ui_libraries_are_installed_so_the_check_means_something():
    import importlib.util

    assert importlib.util.find_spec("streamlit") is not None
    assert importlib.util.find_spec("plotly") is not None


def test_home_page_modules_do_not_import_torch():
    """The Home page draws from lstm_core.figures and lessons.read_curves while torch loads in a background
    thread; importing torch there would hold the first page for seconds."""
    probe = ("import json, sys; import lstm_core, lstm_core.figures, lstm_core.lessons, pages.frame; "
             "c = lstm_core.lessons.read_curves('recall-100'); "
             "print(json.dumps({'torch': 'torch' in sys.modules, 'curves': sorted(c)}))")
    p = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    found = json.loads(p.stdout.strip().splitlines()[-1])
    assert found == {"torch": False, "curves": ["lstm", "rnn"]}


def test_every_module_imports_first_in_a_fresh_interpreter():
    """No import cycle depends on which module a program happens to import first (datasets and tasks import
    each other's modules; lstm_core's names load lazily)."""
    mods = ["datasets.series", "datasets.corpora", "lstm_core.export", "lstm_core.__main__", "lstm_core.lessons",
            "lstm_core.lab", "lstm_core.tasks.text", "lstm_core.figures", "datasets.make_pretrained"]
    probe = "import importlib, sys; importlib.import_module(sys.argv[1]); print('ok')"
    for m in mods:
        p = subprocess.run([sys.executable, "-c", probe, m], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0 and p.stdout.strip() == "ok", (m, p.stderr[-800:])
