"""The same product over a real `chroma run` server and a real OpenAI-compatible server (llama.cpp's)."""

import json
import os
import queue
import subprocess
import sys
import threading
import time

import pytest

import qa
from bench.servers import chroma_server, free_port, llama_server
from index import StoreError
from qa.model_file import bundled_model
from qa.settings import Settings
from tests import stores
from tests.servers import garbage_server, silent_server


def test_index_and_ask_through_a_chroma_server(tmp_path, docs, fake_llm):
    with chroma_server(tmp_path / "server-store") as url:
        settings = Settings(store={"chroma_url": url, "collection": "served"})
        first = qa.index(docs, settings=settings, progress=False)
        assert first.added == 1 and first.embedded == first.chunks > 1
        (docs / "extra.md").write_text("The observers would report to the OSCE every week.")
        again = qa.index(docs, settings=settings, progress=False)
        assert (again.unchanged, again.added, again.embedded) == (1, 1, 1)
        (docs / "extra.md").unlink()
        assert qa.index(docs, settings=settings, progress=False).removed == 1
        store = qa.open_store(settings)
        assert {c.document for c in store.chunks()} == {"000_794d345c1f52b2db.txt"}
        assert store.count() == first.chunks
        answer = qa.ask("What guarantees does Russia demand?", settings=settings, llm=fake_llm)
        assert not answer.refused and "Grushko" in answer.sources[0].text
        assert "served" in qa.collections(settings)
    # The data lives in the server's folder, not in a local store.
    assert (tmp_path / "server-store" / "chroma.sqlite3").exists()


def test_unreachable_chroma_server_is_a_clear_error():
    settings = Settings(store={"chroma_url": f"http://127.0.0.1:{free_port()}", "collection": "x"})
    with pytest.raises(StoreError, match="chroma run"):
        qa.ask("anything", settings=settings)


@pytest.mark.llm
def test_ask_through_an_openai_compatible_server(seed_settings):
    model = bundled_model(Settings().llm.cache_dir, progress=False)
    with llama_server(model) as base_url:
        settings = seed_settings.with_(llm={"base_url": base_url, "mode": "openai", "model": "qwen"})
        events = list(qa.stream("What guarantees does Russia demand?", settings=settings))
        answer = events[-1]
        assert sum(isinstance(e, str) for e in events) > 3  # streamed
        assert answer.error is None and not answer.refused
        assert "neutral" in answer.text.lower() and any("Grushko" in s.text for s in answer.sources)
        # The answerhood check needs no log-probabilities from the server: the verifier runs in this process.
        assert answer.check.method == "verifier" and answer.check.passed


@pytest.mark.parametrize("server", [silent_server, garbage_server])
def test_broken_llm_server_gives_a_message_and_the_sources(seed_settings, server):
    with server() as base_url:
        settings = seed_settings.with_(llm={"base_url": base_url, "mode": "openai", "timeout": 3})
        t0 = time.monotonic()
        answer = qa.ask("What guarantees does Russia demand?", settings=settings)
        assert time.monotonic() - t0 < 30
    assert answer.error and base_url in answer.error and answer.passages and answer.sources == []


def test_llm_server_down_cli_says_so_without_traceback(seed_settings):
    out = stores.qa_main("ask", "What guarantees does Russia demand?", store_dir=seed_settings.store.dir,
                         collection=seed_settings.store.collection, QA_LLM_BASE_URL=f"http://127.0.0.1:{free_port()}/v1",
                         QA_LLM_TIMEOUT="5")  # fmt: skip
    assert out.returncode == 1
    assert "did not answer" in out.stderr and "found: 000_794d345c1f52b2db.txt" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_watch_keeps_the_collection_in_step_with_the_folder(settings, docs):
    """Synchronised on the watcher's own events: each sync prints one JSON line when its writes are done."""
    env = {**os.environ, "QA_STORE_DIR": str(settings.store.dir), "QA_STORE_COLLECTION": settings.store.collection}
    cmd = [sys.executable, "-m", "cli", "index", str(docs), "--watch", "--json", "--interval", "0.3"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    synced: queue.Queue[dict] = queue.Queue()
    threading.Thread(target=lambda: [synced.put(json.loads(line)) for line in proc.stdout], daemon=True).start()

    def next_sync() -> dict:
        try:
            return synced.get(timeout=600)  # a bound so nothing hangs; the wait ends at the watcher's line
        except queue.Empty:
            pytest.fail(f"the watcher reported no sync (exit code {proc.poll()})")

    def documents() -> set[str]:
        return {m["document"] for _, m, _ in stores.snapshot(settings.store.dir, settings.store.collection).values()}

    def put(name: str, text: str) -> None:
        """Written beside the folder and moved in: the watcher never sees a half-written file."""
        tmp = docs.parent / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, docs / name)

    try:
        assert next_sync()["added"] == 1 and documents() == {"000_794d345c1f52b2db.txt"}
        put("late.md", "A note added while watching: the ferry strike ended on Friday.")
        assert next_sync()["added"] == 1
        assert documents() == {"000_794d345c1f52b2db.txt", "late.md"}
        (docs / "000_794d345c1f52b2db.txt").unlink()
        assert next_sync()["removed"] == 1
        assert documents() == {"late.md"}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
