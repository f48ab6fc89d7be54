"""Heavy parts, built once per process and shared: the embedding model, the language model, open stores.

Loading the models takes seconds and gigabytes, so every `qa.ask` in a process reuses them.
The caches are keyed by the settings that shape each part, so one process can still query
several stores and collections.
"""

import atexit
import hashlib
import threading
from functools import lru_cache
from typing import TYPE_CHECKING

from qa.llm import Generator, build_llm
from qa.settings import Settings

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from index import Store

_lock = threading.Lock()
_embedder_lock = threading.Lock()  # two threads asking at once (indexing while answering) load it once


def embedder(threads: int) -> "BaseEmbedding":
    with _embedder_lock:
        return _embedder(threads)


@lru_cache(maxsize=1)
def _embedder(threads: int) -> "BaseEmbedding":
    from index.embedding import load_embedder

    return load_embedder(threads)


_LLM_FIELDS = (
    "llm_mode", "llm_model_path", "model_cache_dir", "context_window", "max_new_tokens", "temperature", "threads",
    "llm_base_url", "llm_model", "llm_api_key", "llm_timeout",
)  # fmt: skip
_generators: dict[tuple, Generator] = {}


def generator(settings: Settings, progress: bool = True) -> Generator:
    key = tuple(getattr(settings, f) for f in _LLM_FIELDS)
    with _lock:
        if key not in _generators:
            if not _generators:
                atexit.register(_close_generators)
            where = settings.llm_base_url if settings.llm_mode == "openai" else ""
            _generators[key] = Generator(build_llm(settings, progress), where)
        return _generators[key]


def _close_generators() -> None:
    """Free llama.cpp models before interpreter teardown, when their destructor would fail noisily."""
    for gen in _generators.values():
        model = getattr(gen.llm, "_model", None)
        if model is not None and hasattr(model, "close"):
            model.close()
    _generators.clear()


_stores: dict[tuple, "Store"] = {}


def client(settings: Settings, create: bool = False):
    """The Chroma client of the settings: embedded, or the server at `chroma_url`."""
    from index.client import connect

    return connect(settings.store_dir, settings.chroma_url, create=create)


def store(settings: Settings, create: bool = False) -> "Store":
    from index import Store

    where = settings.chroma_url or settings.store_dir.resolve()
    key = (where, settings.collection, settings.chunk_size, settings.chunk_overlap, settings.hybrid)
    if settings.chroma_url:
        server = hashlib.sha1(settings.chroma_url.encode()).hexdigest()[:12]
        keyword_dir = settings.model_cache_dir.parent / "bm25" / server / settings.collection
    else:
        keyword_dir = settings.store_dir / "bm25" / settings.collection
    with _lock:
        if key not in _stores:
            _stores[key] = Store(
                client(settings, create),
                settings.collection,
                lambda: embedder(settings.threads),
                settings.chunk_size,
                settings.chunk_overlap,
                create=create,
                hybrid=settings.hybrid,
                keyword_dir=keyword_dir,
            )
        return _stores[key]


def forget_stores() -> None:
    """Drop open stores (after a collection is deleted or rebuilt)."""
    with _lock:
        _stores.clear()
