"""Bad input through the real `qa` command: a clear one-line message, a non-zero exit, no traceback, nothing stored changed.

Covered elsewhere: questions rejected by the Python API (test_pipeline.py::test_empty_questions_are_rejected),
unreadable files skipped by `qa.index` (test_index.py, test_formats.py).
"""

import json
import os
import shutil

import pytest

import qa
from qa.settings import Settings
from tests import stores
from tests.conftest import SEEDS
from tests.stores import one_line_error, snapshot

SEED_NAME = "000_794d345c1f52b2db.txt"


@pytest.fixture
def store(tmp_path, seed_settings) -> Settings:
    """A private copy of the session's seed store."""
    shutil.copytree(seed_settings.store.dir, tmp_path / "store")
    return seed_settings.with_(store={"dir": tmp_path / "store"})


def run(settings: Settings, *args: str, **env: str):
    """`qa ARGS` in this process (what is tested is the message and the store, not the process)."""
    return stores.qa_main(*args, store_dir=settings.store.dir, collection=settings.store.collection, **env)


# --- questions --------------------------------------------------------------------------------------

REJECTED = {
    "empty": ("", "empty"),
    "whitespace": ("  \t\n  ", "empty"),
    "only punctuation": ("?!...;:—«»", "empty"),
    "only control characters": ("\x1b[2J\x07\x08\x7f", "empty"),
    "100,000 characters": (("What guarantees does Russia demand? " * 2800)[:99_999] + "?", "100,000 characters"),
}


@pytest.mark.parametrize("question,message", REJECTED.values(), ids=REJECTED.keys())
def test_bad_question_is_one_line_and_changes_nothing(store, question, message):
    before = snapshot(store.store.dir, store.store.collection)
    for args in (["ask", question], ["ask", question, "--json"]):
        line = one_line_error(run(store, *args))
        assert message in line and len(line) < 200, line
    assert stores.same(snapshot(store.store.dir, store.store.collection), before)


@pytest.mark.llm
@pytest.mark.parametrize(
    "question",
    [
        "Quelles garanties la Russie exige-t-elle ?",
        "Какие гарантии требует Россия?",
        "What\x1b[31m guarantees\x07 does\tRussia demand?",
    ],
    ids=["french", "russian", "control characters inside"],
)
def test_other_language_or_control_characters_are_answered_or_refused_cleanly(store, question):
    before = snapshot(store.store.dir, store.store.collection)
    out = run(store, "ask", question, "--json")
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr[-2000:]
    answer = json.loads(out.stdout)
    assert answer["refused"] or answer["sources"], answer
    assert "\x1b" not in answer["question"] and "\x07" not in answer["question"]
    assert stores.same(snapshot(store.store.dir, store.store.collection), before)


def test_bad_setting_is_one_line_without_its_value(store):
    line = one_line_error(run(store, "ask", "What guarantees does Russia demand?", QA_ANSWER_TOP_K="0", QA_WEB_PORT="x-secret-x"))
    assert "QA_ANSWER_TOP_K" in line and "QA_WEB_PORT" in line and "x-secret-x" not in line


# --- files ------------------------------------------------------------------------------------------


def sparse(file, size: int) -> None:
    """A file of `size` bytes that takes no disk space: the limit must be checked before reading."""
    with open(file, "wb") as f:
        f.truncate(size)


def outside_symlinks(folder, tmp_path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("The vault code is 7341.\n")
    (folder / "passwd.txt").symlink_to("/etc/passwd")
    (folder / "elsewhere").symlink_to(outside, target_is_directory=True)


BAD_FILES = {
    "binary": (lambda f, t: (f / "blob.txt").write_bytes(b"\x00\x01\x02\xff binary"), {"blob.txt": "binary"}),
    "not UTF-8": (lambda f, t: (f / "latin1.txt").write_bytes("café crème brûlée".encode("latin-1")), {"latin1.txt": "UTF-8"}),
    "empty": (lambda f, t: (f / "empty.md").write_text(""), {"empty.md": "no text"}),
    "huge": (lambda f, t: sparse(f / "huge.txt", 3_000_000_000), {"huge.txt": "QA_STORE_MAX_FILE_BYTES"}),
    "unsupported type": (lambda f, t: (f / "tool.exe").write_bytes(b"MZ\x90\x00"), {"tool.exe": "unsupported type"}),
    "symlink leaving the folder": (outside_symlinks, {"passwd.txt": "outside the folder", "elsewhere": "outside the folder"}),
    "name not UTF-8": (lambda f, t: (f / os.fsdecode(b"caf\xe9.txt")).write_text("Coffee.\n"), {"caf\ufffd.txt": "rename"}),
}


@pytest.mark.parametrize("make,reasons", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_file_is_named_with_its_reason_and_changes_nothing(store, docs, tmp_path, make, reasons):
    """Exit 1: the readable files are indexed, each unreadable one is named; 2 stays for hard errors."""
    make(docs, tmp_path)
    before = snapshot(store.store.dir, store.store.collection)
    out = run(store, "index", str(docs), "--json")
    line = one_line_error(out, code=1)
    assert "skipped" in line and "Traceback" not in out.stderr
    for name, reason in reasons.items():
        said = [x for x in out.stderr.splitlines() if x.startswith(f"skipped {name}:")]
        assert said and reason in said[0], out.stderr
    assert {s["document"] for s in json.loads(out.stdout)["skipped"]} == reasons.keys()
    after = snapshot(store.store.dir, store.store.collection)
    assert stores.same(after, before)
    assert "7341" not in " ".join(text for text, _, _ in after.values())


ANIMALS = ["pelican", "walrus", "heron", "otter", "puffin"]
ODD_NAMES = ["with space.txt", "ünïcødé – 東京.md", "quote's \"double\".txt", "-leading-dash.txt", "semi;colon $HOME `x`.txt"]


def test_odd_file_names_are_indexed_and_cited(store, docs, fake_llm):
    for name, animal, colour in zip(ODD_NAMES, ANIMALS, ["red", "blue", "green", "white", "black"]):
        (docs / name).write_text(f"The {animal} lighthouse was painted {colour} by the harbour crew.\n")
    out = run(store, "index", str(docs), "--json")
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr[-2000:]
    documents = {m["document"] for _, m, _ in snapshot(store.store.dir, store.store.collection).values()}
    assert documents == {SEED_NAME, *ODD_NAMES}
    answer = qa.ask("Which colour was the otter lighthouse painted?", settings=store, llm=fake_llm)
    assert answer.sources and answer.sources[0].document == "-leading-dash.txt", answer
    # A single file whose name starts with a dash, after `--`: updated in place, nothing else touched.
    (docs / "-leading-dash.txt").write_text("The otter lighthouse was painted orange by the harbour crew.\n")
    out = stores.run_qa("index", "--", "-leading-dash.txt", store_dir=store.store.dir, collection=store.store.collection, cwd=docs)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = snapshot(store.store.dir, store.store.collection).values()
    assert {m["document"] for _, m, _ in rows} == documents
    assert any("orange" in text for text, m, _ in rows if m["document"] == "-leading-dash.txt")


def test_seed_folder_indexes_with_exit_0(store):
    out = run(store, "index", str(SEEDS))
    assert out.returncode == 0 and "error" not in out.stderr, out.stderr
