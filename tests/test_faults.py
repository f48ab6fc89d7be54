"""Faults: an indexer killed mid-run converges when run again; damaged, half-written or foreign stores are explained.

Covered elsewhere: a missing store (test_index.py::test_missing_store_says_how_to_build_it,
test_pipeline.py::test_cli_errors_are_messages_not_tracebacks), other chunk settings
(test_index.py::test_other_chunk_settings_are_refused_not_mixed), a tampered or truncated model file
(test_model_file.py), an LLM server that is down, hangs or answers garbage (test_scale_out.py).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

import qa
from eval.corpus import write_documents
from index import StoreError
from index.minilm import MODEL_NAME
from index.keyword import KeywordIndex, ids_digest
from qa.settings import Settings
from tests import stores
from tests.conftest import SEEDS
from tests.stores import ROOT, one_line_error

XQUAD = Path("/work/shared/data/xquad/xquad.en.json")
COLLECTION = "faults"


def write_corpus(folder: Path, articles: int = 24) -> None:
    """A few dozen documents (one XQuAD article each, ~230 chunks): indexing takes tens of seconds."""
    data = json.loads(XQUAD.read_text(encoding="utf-8"))["data"][:articles]
    write_documents(folder, {f"{i:02d}_{a['title']}.txt": "\n\n".join(p["context"] for p in a["paragraphs"]) + "\n"
                             for i, a in enumerate(data)})  # fmt: skip


def snapshot(store_dir: Path, collection: str = COLLECTION) -> dict:
    return stores.snapshot(store_dir, collection)


class Indexer:
    """`qa index FOLDER --json` in a subprocess."""

    def __init__(self, folder: Path, store_dir: Path) -> None:
        env = {**os.environ, "QA_STORE_DIR": str(store_dir), "QA_STORE_COLLECTION": COLLECTION}
        cmd = [sys.executable, "-m", "cli", "index", str(folder), "--json"]
        self.proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)

    def finish(self) -> dict:
        assert self.proc.returncode == 0, self.proc.stderr[-2000:]
        assert "Traceback" not in self.proc.stderr
        return json.loads(self.proc.stdout.strip().splitlines()[-1])


def kill_at(folder: Path, store_dir: Path, point: str, n: int = 1) -> str:
    """Run the indexer until the `n`-th time it reaches `point` (it waits there), then SIGKILL it."""
    marker = store_dir.parent / f"reached-{point}-{n}"
    marker.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "tests.indexer", str(store_dir), COLLECTION, str(folder), point, str(n), str(marker)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while not marker.exists():  # the indexer's own event; the wait is bounded by the test's timeout
            if proc.poll() is not None:
                pytest.fail(f"indexer ended ({proc.returncode}) before {point} #{n}: {proc.stderr.read().decode()[-1500:]}")
            time.sleep(0.05)
        reached = marker.read_text()
        assert reached != "finished", f"the run ended without reaching {point} #{n}"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    return f"{point} #{n}: {reached}"


def change_folder(folder: Path) -> None:
    """Edit a third of the documents, delete two, add one: the next run updates, removes and adds."""
    files = sorted(folder.glob("*.txt"))
    for f in files[::3]:
        f.write_text(f.read_text(encoding="utf-8") + "\nA sentence added later about the harbour ferry.\n", encoding="utf-8")
    files[1].unlink()
    files[2].unlink()
    (folder / "99_new.txt").write_text("A new document about lighthouse keepers and their logbooks.\n", encoding="utf-8")


def assert_same_collection(killed: Path, clean: Path) -> None:
    got, want = snapshot(killed), snapshot(clean)
    assert got.keys() == want.keys(), (len(got.keys() - want.keys()), len(want.keys() - got.keys()))
    assert stores.same(got, want)
    places = [(m["document"], m["start"]) for _, m, _ in got.values()]
    assert len(set(places)) == len(places), "a passage is stored twice"
    # The persisted BM25 index covers exactly the collection's chunks.
    keyword = KeywordIndex.saved(killed / "bm25" / COLLECTION)
    assert set(keyword["ids"]) == got.keys() and keyword["digest"] == ids_digest(list(got))


@pytest.mark.timeout(1800)
@pytest.mark.slow
def test_sigkilled_indexer_converges_to_a_clean_index(tmp_path):
    folder, killed, clean = tmp_path / "docs", tmp_path / "killed", tmp_path / "clean"
    write_corpus(folder)
    t0 = time.monotonic()
    kills = [
        kill_at(folder, killed, "embedded"),  # a batch embedded, not yet written
        kill_at(folder, killed, "written", 1),  # right after a write
        kill_at(folder, killed, "written", 2),
    ]
    change_folder(folder)
    kills.append(kill_at(folder, killed, "added"))  # every new chunk written, stale ones not yet deleted
    final = Indexer(folder, killed).finish()
    fresh = Indexer(folder, clean).finish()
    assert fresh["embedded"] == fresh["chunks"] == final["chunks"]
    assert_same_collection(killed, clean)
    # And the store answers: hybrid retrieval over the converged collection finds the new document.
    settings = Settings(store={"dir": killed, "collection": COLLECTION})
    found = qa.load(settings).retrieve("Who keeps logbooks in lighthouses?")
    assert found[0].document == "99_new.txt"
    print(f"\nSIGKILL test: {len(kills)} kills ({'; '.join(kills)}), {final['chunks']} chunks, {time.monotonic() - t0:.0f} s")


# --- a store that is damaged, half-written or built another way ------------------------------------


@pytest.fixture
def seed_store(tmp_path, seed_settings) -> Settings:
    """A private copy of the session's seed store, free to damage."""
    shutil.copytree(seed_settings.store.dir, tmp_path / "store")
    return seed_settings.with_(store={"dir": tmp_path / "store"})


