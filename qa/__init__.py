"""Ask questions of your documents, offline, and get answers with sources you can check.

    import qa
    a = qa.ask("What guarantees does Russia demand?")
    print(a.text, a.sources)

`qa.load(settings)` gives a `Pipeline` to hold and ask many questions; the models it loads are
shared by every pipeline of the process.
"""

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from index import IndexReport, Source
from qa.answer import Answer, Check, Sentence, highlight_segments
from qa.errors import NoCollection, QuestionError, StoreError, UserError
from qa.service import clean_question
from qa.serving import Pipelines, conversation, load
from qa.settings import AnswerStyle, Settings, get_settings

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

    from index import Store
    from qa.service import Event

__all__ = [
    "Answer", "AnswerStyle", "Check", "IndexReport", "NoCollection", "Pipelines", "QuestionError", "Sentence", "Settings",
    "Source", "StoreError", "UserError", "add_files", "ask", "clean_question", "collections", "conversation",
    "delete_collection", "get_settings", "highlight_segments", "index", "load", "open_store", "stream",
]  # fmt: skip


def _settings(settings: Settings | None, store_dir: str | Path | None, collection: str | None) -> Settings:
    where = {k: v for k, v in (("dir", store_dir), ("collection", collection)) if v is not None}
    settings = settings or get_settings()
    return settings.with_(store=where) if where else settings


def open_store(settings: Settings | None = None, create: bool = False) -> "Store":
    """The collection's store itself: its documents and chunks, and search without the language model."""
    from qa import components

    return components.store(settings or get_settings(), create=create)


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
    yield from load(_settings(settings, store_dir, collection), llm).stream(question, history)


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
    return load(_settings(settings, store_dir, collection), llm).ask(question, history)


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

    s = _settings(settings, store_dir, collection)
    if rebuild:
        from index.client import drop_collection

        drop_collection(components.client(s.store, create=True), s.store.collection)
        components.forget_stores()
    return components.store(s, create=True).sync(Path(path), s.store.max_file_bytes, progress=progress)


def add_files(
    files: "list[str | Path]",
    *,
    collection: str | None = None,
    settings: Settings | None = None,
    progress: bool = True,
) -> IndexReport:
    """Add or update these files in the collection (created if new), leaving its other documents alone."""
    from qa import components

    s = _settings(settings, None, collection)
    return components.store(s, create=True).add_files([Path(f) for f in files], s.store.max_file_bytes, progress)


def collections(settings: Settings | None = None) -> list[str]:
    """Names of the collections in the store (none when there is no store yet)."""
    from index.client import list_collections
    from index.errors import NoStore
    from qa import components

    try:
        return list_collections(components.client((settings or get_settings()).store))
    except NoStore:
        return []


def delete_collection(name: str, settings: Settings | None = None) -> bool:
    """Delete a collection and its chunks; False when there was none of that name."""
    from index.client import drop_collection
    from qa import components

    deleted = drop_collection(components.client((settings or get_settings()).store), name)
    components.forget_stores()
    return deleted
