"""One registry per kind: a task or a corpus added to its registry (one line, plus its own code) appears at once in
the command line, the settings form and the URL round trip, with nothing else edited."""

from __future__ import annotations

import json

import pytest
import torch
from apptest_util import no_exception, open_page
from conftest import remote_lab, small_spec

from datasets import corpora
from lstm_core import tasks
from lstm_core.__main__ import build_parser, main
from lstm_core.config import LabSpec, ModelConfig, TaskConfig, TrainConfig
from lstm_core.pool.client import RemoteLab
from lstm_core.tasks.base import IGNORE, Batch, Task


class Echo(Task):
    """A throwaway task: say the symbol you saw `lag` steps ago (reads TaskConfig.lag and alphabet)."""

    def __init__(self, cfg: TaskConfig, seed: int = 0, text: str | None = None):
        super().__init__(cfg, seed, text)
        self.input_size, self.output_size, self.steps = self.sizes(cfg)
        self.lag, self.baseline, self.baseline_label, self.horizon = cfg.lag, 1 / cfg.alphabet, "chance", cfg.lag

    @staticmethod
    def sizes(cfg: TaskConfig, text: str | None = None) -> tuple[int, int, int]:
        return cfg.alphabet, cfg.alphabet, cfg.lag + 4

    def sample(self, n: int, gen: torch.Generator, split: str) -> Batch:
        x = torch.randint(0, self.output_size, (n, self.steps), generator=gen)
        y = torch.full_like(x, IGNORE)
        y[:, self.lag:] = x[:, :-self.lag]
        return Batch(x, y)


@pytest.fixture
def echo(monkeypatch):
    spec = tasks.TaskSpec("echo", "Echo: say the symbol seen lag steps ago", f"{__name__}:Echo", ("lag", "alphabet"),
                          "accuracy")
    monkeypatch.setitem(tasks.TASKS, "echo", spec)
    return spec


@pytest.fixture
def tiny_corpus(monkeypatch):
    monkeypatch.setitem(corpora.CORPORA, "tiny", corpora.Corpus("tiny", "a tiny test corpus", lambda: "abc " * 200))
    return "tiny"


def test_a_new_task_is_a_command_line_choice_and_trains(echo, capsys):
    assert "echo" in _train_help()
    assert main(["train", "--task", "echo", "--lag", "2", "--alphabet", "3", "--hidden", "4", "--steps", "3",
                 "--batch", "4", "--val-every", "3"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["task"] == "echo" and summary["steps"] == 3 and summary["baseline"] == pytest.approx(1 / 3)


def _train_help() -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "cmd")
    return sub.choices["train"].format_help()


def test_a_new_task_round_trips_through_a_link(echo):
    spec = LabSpec(TaskConfig(name="echo", lag=3, alphabet=5), (ModelConfig(cell="lstm", hidden=6),),
                   TrainConfig(seed=4, steps=30))
    q = spec.to_query()
    assert q["task.name"] == "echo"
    assert LabSpec.from_query(q) == spec


def test_a_new_task_appears_in_the_settings_form_with_its_own_settings(echo, inline_pool):
    # the worker must know the task too: the pool's one worker runs in this process, where `echo` is registered
    pool, _ = inline_pool
    at = open_page("pages/train.py", {"lab": RemoteLab(small_spec(), pool=pool)})
    assert echo.title in at.selectbox(key="tr_task").options  # shown by its title
    at.selectbox(key="tr_task").set_value("echo").run()
    no_exception(at)
    keys = {w.key for w in at.number_input}
    assert {"tr_lag", "tr_alphabet"} <= keys and "tr_seq_len" not in keys  # the settings its entry names
    at.number_input(key="tr_lag").set_value(3).run()
    next(b for b in at.button if b.key == "tr_apply").click().run()
    no_exception(at)
    view = at.session_state["lab"].view()
    assert view.task_cfg.name == "echo" and view.task.title.startswith("Echo") and view.task_cfg.lag == 3


def test_a_new_corpus_is_a_choice_everywhere(tiny_corpus, capsys):
    assert main(["train", "--task", "text", "--corpus", "tiny", "--seq-len", "10", "--hidden", "4", "--steps", "2",
                 "--batch", "4", "--val-every", "2"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["task"] == "text"
    spec = LabSpec(TaskConfig(name="text", corpus="tiny", seq_len=10), (ModelConfig(cell="rnn", hidden=4),),
                   TrainConfig(steps=5))
    assert LabSpec.from_query(spec.to_query()) == spec
    at = open_page("pages/train.py", {"lab": remote_lab()})
    at.selectbox(key="tr_task").set_value("text").run()
    assert "a tiny test corpus" in at.selectbox(key="tr_corpus").options  # shown by its title
