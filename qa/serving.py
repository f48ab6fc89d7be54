"""Pipelines built from settings (`load`), and what every front end (the web chat, the HTTP API,
the MCP server) shares: one pipeline per collection, and a conversation read from chat messages.

A pipeline holds no model of its own (qa.components shares those), so one per collection is
enough: the number of passages and the answer's style are given per question.
"""

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from qa.settings import Settings, get_settings

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

    from qa.service import Pipeline


def load(settings: Settings | None = None, llm: "LLM | None" = None) -> "Pipeline":
    """The question-answering pipeline over one collection. Pass `llm` to use another language model."""
    from qa import components
    from qa.llm import wrap
    from qa.service import Pipeline

    settings = settings or get_settings()
    store = components.store(settings)
    own = wrap(llm) if llm is not None else None
    return Pipeline(
        store,
        (lambda: own) if own else (lambda: components.language_model(settings.llm)),
        lambda texts: store.embedder.get_text_embedding_batch(texts),
        lambda pairs: components.verifier(settings.embed.threads)(pairs),
        settings.answer,
    )


def conversation(turns: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(question, answer) pairs from chat turns given as (role, text), oldest first.

    A user turn followed by an assistant turn is a pair; other roles (system, tool) are left out,
    and a question without an answer (the one being asked) makes no pair.
    """
    pairs, asked = [], None
    for role, text in turns:
        if role == "user":
            asked = text
        elif role == "assistant" and asked is not None:
            pairs.append((asked, text))
            asked = None
    return pairs


class Pipelines:
    """One pipeline per collection of the store of `settings`, built when first asked for, from any thread.

    `llm` replaces the configured language model (tests pass a fake).
    """

    def __init__(self, settings: Settings, llm: "LLM | None" = None) -> None:
        self.settings, self.llm = settings, llm
        self._pipelines: dict[str, Pipeline] = {}
        self._lock = threading.Lock()

    def get(self, collection: str | None = None) -> "Pipeline":
        """The pipeline of `collection` (default: the settings'); `qa.NoCollection` when the store has none of that name."""
        name = collection or self.settings.store.collection
        with self._lock:
            if name not in self._pipelines:
                self._pipelines[name] = load(self.settings.with_(store={"collection": name}), self.llm)
            return self._pipelines[name]

    def forget(self, collection: str) -> None:
        """Drop the pipeline of `collection` (after its documents changed in another way than through it)."""
        with self._lock:
            self._pipelines.pop(collection, None)
