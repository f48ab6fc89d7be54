"""Several app instances against one `chroma run` server, embeddings from one embeddings server.

A document added through one instance is found by the others, keyword index included; two instances
indexing one folder at once neither lose nor duplicate chunks.
"""

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from index import Store
from index.client import connect
from qa import components
from qa.settings import EmbedSettings
from tests.apiserver import qa_serve
from tests.conftest import ROOT, SEED_FILE
from tests.stores import run_qa

SEED = SEED_FILE.name


def instance(chroma_url: str, embed_url: str, cache: Path, collection: str) -> Store:
    """What an app instance opens: its own client of the server, its own keyword index folder."""
    embed = EmbedSettings(base_url=embed_url)
    return Store(connect(cache, chroma_url), collection, lambda: components.embedder(embed), create=True,
                 keyword_dir=cache / "bm25" / collection)  # fmt: skip


def keyword_documents(store: Store, query: str) -> set[str]:
    """What the instance's keyword index holds now (searched as it is, not brought up to date first)."""
    documents = {c.id: c.document for c in store.chunks()}
    return {documents.get(i, "(deleted)") for i, _ in store._keyword.search(query, 10)}


def test_another_instance_sees_new_chunks_in_its_keyword_index(tmp_path, chroma_url, embed_url, docs):
    a = instance(chroma_url, embed_url, tmp_path / "a", "keywords")
    b = instance(chroma_url, embed_url, tmp_path / "b", "keywords")
    a.sync(docs, progress=False)
    assert b.retrieve("What guarantees does Russia demand?", 4)[0].document == SEED  # b's BM25 built now
    ferry = docs / "ferry.md"
    ferry.write_text("The Quillmarsh ferry leaves the harbour at seven every morning.")
    a.add_files([ferry], progress=False)
    # a wrote the new digest into the collection's metadata: b reads it on every query and rebuilds.
    assert b.retrieve("When does the Quillmarsh ferry leave?", 4)[0].document == "ferry.md"
    assert keyword_documents(b, "Quillmarsh") == {"ferry.md"}
    # So is a change that keeps the count (a document replaced by one as long).
    ferry.write_text("The Brindlewick ferry leaves the harbour at eight every evening.")
    a.add_files([ferry], progress=False)
    assert a.count() == b.count()
    assert b.retrieve("When does the Brindlewick ferry leave?", 4)[0].document == "ferry.md"
    assert keyword_documents(b, "Brindlewick") == {"ferry.md"} and keyword_documents(b, "Quillmarsh") == set()


def test_a_writer_that_publishes_nothing_is_caught_by_the_count(tmp_path, chroma_url, embed_url, docs):
    """A writer with keywords off leaves the published digest as it was: the count, once it stops moving."""
    a = instance(chroma_url, embed_url, tmp_path / "a", "unpublished")
    b = instance(chroma_url, embed_url, tmp_path / "b", "unpublished")
    a.sync(docs, progress=False)
    b.retrieve("What guarantees does Russia demand?", 4)
    a.hybrid = False
    (docs / "ferry.md").write_text("The Quillmarsh ferry leaves the harbour at seven every morning.")
    a.add_files([docs / "ferry.md"], progress=False)
    b.keyword_watch.recheck = 3600
    b.retrieve("Quillmarsh", 4)
    assert keyword_documents(b, "Quillmarsh") == set()  # within the bound, the keyword half is behind
    b.keyword_watch.recheck = 0
    b.retrieve("Quillmarsh", 4)  # the count is looked at: moved since b's last look, so maybe mid-write
    assert keyword_documents(b, "Quillmarsh") == set()
    assert b.retrieve("When does the Quillmarsh ferry leave?", 4)[0].document == "ferry.md"  # steady: rebuilt
    assert keyword_documents(b, "Quillmarsh") == {"ferry.md"}


