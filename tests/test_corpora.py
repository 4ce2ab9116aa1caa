"""datasets.corpora: the four corpora load offline; check_text refuses bad text with distinct messages; Reber."""

from __future__ import annotations

import socket

import pytest

from datasets.corpora import MAX_TEXT_BYTES, MIN_TEXT_CHARS, check_text, embedded_reber, load_corpus, read_text_file
from lstm_core.config import TaskConfig
from lstm_core.errors import DataError
from lstm_core.tasks import make_task


@pytest.fixture
def offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a corpus tried to use the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_python_docs_offline(offline):
    text = load_corpus.__wrapped__("python-docs")
    assert len(text) > 100_000 and "for" in text and "class" in text


def test_python_source_offline(offline):
    text = load_corpus.__wrapped__("python-source")
    assert len(text) > 50_000 and "def " in text and "import " in text
    assert text.count("\n\n") > 100


def test_reber_offline(offline):
    text = load_corpus.__wrapped__("reber")
    assert set(text) == set("BTPSXVE\n") and len(text.splitlines()) == 4000


def test_file_corpus_offline(offline, tmp_path):
    p = tmp_path / "book.txt"
    body = "It was the best of times, it was the worst of times. " * 10 + "Ünïcödé ✓\n"
    p.write_text(body, encoding="utf-8")
    assert load_corpus.__wrapped__("file", str(p)) == body
    with pytest.raises(DataError, match="no text file"):
        load_corpus.__wrapped__("file", None)
    with pytest.raises(DataError, match="does not exist"):
        load_corpus.__wrapped__("file", str(tmp_path / "absent.txt"))
    with pytest.raises(DataError, match="unknown corpus"):
        load_corpus.__wrapped__("wikipedia")


@pytest.mark.parametrize("corpus", ["python-docs", "python-source", "reber"])
def test_each_corpus_makes_a_text_task(corpus):
    task = make_task(TaskConfig(name="text", corpus=corpus, seq_len=50))
    b = task.batch(4, 0, 0)
    assert b.x.shape == (4, 50) and int(b.x.max()) < task.input_size <= 256


def test_deterministic():
    assert load_corpus.__wrapped__("python-docs") == load_corpus.__wrapped__("python-docs")
    assert embedded_reber(50, seed=1) == embedded_reber(50, seed=1) != embedded_reber(50, seed=2)


GOOD = ("A few paragraphs of plain text. " * 10).encode()

BAD = {
    "empty": (b"", "empty"),
    "binary": (GOOD[:100] + b"\x00" + GOOD[100:], "binary"),
    "not utf-8": ("naïve café ".encode("latin-1") * 30, "UTF-8"),
    "too large": (b"ab" * (MAX_TEXT_BYTES // 2 + 1), "limit"),
    "one character": (b"a" * 1000, "single repeated character"),
    "too short": (b"hello world", f"at least {MIN_TEXT_CHARS}"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_check_text_rejects(case):
    data, word = BAD[case]
    with pytest.raises(DataError) as e:
        check_text(data)
    assert word in str(e.value) and "\n" not in str(e.value)


def test_check_text_messages_are_distinct():
    messages = []
    for data, _ in BAD.values():
        with pytest.raises(DataError) as e:
            check_text(data)
        messages.append(str(e.value))
    assert len(set(messages)) == len(messages)


def test_check_text_accepts_utf8():
    text = "Grüße aus Köln — ünïcödé. " * 10
    assert check_text(text.encode()) == text
    assert check_text(GOOD) == GOOD.decode()


def test_read_text_file(tmp_path):
    p = tmp_path / "big.txt"
    with open(p, "wb") as f:
        f.truncate(MAX_TEXT_BYTES + 1)
    with pytest.raises(DataError, match="limit"):
        read_text_file(str(p))
    with pytest.raises(DataError, match="does not exist"):
        read_text_file(str(tmp_path))  # a folder is not a file
    p.write_bytes(GOOD)
    assert read_text_file(str(p)) == GOOD.decode()


REBER = {0: {"T": 1, "P": 2}, 1: {"S": 1, "X": 3}, 2: {"T": 2, "V": 4}, 3: {"X": 2, "S": 5}, 4: {"P": 3, "V": 5}}


def _is_reber(s: str) -> bool:
    if len(s) < 2 or s[0] != "B" or s[-1] != "E":
        return False
    node = 0
    for ch in s[1:-1]:
        if node == 5 or ch not in REBER[node]:
            return False
        node = REBER[node][ch]
    return node == 5


def test_embedded_reber_obeys_the_grammar():
    lines = embedded_reber(500, seed=3).splitlines()
    assert len(lines) == 500
    for s in lines:
        assert s[0] == "B" and s[-1] == "E"
        assert s[1] in "TP" and s[1] == s[-2]  # the long-range dependency
        assert _is_reber(s[2:-2]), s
    assert {s[1] for s in lines} == {"T", "P"}
    assert max(len(s) for s in lines) > 15  # some inner strings loop, so the dependency spans far


def test_the_grammar_checker_can_say_no():
    assert _is_reber("BTXSE") and _is_reber("BTSSXSE") and _is_reber("BPTVVE")
    assert not _is_reber("BTXXE") and not _is_reber("BTVE") and not _is_reber("BPVV") and not _is_reber("TXSE")


def test_task_from_uploaded_text_skips_the_corpus():
    text = check_text(GOOD)
    task = make_task(TaskConfig(name="text", corpus="reber", seq_len=20), text=text)
    assert task.decode(task.encode("plain").tolist()) == "plain"
    assert "B" not in task.chars  # not the Reber corpus



def test_check_text_reports_progress_a_megabyte_at_a_time_and_the_exact_bad_byte():
    from datasets.corpora import CHUNK

    text = ("Quoth the raven, “nevermore.” " * 80_000)[: 5 * CHUNK // 2]  # 2.5 M characters, some of 3 bytes
    data = text.encode("utf-8")
    heard = []
    assert check_text(data, lambda f, what: heard.append((f, what))) == text  # also across split characters
    assert len(heard) == -(-len(data) // CHUNK) and heard[-1][0] == 1.0
    assert [f for f, _ in heard] == sorted(f for f, _ in heard) and "MB" in heard[0][1]
    bad = data[: CHUNK + 123] + b"\xff" + data[CHUNK + 123 :]
    with pytest.raises(DataError, match=f"position {CHUNK + 123}\\)"):
        check_text(bad)


def test_summarise_says_what_the_text_model_will_read():
    from datasets.corpora import MAX_VOCAB, UNKNOWN, summarise

    rare = "".join(chr(0x4E00 + k) for k in range(300))  # 300 characters once each, after 2 common ones
    text = "ab" * 3000 + rare
    heard = []
    s = summarise(text, lambda f, what: heard.append(f))
    assert heard == [1.0]
    assert (s.chars, s.distinct, s.vocabulary) == (len(text), 302, MAX_VOCAB)
    assert (s.unknown_chars, s.unknown_count) == (302 - (MAX_VOCAB - 1), 302 - (MAX_VOCAB - 1))
    task = make_task(TaskConfig(name="text", seq_len=10), text=text)
    assert task.input_size == s.vocabulary and task.chars[-1] == UNKNOWN
    assert sum(c not in task.chars for c in text) == s.unknown_count
    small = summarise("hello world, " * 50)  # h e l o w r d , and space
    assert small.unknown_chars == small.unknown_count == 0 and small.vocabulary == small.distinct == 9
