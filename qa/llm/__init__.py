"""The language model behind one small interface, with two backends chosen by `QA_LLM_MODE`:

- `qa.llm.llamacpp.LlamaCpp`: the bundled GGUF model in this process (llama-cpp-python). It alone
  keeps what llama.cpp has read (the instructions, prefilled) and reads its own token scores.
- `qa.llm.server.ChatModel`: any llama-index chat LLM: an OpenAI-compatible server (Ollama, vLLM,
  llama.cpp's server), or one passed to `qa.load` (a test's fake, an eval replay).

The pipeline (qa.service) sees only `LanguageModel`. Heavy imports happen when a backend is built.
"""

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from llama_index.core.llms import LLM, ChatMessage

    from qa.settings import LLMSettings


class LLMUnavailable(Exception):
    """The language model server failed to answer (down, too slow, or talking nonsense)."""


class LanguageModel(Protocol):
    """One model, used by one caller at a time: callers from several threads (browser tabs) wait their turn."""

    def stream(self, messages: "Sequence[ChatMessage]") -> Iterator[str]:
        """The answer's text as it is written."""

    def aside(self, messages: "Sequence[ChatMessage]") -> Iterator[str]:
        """Like `stream`, for a prompt that is not an answer (the follow-up rewrite): what was prefilled stays."""

    def prefill(self, messages: "Sequence[ChatMessage]") -> bool:
        """Read the start of every prompt now (the instructions); False when this backend keeps nothing."""

    def token_scores(self, messages: "Sequence[ChatMessage]", answer: str, refusal: str) -> dict[str, float]:
        """How sure the model was of its `answer` (qa.llm.scores); empty when it cannot tell (a server)."""

    def tokens(self, messages: "Sequence[ChatMessage]", answer: str) -> dict[str, int]:
        """How many tokens the model read ("prompt") and wrote ("completion") for `answer` to `messages`."""

    def close(self) -> None:
        """Free the model's memory (at exit)."""


def build(settings: "LLMSettings", progress: bool = True) -> LanguageModel:
    """The backend `settings.mode` names."""
    if settings.mode == "openai":
        from qa.llm.server import ChatModel

        return ChatModel.openai(settings)
    from qa.llm.llamacpp import LlamaCpp

    return LlamaCpp.load(settings, progress)


def wrap(llm: "LLM") -> LanguageModel:
    """A llama-index LLM given by the caller (a test's fake, an eval replay) as a `LanguageModel`."""
    from qa.llm.server import ChatModel

    return ChatModel(llm)
