"""Ask questions of your documents, offline, and get answers with sources you can check.

    import qa
    a = qa.ask("What guarantees does Russia demand?")
    print(a.text, a.sources)

Models are loaded on first use and reused for the life of the process.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from index import IndexReport, Source, StoreError
from qa.answer import Answer, Sentence
from qa.settings import Settings, get_settings

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

    from qa.service import Event, Pipeline

__all__ = ["Answer", "IndexReport", "Sentence", "Settings", "Source", "StoreError", "ask", "get_settings", "index", "pipeline", "stream"]


def _settings(settings: Settings | None, **overrides) -> Settings:
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if settings is None:
        return get_settings(**overrides)
    return settings.model_copy(update=overrides) if overrides else settings


def pipeline(settings: Settings | None = None, llm: "LLM | None" = None) -> "Pipeline":
    """The question-answering pipeline over one collection. Pass `llm` to use another language model."""
    from qa import components
    from qa.llm import Generator
    from qa.service import Pipeline

    settings = settings or get_settings()
    own = Generator(llm) if llm is not None else None
    return Pipeline(
        components.store(settings),
        (lambda: own) if own else (lambda: components.generator(settings)),
        top_k=settings.top_k,
        min_score=settings.min_score,
    )


def stream(
    question: str,
    *,
    store_dir: str | Path | None = None,
    collection: str | None = None,
    settings: Settings | None = None,
    llm: "LLM | None" = None,
) -> Iterator["Event"]:
    """Yields the retrieved passages (list[Source]), then text as it is generated (str), then the `Answer`."""
    s = _settings(settings, store_dir=store_dir, collection=collection)
    yield from pipeline(s, llm).stream(question)


def ask(
    question: str,
    *,
    store_dir: str | Path | None = None,
    collection: str | None = None,
    settings: Settings | None = None,
    llm: "LLM | None" = None,
) -> Answer:
    """Answer `question` from the indexed documents, with its cited sources."""
    s = _settings(settings, store_dir=store_dir, collection=collection)
    return pipeline(s, llm).ask(question)


def index(
    path: str | Path,
    *,
    store_dir: str | Path | None = None,
    collection: str | None = None,
    settings: Settings | None = None,
    rebuild: bool = False,
    progress: bool = True,
) -> IndexReport:
    """Make the collection hold exactly the documents under `path` (incremental by content hash)."""
    from qa import components

    s = _settings(settings, store_dir=store_dir, collection=collection)
    if rebuild:
        from index.store import drop_collection

        drop_collection(s.store_dir, s.collection)
        components.forget_stores()
    return components.store(s, create=True).sync(Path(path), s.max_file_bytes, progress=progress)
