"""lstm_core.config: bounds name the field, JSON and URL query round trips, malformed values."""

from __future__ import annotations

import json
import math

import pytest

from lstm_core.config import ConfigError, ModelConfig, RunConfig, TaskConfig, TrainConfig

# (config class, field, bad value, word the message must contain). The word is the field's name except where the
# message uses the learner's word for it: TaskConfig.name is "task", TrainConfig.lr is "learning rate".
BAD = [
    (TaskConfig, "name", "nope", "task"),
    (TaskConfig, "lag", 0, "lag"),
    (TaskConfig, "lag", 1001, "lag"),
    (TaskConfig, "lag", 2.5, "lag"),
    (TaskConfig, "lag", True, "lag"),
    (TaskConfig, "lag", "10", "lag"),
    (TaskConfig, "alphabet", 1, "alphabet"),
    (TaskConfig, "alphabet", 33, "alphabet"),
    (TaskConfig, "copy_len", 0, "copy_len"),
    (TaskConfig, "copy_len", 31, "copy_len"),
    (TaskConfig, "seq_len", 4, "seq_len"),
    (TaskConfig, "seq_len", 1001, "seq_len"),
    (TaskConfig, "corpus", "wikipedia", "corpus"),
    (TaskConfig, "series", "stocks", "series"),
    (ModelConfig, "cell", "transformer", "cell"),
    (ModelConfig, "hidden", 1, "hidden"),
    (ModelConfig, "hidden", 257, "hidden"),
    (ModelConfig, "layers", 0, "layers"),
    (ModelConfig, "layers", 3, "layers"),
    (ModelConfig, "dropout", -0.1, "dropout"),
    (ModelConfig, "dropout", 0.95, "dropout"),
    (ModelConfig, "dropout", math.nan, "dropout"),
    (ModelConfig, "gate_init", "orthogonal", "gate_init"),
    (ModelConfig, "forget_bias", -10.5, "forget_bias"),
    (ModelConfig, "forget_bias", 11.0, "forget_bias"),
    (ModelConfig, "init_scale", -1.0, "init_scale"),
    (ModelConfig, "init_scale", 21.0, "init_scale"),
    (ModelConfig, "init_scale", math.inf, "init_scale"),
    (TrainConfig, "seed", -1, "seed"),
    (TrainConfig, "seed", 2**31, "seed"),
    (TrainConfig, "steps", 0, "steps"),
    (TrainConfig, "steps", 20_001, "steps"),
    (TrainConfig, "batch", 0, "batch"),
    (TrainConfig, "batch", 1025, "batch"),
    (TrainConfig, "lr", 0.0, "learning rate"),
    (TrainConfig, "lr", 11.0, "learning rate"),
    (TrainConfig, "lr", "fast", "learning rate"),
    (TrainConfig, "clip", -1.0, "clip"),
    (TrainConfig, "clip", 2e6, "clip"),
    (TrainConfig, "weight_decay", -0.1, "weight_decay"),
    (TrainConfig, "weight_decay", 1.5, "weight_decay"),
    (TrainConfig, "val_every", 0, "val_every"),
    (TrainConfig, "val_batch", 0, "val_batch"),
    (TrainConfig, "val_batch", 4097, "val_batch"),
    (TrainConfig, "patience", -1, "patience"),
    (TrainConfig, "patience", 1001, "patience"),
    (TrainConfig, "device", "tpu", "device"),
    (TrainConfig, "clock", "gpu-time", "clock"),
    (TrainConfig, "max_seconds", 0.0, "max_seconds"),
    (TrainConfig, "max_seconds", math.inf, "max_seconds"),
    (TrainConfig, "target", math.nan, "target"),
    (TrainConfig, "target", 2e6, "target"),
]


@pytest.mark.parametrize(("cls", "name", "value", "word"), BAD, ids=[f"{c.__name__}.{n}={v!r}" for c, n, v, _ in BAD])
def test_out_of_bounds_names_the_field(cls, name, value, word):
    with pytest.raises(ConfigError) as e:
        cls(**{name: value})
    msg = str(e.value)
    assert word in msg
    assert "\n" not in msg


def test_every_field_has_a_bound_tested():
    tested = {(c, n) for c, n, _, _ in BAD}
    for cls in (TaskConfig, ModelConfig, TrainConfig):
        for f in cls.__dataclass_fields__:
            if (cls, f) == (TaskConfig, "text_file"):
                continue  # checked by test_file_corpus_needs_a_path
            assert (cls, f) in tested, f"{cls.__name__}.{f} has no out-of-bounds test"


def test_bounds_themselves_are_allowed():
    TaskConfig(lag=1, alphabet=2, copy_len=1, seq_len=5)
    TaskConfig(lag=1000, alphabet=32, copy_len=30, seq_len=1000)
    ModelConfig(hidden=2, layers=1, dropout=0.0, forget_bias=-10.0, init_scale=0.0)
    ModelConfig(hidden=256, layers=2, dropout=0.9, forget_bias=10.0, init_scale=20.0)
    TrainConfig(seed=0, steps=1, batch=1, lr=1e-6, clip=0.0, weight_decay=0.0, val_every=1, val_batch=1, patience=0)
    TrainConfig(seed=2**31 - 1, steps=20_000, batch=1024, lr=10.0, clip=1e6, weight_decay=1.0, val_batch=4096,
                patience=1000, max_seconds=1e6, target=-1e6)


def test_message_states_what_is_allowed():
    with pytest.raises(ConfigError, match=r"hidden must be between 2 and 256, got 300"):
        ModelConfig(hidden=300)
    with pytest.raises(ConfigError, match=r"cell must be one of lstm, rnn, gru, peephole, .*; got 'cnn'"):
        ModelConfig(cell="cnn")


