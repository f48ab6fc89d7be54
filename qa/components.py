"""Heavy parts shared by everything in one process: the embedding model, language models, open stores.

Loading a model takes seconds and gigabytes, so pipelines built from equal settings share them.
Each cache is keyed on the frozen settings group that shapes its part (`settings.llm` for the
language model, `settings.store` for a store), so a setting added to a group is part of the key
without being listed anywhere. Callers hold what `qa.load` gives them; only this module holds caches.
"""

import atexit
import hashlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from qa.llm import LanguageModel
from qa.settings import EmbedSettings, LLMSettings, Settings, StoreSettings, cache_home

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from index import Store
    from qa.verifier import Verifier

# One lock per cache: loading the language model must not hold up a question being embedded.
_embed_lock, _llm_lock, _store_lock, _verifier_lock = threading.Lock(), threading.Lock(), threading.Lock(), threading.Lock()
_embedders: dict[EmbedSettings, "BaseEmbedding"] = {}
_models: dict[LLMSettings, LanguageModel] = {}
_stores: dict[tuple[StoreSettings, EmbedSettings], "Store"] = {}
_verifiers: dict[int, "Verifier"] = {}


def embedder(settings: EmbedSettings) -> "BaseEmbedding":
    """The bundled embedding model, loaded once even when two threads ask at once; or, with `base_url`, the
    client of an OpenAI-compatible embeddings server."""
    with _embed_lock:
        if settings not in _embedders:
            _embedders.clear()  # one embedding model per process: it is the same weights
            if settings.base_url:
                from index.remote_embedding import RemoteEmbedding

                key = settings.api_key.get_secret_value() if settings.api_key else None
                _embedders[settings] = RemoteEmbedding(
                    base_url=settings.base_url, model_name=settings.model, api_key=key, timeout=settings.timeout,
                    batch_size=settings.batch_size, concurrency=settings.concurrency, retries=settings.retries,
                )  # fmt: skip
            else:
                from index.embedding import load_embedder

                _embedders[settings] = load_embedder(settings.threads, backend=settings.backend, cache_dir=settings.cache_dir)
        return _embedders[settings]


def verifier(threads: int) -> "Verifier":
    """The verifier (qa.verifier), loaded once: it runs after the last token, when the language model's threads are free."""
    from qa.verifier import Verifier

    with _verifier_lock:
        if threads not in _verifiers:
            _verifiers[threads] = Verifier(threads=threads)
        return _verifiers[threads]


def language_model(settings: LLMSettings, progress: bool = True) -> LanguageModel:
    """The backend the settings name (qa.llm), loaded once: the embedded model takes gigabytes."""
    from qa.llm import build

    with _llm_lock:
        if settings not in _models:
            if not _models:
                atexit.register(_close_models)
            _models[settings] = build(settings, progress)
        return _models[settings]


def _close_models() -> None:
    """Free llama.cpp models before interpreter teardown, when their destructor would fail noisily."""
    for model in _models.values():
        model.close()
    _models.clear()


def client(settings: StoreSettings, create: bool = False) -> "ClientAPI":
    """The Chroma client of the settings: embedded, or the server at `chroma_url`."""
    from index.client import connect

    return connect(settings.dir, settings.chroma_url, create=create)


def keyword_dir(settings: StoreSettings) -> Path:
    """Where the BM25 index of the collection is saved: beside an embedded store, or in the cache for a server's."""
    if settings.chroma_url:
        server = hashlib.sha1(settings.chroma_url.encode()).hexdigest()[:12]
        return cache_home() / "bm25" / server / settings.collection
    return settings.dir / "bm25" / settings.collection


def store(settings: Settings, create: bool = False) -> "Store":
    from index import Store

    s = settings.store
    key = (s.model_copy(update={"dir": s.dir.resolve()}), settings.embed)
    with _store_lock:
        if key not in _stores:
            _stores[key] = Store(
                client(s, create),
                s.collection,
                lambda: embedder(settings.embed),
                s.chunk_size,
                s.chunk_overlap,
                create=create,
                hybrid=s.hybrid,
                keyword_dir=keyword_dir(s),
            )
        return _stores[key]


def forget_stores() -> None:
    """Drop open stores (after a collection is deleted or rebuilt)."""
    with _store_lock:
        _stores.clear()
