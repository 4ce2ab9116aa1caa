"""The engine imports neither streamlit nor plotly: checked in a fresh interpreter, where nothing else loaded them."""

from __future__ import annotations

import ast
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
    """No import cycle depends on which module a program happens to import first (lstm_core's names load
    lazily)."""
    mods = ["datasets.series", "datasets.corpora", "datasets.lessons", "lstm_core.archive", "lstm_core.trace_file",
            "lstm_core.render", "lstm_core.__main__", "lstm_core.lessons", "lstm_core.lab", "lstm_core.tasks.text",
            "lstm_core.figures", "datasets.make_pretrained", "lstm_core.errors", "lstm_core.config"]
    probe = "import importlib, sys; importlib.import_module(sys.argv[1]); print('ok')"
    for m in mods:
        p = subprocess.run([sys.executable, "-c", probe, m], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0 and p.stdout.strip() == "ok", (m, p.stderr[-800:])


class _Imports(ast.NodeVisitor):
    """The modules a file imports, anywhere in it except under `if TYPE_CHECKING:` (type hints only)."""

    def __init__(self, package: list[str]):
        self.package, self.found = package, set()

    def visit_If(self, node: ast.If) -> None:
        if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found.update(a.name for a in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            mod = ".".join(self.package[:len(self.package) - node.level + 1] + [node.module or ""]).strip(".")
        else:
            mod = node.module or ""
        self.found.add(mod)
        self.found.update(f"{mod}.{a.name}" for a in node.names)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports."""

    def name_of(p: Path) -> str:
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    files = {name_of(p): p for pkg in ("lstm_core", "datasets", "pages") for p in (ROOT / pkg).rglob("*.py")}
    graph = {}
    for name, path in files.items():
        v = _Imports(name.split(".") if path.name == "__init__.py" else name.split(".")[:-1])
        v.visit(ast.parse(path.read_text(encoding="utf-8")))
        graph[name] = {m for m in v.found if m in files and m != name}
    return graph


def test_imports_run_one_way_with_no_cycle():
    """pages -> lstm_core -> datasets: no arrow runs back up, and no module imports itself through others."""
    graph = _import_graph()
    for mod, deps in graph.items():
        layer = mod.split(".")[0]
        allowed = {"pages": ("pages", "lstm_core", "datasets"), "lstm_core": ("lstm_core", "datasets"),
                   "datasets": ("datasets",)}[layer]
        assert all(d.split(".")[0] in allowed for d in deps), (mod, sorted(deps))
    state: dict[str, int] = {}

    def visit(mod: str, path: list[str]) -> None:
        if state.get(mod) == 1:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(mod):] + [mod]))
        if state.get(mod) == 2:
            return
        state[mod] = 1
        for dep in sorted(graph[mod]):
            visit(dep, path + [mod])
        state[mod] = 2

    for mod in sorted(graph):
        visit(mod, [])
    assert {"lstm_core.lab", "pages.session", "datasets.corpora"} <= set(graph)