def test_file_corpus_needs_a_path():
    with pytest.raises(ConfigError, match="text file"):
        TaskConfig(name="text", corpus="file")
    assert TaskConfig(name="text", corpus="file", text_file="a.txt").text_file == "a.txt"


def test_configs_are_frozen():
    cfg = ModelConfig()
    with pytest.raises(AttributeError):
        cfg.hidden = 3  # type: ignore[misc]
    assert cfg.replace(hidden=3).hidden == 3 and cfg.hidden == ModelConfig().hidden != 3


def test_replace_validates():
    with pytest.raises(ConfigError, match="hidden"):
        ModelConfig().replace(hidden=0)


NONDEFAULT = RunConfig(
    TaskConfig(name="text", lag=37, alphabet=5, copy_len=3, seq_len=64, corpus="file", text_file="/tmp/a b&c=d.txt",
               series="seattle-hourly"),
    ModelConfig(cell="gru", hidden=17, layers=2, dropout=0.25, gate_init="forget-bias", forget_bias=-1.5,
                init_scale=1 / 3),
    TrainConfig(seed=12345, steps=777, batch=3, lr=1 / 3000, clip=0.0, weight_decay=1e-5, val_every=7, val_batch=11,
                patience=4, device="cpu", max_seconds=12.5, target=0.975),
)


def test_json_round_trip():
    text = NONDEFAULT.to_json()
    assert json.loads(text)["model"]["hidden"] == 17
    assert RunConfig.from_json(text) == NONDEFAULT
    assert RunConfig.from_json(RunConfig().to_json()) == RunConfig()


def test_json_partial_uses_defaults():
    run = RunConfig.from_json('{"model": {"cell": "rnn"}}')
    assert run.model == ModelConfig(cell="rnn") and run.task == TaskConfig() and run.train == TrainConfig()


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("{not json", "not valid JSON"),
        ('{"task": {"lagg": 3}}', "lagg"),
        ('{"task": {}, "extra": {}}', "task"),
        ("[1, 2]", "task"),
        ('{"model": {"hidden": 1}}', "hidden"),
        ('{"model": {"hidden": "64"}}', "hidden"),
        ('{"train": 5}', "wrong type"),
    ],
)
def test_json_malformed(text, word):
    with pytest.raises(ConfigError) as e:
        RunConfig.from_json(text)
    assert word in str(e.value)


def test_query_round_trip():
    q = NONDEFAULT.to_query()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in q.items())
    assert q["model.cell"] == "gru" and q["train.seed"] == "12345"
    back = RunConfig.from_query(q)
    assert back == NONDEFAULT
    assert back.model.init_scale == 1 / 3  # floats survive exactly


def test_query_of_defaults_is_empty_and_ignores_other_keys():
    assert RunConfig().to_query() == {}
    assert RunConfig.from_query({"page": "gates", "train.seed": "3"}) == RunConfig(train=TrainConfig(seed=3))


def test_query_none_round_trips():
    run = RunConfig(train=TrainConfig(max_seconds=5.0))
    q = run.to_query()
    assert q == {"train.max_seconds": "5.0"}
    assert RunConfig.from_query({"train.max_seconds": ""}).train.max_seconds is None


@pytest.mark.parametrize(
    ("key", "raw", "word"),
    [
        ("task.lag", "abc", "task.lag"),
        ("task.lag", "1.5", "task.lag"),
        ("task.lag", "", "task.lag"),
        ("train.seed", "0x10", "train.seed"),
        ("train.lr", "fast", "train.lr"),
        ("train.lr", "nan", "learning rate"),
        ("train.max_seconds", "1e400", "max_seconds"),
        ("model.hidden", "99999", "hidden"),
        ("model.cell", "cnn", "cell"),
        ("model.dropout", "-inf", "dropout"),
        ("task.name", "x" * 1000, "task"),
    ],
)
def test_query_malformed(key, raw, word):
    with pytest.raises(ConfigError) as e:
        RunConfig.from_query({key: raw})
    msg = str(e.value)
    assert word in msg
    assert len(msg) < 400  # a huge value is not echoed whole


def test_a_bidirectional_model_on_a_task_whose_targets_are_later_inputs_is_refused_everywhere():
    """Run configs (the command line, run folders), lab settings and links: one sentence naming task and cell."""
    from lstm_core.config import LabSpec

    with pytest.raises(ConfigError, match="bidirectional LSTM cannot learn the text task") as e:
        RunConfig(TaskConfig(name="text"), ModelConfig(cell="bilstm"))
    assert str(e.value).count(".") == 1 and "revrecall" in str(e.value)
    with pytest.raises(ConfigError, match="sine task"):
        LabSpec(TaskConfig(name="sine"), (ModelConfig(cell="lstm"), ModelConfig(cell="bilstm")))
    with pytest.raises(ConfigError, match="series task"):
        LabSpec.from_query({"task.name": "series", "models": "bilstm,attention"})
    with pytest.raises(ConfigError, match="text task"):
        RunConfig.from_json(json.dumps({"task": {"name": "text"}, "model": {"cell": "bilstm"}}))
    ok = LabSpec.from_query({"task.name": "revrecall", "models": "lstm,bilstm,attention"})
    assert [m.cell for m in ok.models] == ["lstm", "bilstm", "attention"] and LabSpec.from_query(ok.to_query()) == ok
    RunConfig(TaskConfig(name="text"), ModelConfig(cell="attention"))  # causal attention reads only the past
