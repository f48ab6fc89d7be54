"""Embeddings from an OpenAI-compatible server (QA_EMBED_BASE_URL): a real one (infinity serving the bundled
MiniLM from its package folder), and broken ones (down, garbage, wrong sizes, transient errors)."""

import json

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings as ChromaSettings

import qa
from bench.servers import free_port
from index.errors import EmbedServerError
from qa import StoreError, components
from qa.settings import Settings
from tests import stores
from tests.conftest import SEEDS
from tests.servers import embeddings, garbage_server, scripted_server


def remote(tmp_path, url: str, collection: str = "remote", **embed) -> Settings:
    return Settings(store={"dir": tmp_path / "store", "collection": collection}, embed={"base_url": url, **embed})


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


# --- a real server --------------------------------------------------------------------------------------


def test_seed_indexed_through_the_server_matches_the_process(tmp_path, embed_url, seed_settings, fake_llm):
    settings = remote(tmp_path, embed_url, batch_size=2, concurrency=3)
    report = qa.index(SEEDS, settings=settings, progress=False)
    assert report.embedded == report.chunks == 8  # 4 requests, 3 at a time
    served = stores.snapshot(settings.store.dir, "remote")
    local = stores.snapshot(seed_settings.store.dir, seed_settings.store.collection)
    # The same chunks (cut with the bundled tokenizer either way), and vectors that agree.
    assert served.keys() == local.keys()
    assert all(served[i][0] == local[i][0] and served[i][1] == local[i][1] for i in served)
    agree = cosines(np.stack([served[i][2] for i in served]), np.stack([local[i][2] for i in served]))
    # The process embeds with int8 weights (the default backend), the server in float32: they agree to the
    # quantisation's error, which depends on the CPU (min 0.9895 where onnxruntime has AVX2 and no VNNI,
    # above 0.99 with AVX-512). Another model's vectors are far off (cosines well under 0.9).
    assert agree.min() >= 0.98, agree.min()
    # The question is embedded by the server too, and the answer is the one the process gives.
    pipeline = qa.load(settings, fake_llm)
    assert type(qa.open_store(settings).embedder).__name__ == "RemoteEmbedding"
    answer = pipeline.ask("What guarantees does Russia demand?")
    assert not answer.refused and "Grushko" in answer.sources[0].text
    in_process = qa.load(seed_settings, fake_llm).retrieve("What guarantees does Russia demand?")
    assert [s.id for s in answer.sources[:1]] == [in_process[0].id]


def test_store_built_in_the_process_is_queried_through_the_server_and_back(tmp_path, embed_url, seed_settings, fake_llm):
    """Same model, other place: accepted both ways (a store built on a GPU server is queried on a laptop)."""
    through = seed_settings.with_(embed={"base_url": embed_url})
    assert not qa.ask("What guarantees does Russia demand?", settings=through, llm=fake_llm).refused
    settings = remote(tmp_path, embed_url)
    qa.index(SEEDS, settings=settings, progress=False)
    local = settings.with_(embed={"base_url": None})
    assert not qa.ask("What guarantees does Russia demand?", settings=local, llm=fake_llm).refused


def test_interrupted_ingest_resumes_without_embedding_again(tmp_path, embed_url):
    settings = remote(tmp_path, embed_url, batch_size=2, concurrency=1)  # 2 chunks written per step
    store = qa.open_store(settings, create=True)

    class Stop(Exception):
        pass

    def stop(point: str, done: int, total: int) -> None:
        if point == "written":
            raise Stop

    with pytest.raises(Stop):
        store.sync(SEEDS, progress=False, checkpoint=stop)
    assert store.count() == 2
    again = store.sync(SEEDS, progress=False)
    assert again.embedded == again.chunks - 2 == 6 and store.count() == again.chunks


def collection_of_another_model(path, dim: int, name: str) -> None:
    """A collection recorded as built by another model: its name, dimension and fingerprint."""
    client = chromadb.PersistentClient(str(path), settings=ChromaSettings(anonymized_telemetry=False))
    rng = np.random.default_rng(dim)
    meta = {"hnsw:space": "cosine", "chunk_size": 128, "chunk_overlap": 16, "embed_model": name, "embed_dim": dim,
            "embed_fingerprint": json.dumps(rng.normal(size=(3, dim)).round(5).tolist())}  # fmt: skip
    other = client.create_collection("other", metadata=meta)
    other.add(ids=["x"], embeddings=[rng.normal(size=dim).tolist()], documents=["Made by another model."],
              metadatas=[{"document": "x.txt", "start": 0, "end": 21}])  # fmt: skip