def run_qa(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    return stores.run_qa(*args, store_dir=settings.store.dir, collection=settings.store.collection)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda db: db.write_bytes(os.urandom(db.stat().st_size)), id="overwritten"),
        pytest.param(lambda db: os.truncate(db, db.stat().st_size // 3), id="half-written"),
    ],
)
def test_damaged_store_is_explained_with_the_fix(seed_store, damage):
    damage(seed_store.store.dir / "chroma.sqlite3")
    for args in (["ask", "What guarantees does Russia demand?"], ["index", str(SEEDS)], ["collections"]):
        line = one_line_error(run_qa(seed_store, *args))
        assert "damaged" in line and f"mv {seed_store.store.dir} {seed_store.store.dir}.broken" in line, line
    with pytest.raises(StoreError, match="damaged"):
        qa.ask("What guarantees does Russia demand?", settings=seed_store)


@pytest.mark.slow
def test_the_command_given_for_a_damaged_store_fixes_it(seed_store, fake_llm):
    os.truncate(seed_store.store.dir / "chroma.sqlite3", 4096)
    line = one_line_error(run_qa(seed_store, "index", str(SEEDS)))
    move = re.search(r"mv (\S+) (\S+) &&", line)
    subprocess.run(["mv", move[1], move[2]], check=True)
    assert run_qa(seed_store, "index", str(SEEDS)).returncode == 0
    assert not qa.ask("What guarantees does Russia demand?", settings=seed_store, llm=fake_llm).refused


def test_store_of_another_embedding_model_is_refused_not_mixed(tmp_path, fake_llm):
    store = tmp_path / "store"
    client = chromadb.PersistentClient(str(store), settings=ChromaSettings(anonymized_telemetry=False))
    other = client.create_collection(
        COLLECTION, metadata={"hnsw:space": "cosine", "embed_model": "bge-small-en", "chunk_size": 128, "chunk_overlap": 16}
    )
    other.add(ids=["x"], embeddings=[[0.1] * 384], documents=["Made by another model."], metadatas=[{"document": "x.txt"}])
    settings = Settings(store={"dir": store, "collection": COLLECTION})
    for act in (lambda: qa.index(SEEDS, settings=settings, progress=False), lambda: qa.ask("anything?", settings=settings, llm=fake_llm)):
        with pytest.raises(StoreError, match=rf"bge-small-en.*not '{MODEL_NAME}'.*--rebuild"):
            act()
    assert snapshot(store).keys() == {"x"}
    line = one_line_error(run_qa(settings, "index", str(SEEDS)))
    assert "--rebuild" in line
    assert qa.index(SEEDS, settings=settings, rebuild=True, progress=False).added == 1
    assert "x" not in snapshot(store)


def test_damaged_keyword_index_is_rebuilt(seed_store, fake_llm):
    """Damaged at rest (between runs: a process maps its version, and a mapped file cut under it is not survivable)."""
    from qa import components

    keyword = seed_store.store.dir / "bm25" / seed_store.store.collection
    components.forget_stores()
    for f in [f for f in keyword.rglob("*") if f.is_file() and f.name != ".lock"]:
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    answer = qa.ask("What guarantees does Russia demand?", settings=seed_store, llm=fake_llm)
    assert not answer.refused and "Grushko" in answer.sources[0].text
    assert KeywordIndex.saved(keyword)["ids"]  # written again, whole


def test_missing_model_file_is_refused_by_the_cli(seed_settings, tmp_path):
    out = stores.run_qa("ask", "What guarantees does Russia demand?", store_dir=seed_settings.store.dir,
                        collection=seed_settings.store.collection, QA_LLM_MODEL_PATH=str(tmp_path / "gone.gguf"))  # fmt: skip
    line = one_line_error(out)
    assert "gone.gguf" in line and "not a file" in line
