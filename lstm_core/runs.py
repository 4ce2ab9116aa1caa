"""A run on disk: `config.json`, `metrics.jsonl` and `model.pt` (a weights-only state dict).

Loading never unpickles arbitrary objects (`torch.load(..., weights_only=True)`), and checks every key and
shape against the model the config describes before any weight is used.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import asdict
from pathlib import Path

import torch

from .config import RunConfig
from .errors import ConfigError, DataError, RunError
from .limits import MAX_CHECKPOINT_BYTES
from .models import SeqModel, build_model
from .tasks import TASKS, make_task
from .tasks.base import Task
from .views import StepRecord


def save_run(out: str | Path, run: RunConfig, model: SeqModel, history: list[StepRecord]) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(run.to_json() + "\n")
    with open(out / "metrics.jsonl", "w") as f:
        for r in history:
            f.write(json.dumps(record_dict(r, TASKS[run.task.name].metric)) + "\n")
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, out / "model.pt")
    return out


def save_snapshot(out: str | Path, step: int, model: SeqModel) -> Path:
    """Weights at one training step, as `OUT/snapshots/step_000100.pt` (a weights-only state dict)."""
    path = Path(out) / "snapshots" / f"step_{step:06d}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, path)
    return path


def load_snapshots(folder: str | Path) -> dict[int, dict[str, torch.Tensor]]:
    """Every snapshot of a run folder, by step (empty if it has none)."""
    snaps = {}
    for p in sorted((Path(folder) / "snapshots").glob("step_*.pt")):
        snaps[int(p.stem.split("_")[1])] = load_state(p)
    return snaps


def record_dict(r: StepRecord, metric_name: str) -> dict:
    d = {k: v for k, v in asdict(r).items() if v is not None}
    d[metric_name] = d.pop("metric")
    if "val_metric" in d:
        d[f"val_{metric_name}"] = d.pop("val_metric")
    return d


def records(rows: list[dict], metric: str) -> list[StepRecord]:
    """metrics.jsonl rows (as `runs.record_dict` writes them) back to step records, one per consecutive step."""
    out = [StepRecord(step=int(d["step"]), loss=float(d["loss"]), metric=float(d[metric]),
                      grad_norm=float(d["grad_norm"]), seconds=float(d["seconds"]), val_metric=d.get(f"val_{metric}"),
                      val_loss=d.get("val_loss"), stop=d.get("stop")) for d in rows]
    if [r.step for r in out] != list(range(1, len(out) + 1)):
        raise ValueError("the steps of a run's records must be 1, 2, 3, ... without a gap.")
    return out


def load_state(data: bytes | str | Path) -> dict[str, torch.Tensor]:
    """Read a weights-only state dict from bytes or a path; refuse anything else."""
    try:
        in_memory = isinstance(data, (bytes, bytearray))
        size = len(data) if in_memory else Path(data).stat().st_size
        if size > MAX_CHECKPOINT_BYTES:
            raise RunError(f"the checkpoint is {size / 1e6:.1f} MB; the limit is {MAX_CHECKPOINT_BYTES / 1e6:.0f} MB.")
        with warnings.catch_warnings():  # torch warns about foreign pickles on stderr; the RunError says enough
            warnings.simplefilter("ignore")
            state = torch.load(io.BytesIO(data) if in_memory else data, map_location="cpu", weights_only=True)
    except RunError:
        raise
    except Exception as e:  # noqa: BLE001 - any unpickling failure means "not a weights-only checkpoint"
        raise RunError(f"the file is not a weights-only PyTorch checkpoint ({type(e).__name__}).") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in state.items()):
        raise RunError("the checkpoint must be a state dict: names mapped to tensors.")
    return state


def model_from_state(run: RunConfig, task: Task, state: dict[str, torch.Tensor]) -> SeqModel:
    """Build the model `run` describes and load `state` into it after checking keys, shapes and values."""
    model = build_model(run.model, task, run.train.seed)
    want = model.state_dict()
    missing, extra = sorted(set(want) - set(state)), sorted(set(state) - set(want))
    if missing or extra:
        name = (missing or extra)[0]
        raise RunError(f"the checkpoint does not match the config: {'missing' if missing else 'unexpected'} "
                       f"weight {name!r}.")
    for k, v in want.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise RunError(f"the checkpoint's {k!r} has shape {tuple(state[k].shape)}; the config needs "
                           f"{tuple(v.shape)}.")
        if not torch.isfinite(state[k]).all():
            raise RunError(f"the checkpoint's {k!r} holds NaN or infinite values.")
    model.load_state_dict({k: v.to(want[k].dtype) for k, v in state.items()})
    return model


def load_run(folder: str | Path, text: str | None = None) -> tuple[RunConfig, Task, SeqModel, list[dict]]:
    folder = Path(folder)
    if not folder.is_dir():
        raise RunError(f"the run folder {str(folder)!r} does not exist.")
    cfg_path, model_path = folder / "config.json", folder / "model.pt"
    for p in (cfg_path, model_path):
        if not p.is_file():
            raise RunError(f"the run folder {str(folder)!r} has no {p.name}; it must come from 'train --out'.")
    try:
        run = RunConfig.from_json(cfg_path.read_text())
    except (ConfigError, OSError, UnicodeDecodeError) as e:
        raise RunError(f"{cfg_path} is not a valid run config: {e}") from None
    try:
        task = make_task(run.task, run.train.seed, text)
    except DataError as e:
        raise RunError(str(e)) from None
    model = model_from_state(run, task, load_state(model_path))
    metrics = []
    mpath = folder / "metrics.jsonl"
    if mpath.is_file():
        try:
            metrics = [json.loads(line) for line in mpath.read_text().splitlines() if line.strip()]
        except (ValueError, OSError) as e:  # a truncated or edited file: say so instead of a traceback
            raise RunError(f"{mpath} is not one JSON object per line ({e}).") from None
    return run, task, model, metrics
