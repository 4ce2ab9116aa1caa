"""Character-level corpora, all offline, in one registry: Python's own documentation and source, a generated
grammar, and text from outside (an upload, or `--text-file`).

`CORPORA` is the registry the settings form, the command line and links read; adding a corpus is one function
here and one line in it. `load_corpus(name, path)` returns the text; `check_text(data)` validates text from
outside and raises `DataError` with one sentence naming what is wrong and what is allowed.
"""

from __future__ import annotations

import codecs
import functools
import importlib.util
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import DataError

MAX_TEXT_BYTES = 5 * 1024 * 1024  # uploads and --text-file larger than this are refused
MIN_TEXT_CHARS = 200  # shorter text cannot fill a training window and a held-out split
MAX_VOCAB = 256  # symbols a text model reads and writes: the 255 most frequent characters, then one "unknown"
UNKNOWN = "\ufffd"  # the symbol every rarer character is read as (shown as such)
CHUNK = 1 << 20  # bytes (and characters) read or counted between two progress reports
UPLOAD = "file"  # the corpus name of text from outside: an upload in the app, --text-file on the command line

# Standard-library modules whose source makes the "python-source" corpus (plain, well-formatted Python).
SOURCE_MODULES = ("textwrap", "string", "fractions", "heapq", "bisect", "colorsys", "shlex", "difflib",
                  "calendar", "statistics", "json.encoder", "json.decoder", "dataclasses", "functools")


def python_docs() -> str:
    """English prose: the help topics of Python's documentation, shipped with Python itself (pydoc_data)."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k].strip() for k in sorted(topics))


def python_source() -> str:
    """Python code: the source of a few standard-library modules, as installed with Python."""
    parts = []
    for mod in SOURCE_MODULES:
        spec = importlib.util.find_spec(mod)
        if spec and spec.origin and spec.origin.endswith(".py"):
            parts.append(Path(spec.origin).read_text(encoding="utf-8"))
    return "\n\n".join(parts)


def reber() -> str:
    return embedded_reber(4000, seed=0)


@dataclass(frozen=True)
class Corpus:
    name: str  # as in TaskConfig.corpus, links and --corpus
    title: str  # one line for the settings form
    load: Callable[[], str] | None  # the text; None for UPLOAD, whose text comes from outside


CORPORA: dict[str, Corpus] = {c.name: c for c in (
    Corpus("python-docs", "Python's documentation (English prose)", python_docs),
    Corpus("python-source", "Python source code", python_source),
    Corpus("reber", "embedded Reber grammar (generated)", reber),
    Corpus(UPLOAD, "upload your own text", None),
)}


@functools.lru_cache(maxsize=8)
def load_corpus(name: str, path: str | None = None) -> str:
    """The text of corpus `name`; for UPLOAD, of the UTF-8 file at `path` (checked with `check_text`)."""
    corpus = CORPORA.get(name)
    if corpus is None:
        raise DataError(f"unknown corpus {name!r}; allowed: {', '.join(CORPORA)}.")
    if corpus.load is not None:
        return corpus.load()
    if not path:
        raise DataError("no text file was given.")
    return read_text_file(path)


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


Progress = Callable[[float, str], None]  # (fraction done 0..1, what is being done)


def check_text(data: bytes, progress: Progress | None = None) -> str:
    """Validate raw bytes from outside and return the text, or raise DataError saying what is wrong.
    `progress`, if given, hears how far the decoding is, one megabyte at a time."""
    if len(data) == 0:
        raise DataError("the text is empty; give at least a few paragraphs of UTF-8 text.")
    if len(data) > MAX_TEXT_BYTES:
        raise DataError(f"the text is {len(data) / 1e6:.1f} MB; the limit is {MAX_TEXT_BYTES / 1e6:.0f} MB.")
    if b"\x00" in data:
        raise DataError("the file looks binary (it contains NUL bytes); give a plain UTF-8 text file.")
    text = _decode(data, progress)
    if len(set(text)) < 2:
        raise DataError("the text uses a single repeated character; there is nothing to learn from it.")
    if len(text) < MIN_TEXT_CHARS:
        raise DataError(f"the text has {len(text)} characters; at least {MIN_TEXT_CHARS} are needed.")
    return text


def _decode(data: bytes, progress: Progress | None) -> str:
    decoder, parts = codecs.getincrementaldecoder("utf-8")(), []
    mb = len(data) / 1e6
    for start in range(0, len(data), CHUNK):
        try:
            parts.append(decoder.decode(data[start : start + CHUNK], final=start + CHUNK >= len(data)))
        except UnicodeDecodeError as e:
            raise DataError(f"the file is not valid UTF-8 (bad byte at position {start + e.start}); save it as "
                            "UTF-8.") from None
        if progress is not None:
            done = min(start + CHUNK, len(data))
            progress(done / len(data), f"Reading the text as UTF-8: {done / 1e6:.1f} of {mb:.1f} MB")
    return "".join(parts)


@dataclass(frozen=True)
class TextSummary:
    chars: int  # characters in the text
    distinct: int  # distinct characters
    vocabulary: int  # symbols the model will read and write (at most MAX_VOCAB, UNKNOWN included)
    unknown_chars: int  # distinct characters beyond the vocabulary, read as UNKNOWN
    unknown_count: int  # their occurrences in the text


def character_counts(text: str, progress: Progress | None = None) -> Counter:
    """How often each character occurs, counted a megabyte of characters at a time so that `progress` hears."""
    counts: Counter = Counter()
    for start in range(0, len(text), CHUNK):
        counts.update(text[start : start + CHUNK])
        if progress is not None:
            done = min(start + CHUNK, len(text))
            progress(done / len(text), f"Counting characters for the vocabulary: {done:,} of {len(text):,}")
    return counts


def summarise(text: str, progress: Progress | None = None) -> TextSummary:
    """What a text model will make of `text`: its size, vocabulary, and the characters read as UNKNOWN."""
    counts = character_counts(text, progress)
    rare = [c for c, _ in counts.most_common()[MAX_VOCAB - 1:]]
    return TextSummary(len(text), len(counts), min(len(counts), MAX_VOCAB - 1) + (1 if rare else 0), len(rare),
                       sum(counts[c] for c in rare))


def embedded_reber(n: int, seed: int) -> str:
    """`n` strings of the embedded Reber grammar (B T <reber> T E or B P <reber> P E), one per line.

    The inner grammar is the classic 6-node automaton; the embedded version tests long-range memory because
    the second symbol (T or P) must be repeated before the final E, across the whole inner string.
    """
    rng = random.Random(seed)
    graph = {0: [("T", 1), ("P", 2)], 1: [("S", 1), ("X", 3)], 2: [("T", 2), ("V", 4)],
             3: [("X", 2), ("S", 5)], 4: [("P", 3), ("V", 5)]}

    def inner() -> str:
        s, node = "B", 0
        while node != 5:
            sym, node = rng.choice(graph[node])
            s += sym
        return s + "E"

    lines = []
    for _ in range(n):
        outer = rng.choice("TP")
        lines.append("B" + outer + inner() + outer + "E")
    return "\n".join(lines) + "\n"
