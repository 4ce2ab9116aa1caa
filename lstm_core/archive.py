"""A run as one .zip (`config.json`, `metrics.jsonl`, `model.pt`, exactly what `train --out` writes, plus
`corpus.txt` for a run on an uploaded text), and the validation of such an archive from outside.

An archive is validated before anything uses it: its size, its members (exactly the expected ones, each under
its own size limit, read without unpacking to disk), its config, and its weights, which are read with
`torch.load(weights_only=True)` (never an arbitrary unpickle) and checked key by key and shape by shape against
the model the config describes. Every refusal is a `RunError` with one sentence saying what is wrong.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import torch

from datasets.corpora import MAX_TEXT_BYTES, UPLOAD, check_text

from .config import RunConfig
from .errors import ConfigError, DataError, RunError
from .limits import MAX_CHECKPOINT_BYTES, MAX_RUN_ZIP_BYTES
from .models import SeqModel
from .runs import load_state, model_from_state, save_run
from .tasks import make_task
from .views import StepRecord

CONFIG, METRICS, MODEL, CORPUS = "config.json", "metrics.jsonl", "model.pt", "corpus.txt"
MAX_CONFIG_BYTES = 64_000  # a config is about 1 KB
MAX_METRICS_BYTES = 16_000_000  # ~80,000 logged steps; the app caps a run at 20,000
MEMBER_LIMITS = {CONFIG: MAX_CONFIG_BYTES, METRICS: MAX_METRICS_BYTES, MODEL: MAX_CHECKPOINT_BYTES,
                 CORPUS: MAX_TEXT_BYTES}  # the corpus: the same limit as a text uploaded on Train & compare
MAX_MEMBERS = 16  # a run has 3 or 4 files; more is not a run (and bounds the central directory we parse)


class RunArchive(NamedTuple):
    run: RunConfig  # the run's config.json
    state: dict[str, torch.Tensor]  # model.pt, checked against the model `run` describes
    text: str | None  # corpus.txt: the uploaded text of a text run on corpus "file", else None
    metrics: list[dict]  # metrics.jsonl, one dict per logged step


def _needs_text(run: RunConfig) -> bool:
    """A text run on an uploaded corpus: its text travels inside the archive, never as a path on this server."""
    return run.task.name == "text" and run.task.corpus == UPLOAD


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


def needs_text(run: RunConfig) -> bool:
    """A text run on an uploaded corpus: its text travels inside the archive, never as a path on this server."""
    return _needs_text(run)


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


class ArchiveSummary(NamedTuple):
    """What a checked archive holds, as plain values (no weights): for a page to describe before loading it."""

    run: RunConfig
    steps: int  # the last step in its metrics.jsonl (0 if it has none)
    has_text: bool  # it carries corpus.txt


def check_run_zip(data: bytes) -> ArchiveSummary:
    """Validate a run archive from outside (see `load_run_zip`) and describe it; raises RunError."""
    archive = load_run_zip(data)
    steps = max((int(r["step"]) for r in archive.metrics if isinstance(r.get("step"), int)), default=0)
    return ArchiveSummary(archive.run, steps, archive.text is not None)
