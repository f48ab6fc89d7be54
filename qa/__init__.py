"""Ask questions of your documents, offline, and get answers with sources you can check.

    import qa
    a = qa.ask("What guarantees does Russia demand?")
    print(a.text, a.sources)

Models are loaded on first use and reused for the life of the process.
"""

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from index import IndexReport, Source, StoreError
from qa.answer import Answer, Sentence
from qa.settings import Settings, get_settings

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

    from qa.service import Event, Pipeline

__all__ = [
    "Answer", "IndexReport", "Sentence", "Settings", "Source", "StoreError",
    "add_files", "ask", "collections", "delete_collection", "get_settings", "index", "pipeline", "stream",
]  # fmt: skip


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
        style=settings.answer_style,
    )


def stream(
    question: str,
    *,
    store_dir: str | Path | None = None,
    collection: str | None = None,
    settings: Settings | None = None,
    llm: "LLM | None" = None,
    history: "Sequence[tuple[str, str]]" = (),
) -> Iterator["Event"]:
    """Yields the retrieved passages (list[Source]), then text as it is generated (str), then the `Answer`.

    `history` holds earlier (question, answer) pairs of a conversation: a follow-up is rewritten to
    stand alone before it is searched.
    """
    s = _settings(settings, store_dir=store_dir, collection=collection)
    yield from pipeline(s, llm).stream(question, history)


def ask(
    question: str,
    *,
    store_dir: str | Path | None = None,
    collection: str | None = None,
    settings: Settings | None = None,
    llm: "LLM | None" = None,
    history: "Sequence[tuple[str, str]]" = (),
) -> Answer:
    """Answer `question` from the indexed documents, with its cited sources."""
    s = _settings(settings, store_dir=store_dir, collection=collection)
    return pipeline(s, llm).ask(question, history)


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
        from index.client import drop_collection

        drop_collection(components.client(s, create=True), s.collection)
        components.forget_stores()
    return components.store(s, create=True).sync(Path(path), s.max_file_bytes, progress=progress)


def add_files(
    files: "list[str | Path]",
    *,
    collection: str | None = None,
    settings: Settings | None = None,
    progress: bool = True,
) -> IndexReport:
    """Add or update these files in the collection (created if new), leaving its other documents alone."""
    from qa import components

    s = _settings(settings, collection=collection)
    return components.store(s, create=True).add_files([Path(f) for f in files], s.max_file_bytes, progress)


def collections(settings: Settings | None = None) -> list[str]:
    """Names of the collections in the store (none when there is no store yet)."""
    from index.client import list_collections
    from index.errors import NoStore
    from qa import components

    try:
        return list_collections(components.client(settings or get_settings()))
    except NoStore:
        return []


def delete_collection(name: str, settings: Settings | None = None) -> bool:
    """Delete a collection and its chunks; False when there was none of that name."""
    from index.client import drop_collection
    from qa import components

    settings = settings or get_settings()
    deleted = drop_collection(components.client(settings), name)
    components.forget_stores()
    return deleted