def test_serve_instances_share_one_keyword_index_and_see_a_write_at_their_next_query(tmp_path, chroma_url, embed_url, docs):
    """`qa index` writes while two `qa serve` of one machine run: both map the keyword index the indexer saved
    (one copy in the page cache, nothing rebuilt in either), and each one's next search finds the new document."""
    cache = tmp_path / "cache"  # one machine: one cache, so one keyword folder for this server and collection
    env = {"QA_STORE_CHROMA_URL": chroma_url, "QA_EMBED_BASE_URL": embed_url, "XDG_CACHE_HOME": str(cache),
           "QA_LLM_BASE_URL": "http://127.0.0.1:9/v1"}  # fmt: skip  (no model needed: searches only)
    index = lambda path: run_qa("index", path, store_dir=tmp_path / "unused", collection="served", **env)  # noqa: E731
    assert index(str(docs)).returncode == 0

    def search(base: str, query: str) -> list[str]:
        r = httpx.post(f"{base}/search", json={"query": query, "k": 2}, timeout=60)
        r.raise_for_status()
        return [hit["document"] for hit in r.json()["results"]]

    def mapped_versions(base: str) -> set[str]:
        """The keyword index versions the server at `base` has memory-mapped (from /proc/PID/maps)."""
        port = base.split(":")[2].split("/")[0]
        pids = [p.parent.name for p in Path("/proc").glob("[0-9]*/cmdline") if f"--port\0{port}\0".encode() in _read(p)]
        assert len(pids) == 1, pids
        maps = Path(f"/proc/{pids[0]}/maps").read_text()
        return {line.split("/bm25/")[1].split("/")[2] for line in maps.splitlines() if "data.csc.index.npy" in line}

    with contextlib.ExitStack() as stack:
        bases = [stack.enter_context(qa_serve(tmp_path / "unused", "served", tmp_path / f"serve{n}.log", **env))
                 for n in range(2)]  # fmt: skip
        assert all(search(base, "What guarantees does Russia demand?")[0] == SEED for base in bases)
        before = [mapped_versions(base) for base in bases]
        assert before[0] == before[1] and len(before[0]) == 1
        (docs / "ferry.md").write_text("The Quillmarsh ferry leaves the harbour at seven every morning.")
        assert index(str(docs / "ferry.md")).returncode == 0
        assert all(search(base, "When does the Quillmarsh ferry leave?")[0] == "ferry.md" for base in bases)
        after = [mapped_versions(base) - before[0] for base in bases]
        assert after[0] == after[1] and len(after[0]) == 1  # both took up the indexer's new version


def test_two_instances_indexing_one_folder_at_once(tmp_path, chroma_url, embed_url, docs):
    """Two `qa index` processes started together on one folder: every chunk stored once, none lost."""
    paragraphs = [p for p in SEED_FILE.read_text(encoding="utf-8").split("\n") if len(p) > 200]
    for n in range(6):  # more documents, so that the two runs' writes interleave
        (docs / f"part_{n}.txt").write_text("\n\n".join(paragraphs[n:] + paragraphs[:n]), encoding="utf-8")
    env = {"QA_STORE_CHROMA_URL": chroma_url, "QA_EMBED_BASE_URL": embed_url, "QA_EMBED_BATCH_SIZE": "2",
           "QA_EMBED_CONCURRENCY": "2", "QA_STORE_COLLECTION": "together", "XDG_CACHE_HOME": str(tmp_path / "cache")}  # fmt: skip
    cmd = [sys.executable, "-m", "cli", "index", str(docs), "--json"]
    procs = [subprocess.Popen(cmd, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]  # fmt: skip
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]
    reports = [json.loads(out) for out, _ in outs]
    assert reports[0]["chunks"] == reports[1]["chunks"]
    store = instance(chroma_url, embed_url, tmp_path / "check", "together")
    chunks = store.chunks()
    places = [(c.document, c.start) for c in chunks]
    assert len(chunks) == store.count() == reports[0]["chunks"]  # none lost
    assert len(set(places)) == len(places)  # none twice
    # The same chunks one run alone would store.
    alone = instance(chroma_url, embed_url, tmp_path / "alone", "alone")
    alone.sync(docs, progress=False)
    assert {c.id for c in alone.chunks()} == {c.id for c in chunks}


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # a process that ended meanwhile
        return b""