@pytest.mark.parametrize("dim, why", [(768, "768 dimensions.*gives 384-dimension vectors"), (384, "384 dimensions.*similarity")])
def test_store_of_another_model_is_refused_with_the_fix(tmp_path, embed_url, fake_llm, dim, why):
    collection_of_another_model(tmp_path / "store", dim, "bge-base-en-v1.5")
    for settings in (remote(tmp_path, embed_url, collection="other"), remote(tmp_path, None, collection="other")):
        for act in (lambda: qa.index(SEEDS, settings=settings, progress=False),
                    lambda: qa.ask("What guarantees does Russia demand?", settings=settings, llm=fake_llm)):  # fmt: skip
            with pytest.raises(StoreError, match=rf"'bge-base-en-v1.5' \({why}.*--rebuild"):
                act()
        components.forget_stores()
    assert stores.snapshot(tmp_path / "store", "other").keys() == {"x"}  # nothing mixed in
    out = stores.run_qa("index", str(SEEDS), store_dir=tmp_path / "store", collection="other", QA_EMBED_BASE_URL=embed_url)
    assert "--rebuild" in stores.one_line_error(out)


# --- broken servers -------------------------------------------------------------------------------------


def test_server_down_is_one_line(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(EmbedServerError, match="did not answer.*unset QA_EMBED_BASE_URL"):
        qa.index(SEEDS, settings=remote(tmp_path, url, retries=1), progress=False)
    out = stores.qa_main("index", str(SEEDS), store_dir=tmp_path / "store", collection="down",
                         QA_EMBED_BASE_URL=url, QA_EMBED_RETRIES="0")  # fmt: skip
    assert url in stores.one_line_error(out)


def test_server_that_does_not_speak_the_api_is_one_line(tmp_path):
    with garbage_server() as url:
        out = stores.qa_main("index", str(SEEDS), store_dir=tmp_path / "store", collection="garbage", QA_EMBED_BASE_URL=url)
    assert "not answer as an OpenAI-compatible embeddings API" in stores.one_line_error(out)


def test_vectors_of_the_wrong_size_are_refused(tmp_path, seed_settings, fake_llm):
    """A server of 3-number vectors against the seed store (384): refused before anything is written or searched."""
    with scripted_server(lambda body, n: (200, embeddings(body["input"], dim=3))) as (url, _):
        settings = seed_settings.with_(embed={"base_url": url})
        with pytest.raises(StoreError, match="gives 3-dimension vectors.*--rebuild"):
            qa.ask("What guarantees does Russia demand?", settings=settings, llm=fake_llm)
    one_short = lambda body, n: (200, embeddings(body["input"][1:]))  # noqa: E731
    mixed = lambda body, n: (200, embeddings(body["input"], dim=384 if n == 0 else 383))  # noqa: E731
    for answer, why in ((one_short, "vectors for"), (mixed, "sizes")):
        with scripted_server(answer) as (url, _):
            with pytest.raises(EmbedServerError, match=why):
                qa.index(SEEDS, settings=remote(tmp_path, url, collection=f"bad-{why[0]}", batch_size=4), progress=False)


def test_transient_errors_are_retried(tmp_path):
    """503, 429 and 500, then good answers: the ingest completes and every batch is written once."""
    fail = {0: 503, 1: 429, 2: 500}

    def answer(body, n):
        return (fail[n], {"error": "busy"}) if n in fail else (200, embeddings(body["input"]))

    with scripted_server(answer) as (url, seen):
        settings = remote(tmp_path, url, batch_size=16, concurrency=1)
        report = qa.index(SEEDS, settings=settings, progress=False)
    assert report.embedded == report.chunks
    assert len(seen) == 3 + 1 + -(-report.chunks // 16)  # three failures, the fingerprint, each batch once
    assert qa.open_store(settings).count() == report.chunks


def test_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("QA_EMBED_BASE_URL", "http://gpu:7997/v1")
    monkeypatch.setenv("QA_EMBED_API_KEY", "k")
    monkeypatch.setenv("QA_EMBED_CONCURRENCY", "8")
    e = qa.get_settings().embed
    assert (e.base_url, e.api_key.get_secret_value(), e.concurrency) == ("http://gpu:7997/v1", "k", 8)
    monkeypatch.setenv("QA_EMBED_BASE_URL", "")  # set empty: the model in the process
    assert qa.get_settings().embed.base_url is None
    monkeypatch.setenv("QA_EMBED_BASE_URL", "gpu:7997")
    with pytest.raises(Exception, match="http://HOST:PORT"):
        qa.get_settings()
