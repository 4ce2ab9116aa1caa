"""Character-level corpora, all offline: Python's own documentation and source, a generated grammar, a file.

`load_corpus(name, path)` returns the text; `check_text(text)` validates text from outside (an upload or a
path) and raises `DataError` with one sentence naming what is wrong and what is allowed.
"""

from __future__ import annotations

import functools
import importlib.util
import random
from pathlib import Path

from lstm_core.tasks.base import DataError

MAX_TEXT_BYTES = 5 * 1024 * 1024  # uploads and --text-file larger than this are refused
MIN_TEXT_CHARS = 200  # shorter text cannot fill a training window and a held-out split

# Standard-library modules whose source makes the "python-source" corpus (plain, well-formatted Python).
SOURCE_MODULES = ("textwrap", "string", "fractions", "heapq", "bisect", "colorsys", "shlex", "difflib",
                  "calendar", "statistics", "json.encoder", "json.decoder", "dataclasses", "functools")


@functools.lru_cache(maxsize=8)
def load_corpus(name: str, path: str | None = None) -> str:
    if name == "python-docs":
        from pydoc_data.topics import topics

        return "\n\n".join(topics[k].strip() for k in sorted(topics))
    if name == "python-source":
        parts = []
        for mod in SOURCE_MODULES:
            spec = importlib.util.find_spec(mod)
            if spec and spec.origin and spec.origin.endswith(".py"):
                parts.append(Path(spec.origin).read_text(encoding="utf-8"))
        return "\n\n".join(parts)
    if name == "reber":
        return embedded_reber(4000, seed=0)
    if name == "file":
        if not path:
            raise DataError("no text file was given.")
        return read_text_file(path)
    raise DataError(f"unknown corpus {name!r}; allowed: python-docs, python-source, reber, file.")


def read_text_file(path: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"the text file {path!r} does not exist or is not a file.")
    try:
        size = p.stat().st_size
        if size > MAX_TEXT_BYTES:
            raise DataError(f"the text file is {size / 1e6:.1f} MB; the limit is {MAX_TEXT_BYTES / 1e6:.0f} MB.")
        data = p.read_bytes()
    except OSError as e:
        raise DataError(f"the text file {path!r} cannot be read ({e.strerror}).") from None
    return check_text(data)


def check_text(data: bytes) -> str:
    """Validate raw bytes from outside and return the text, or raise DataError saying what is wrong."""
    if len(data) == 0:
        raise DataError("the text is empty; give at least a few paragraphs of UTF-8 text.")
    if len(data) > MAX_TEXT_BYTES:
        raise DataError(f"the text is {len(data) / 1e6:.1f} MB; the limit is {MAX_TEXT_BYTES / 1e6:.0f} MB.")
    if b"\x00" in data:
        raise DataError("the file looks binary (it contains NUL bytes); give a plain UTF-8 text file.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"the file is not valid UTF-8 (bad byte at position {e.start}); save it as UTF-8.") from None
    if len(set(text)) < 2:
        raise DataError("the text uses a single repeated character; there is nothing to learn from it.")
    if len(text) < MIN_TEXT_CHARS:
        raise DataError(f"the text has {len(text)} characters; at least {MIN_TEXT_CHARS} are needed.")
    return text


def embedded_reber(n: int, seed: int) -> str:
    """`n` strings of the embedded Reber grammar (B T <reber> T E or B P <reber> P E), one per line.

    The inner grammar is the classic 6-node automaton; the embedded version tests long-range memory because
    the second symbol (T or P) must be repeated before the final E, across the whole inner string.
    """
    rng = random.Random(seed)
    graph = {0: [("T", 1), ("P", 2)], 1: [("S", 1), ("X", 3)], 2: [("T", 2), ("V", 4)],
             3: [("X", 2), ("S", 5)], 4: [("P", 3), ("V", 5)]}

    def reber() -> str:
        s, node = "B", 0
        while node != 5:
            sym, node = rng.choice(graph[node])
            s += sym
        return s + "E"

    lines = []
    for _ in range(n):
        outer = rng.choice("TP")
        lines.append("B" + outer + reber() + outer + "E")
    return "\n".join(lines) + "\n"
