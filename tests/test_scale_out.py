"""The same product over a real `chroma run` server and a real OpenAI-compatible server (llama.cpp's)."""

import os
import subprocess
import sys
import time

import pytest

import qa
from index import StoreError
from qa.model_file import bundled_model
from qa.settings import Settings
from tests.servers import chroma_server, free_port, garbage_server, llama_server, silent_server


def test_index_and_ask_through_a_chroma_server(tmp_path, docs, fake_llm):
    with chroma_server(tmp_path / "server-store") as url:
        settings = Settings(chroma_url=url, collection="served")
        first = qa.index(docs, settings=settings, progress=False)
        assert first.added == 1 and first.embedded == first.chunks > 1
        (docs / "extra.md").write_text("The observers would report to the OSCE every week.")
        again = qa.index(docs, settings=settings, progress=False)
        assert (again.unchanged, again.added, again.embedded) == (1, 1, 1)
        (docs / "extra.md").unlink()
        assert qa.index(docs, settings=settings, progress=False).removed == 1
        store = qa.pipeline(settings, fake_llm).store
        assert {c.document for c in store.chunks()} == {"000_794d345c1f52b2db.txt"}
        assert store.count() == first.chunks
        answer = qa.ask("What guarantees does Russia demand?", settings=settings, llm=fake_llm)
        assert not answer.refused and "Grushko" in answer.sources[0].text
        assert "served" in qa.collections(settings)
    # The data lives in the server's folder, not in a local store.
    assert (tmp_path / "server-store" / "chroma.sqlite3").exists()


def test_unreachable_chroma_server_is_a_clear_error():
    settings = Settings(chroma_url=f"http://127.0.0.1:{free_port()}", collection="x")
    with pytest.raises(StoreError, match="chroma run"):
        qa.ask("anything", settings=settings)


@pytest.mark.llm
def test_ask_through_an_openai_compatible_server(seed_settings):
    model = bundled_model(Settings().model_cache_dir, progress=False)
    with llama_server(model) as base_url:
        settings = seed_settings.model_copy(update={"llm_base_url": base_url, "llm_mode": "openai", "llm_model": "qwen"})
        events = list(qa.stream("What guarantees does Russia demand?", settings=settings))
        answer = events[-1]
        assert sum(isinstance(e, str) for e in events) > 3  # streamed
        assert answer.error is None and not answer.refused
        assert "neutral" in answer.text.lower() and any("Grushko" in s.text for s in answer.sources)


@pytest.mark.parametrize("server", [silent_server, garbage_server])
def test_broken_llm_server_gives_a_message_and_the_sources(seed_settings, server):
    with server() as base_url:
        settings = seed_settings.model_copy(update={"llm_base_url": base_url, "llm_mode": "openai", "llm_timeout": 3})
        t0 = time.monotonic()
        answer = qa.ask("What guarantees does Russia demand?", settings=settings)
        assert time.monotonic() - t0 < 30
    assert answer.error and base_url in answer.error and answer.passages and answer.sources == []


def test_llm_server_down_cli_says_so_without_traceback(seed_settings):
    env = {
        **os.environ,
        "QA_STORE_DIR": str(seed_settings.store_dir),
        "QA_COLLECTION": seed_settings.collection,
        "QA_LLM_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
        "QA_LLM_TIMEOUT": "5",
    }
    out = subprocess.run(
        [sys.executable, "-m", "qa.cli", "ask", "What guarantees does Russia demand?"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert out.returncode == 1
    assert "did not answer" in out.stderr and "found: 000_794d345c1f52b2db.txt" in out.stderr
    assert "Traceback" not in out.stderr


def test_watch_keeps_the_collection_in_step_with_the_folder(settings, docs, fake_llm):
    env = {**os.environ, "QA_STORE_DIR": str(settings.store_dir), "QA_COLLECTION": settings.collection}
    cmd = [sys.executable, "-m", "qa.cli", "index", str(docs), "--watch", "--interval", "0.3"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def documents() -> set[str]:
        try:
            return {c.document for c in qa.pipeline(settings, fake_llm).store.chunks()}
        except StoreError:
            return set()

    def until(expected: set[str]) -> set[str]:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and documents() != expected:
            time.sleep(0.5)
        return documents()

    try:
        assert until({"000_794d345c1f52b2db.txt"}) == {"000_794d345c1f52b2db.txt"}
        (docs / "late.md").write_text("A note added while watching: the ferry strike ended on Friday.")
        assert until({"000_794d345c1f52b2db.txt", "late.md"}) == {"000_794d345c1f52b2db.txt", "late.md"}
        (docs / "000_794d345c1f52b2db.txt").unlink()
        assert until({"late.md"}) == {"late.md"}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
