"""A language model reached through llama-index's chat interface: an OpenAI-compatible server, or any
llama-index LLM passed in. Nothing of the model is kept here, so there is nothing to prefill."""

import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from qa.llm import LLMUnavailable

CHARS_PER_TOKEN = 4.2  # English prose in Qwen's tokenizer, measured on the seed article (as qa.excerpts)

if TYPE_CHECKING:
    from llama_index.core.llms import LLM, ChatMessage

    from qa.settings import LLMSettings


class ChatModel:
    def __init__(self, llm: "LLM", where: str = "") -> None:
        """`where`: the server's address, for error messages; empty for a model given by the caller,
        whose errors are its own and pass through unchanged."""
        self.llm = llm
        self.where = where
        self._lock = threading.Lock()

    @classmethod
    def openai(cls, settings: "LLMSettings") -> "ChatModel":
        try:
            from llama_index.llms.openai_like import OpenAILike
        except ImportError as e:  # pragma: no cover - depends on the installation
            raise ImportError("The OpenAI-compatible backend needs llama-index-llms-openai-like: run `make setup`") from e
        key = settings.api_key.get_secret_value() if settings.api_key else "none"
        llm = OpenAILike(
            model=settings.model, api_base=settings.base_url, api_key=key, is_chat_model=True,
            context_window=settings.context_window, max_tokens=settings.max_new_tokens,
            temperature=settings.temperature, timeout=settings.timeout, max_retries=0,
        )  # fmt: skip
        return cls(llm, settings.base_url or "")

    def stream(self, messages: "Sequence[ChatMessage]") -> Iterator[str]:
        with self._lock:
            if not self.where:
                yield from self._deltas(messages)
                return
            said = False
            try:
                for delta in self._deltas(messages):
                    said = True
                    yield delta
            except Exception as e:  # the client library's errors differ by server and version
                raise LLMUnavailable(
                    f"The language model server at {self.where} did not answer: {type(e).__name__}: "
                    f"{str(e)[:200]}. Check that it is running (QA_LLM_BASE_URL) or raise QA_LLM_TIMEOUT."
                ) from None
            if not said:
                raise LLMUnavailable(
                    f"The language model server at {self.where} did not answer with any text: "
                    "is it an OpenAI-compatible /v1 endpoint (QA_LLM_BASE_URL)?"
                )

    def aside(self, messages: "Sequence[ChatMessage]") -> Iterator[str]:
        return self.stream(messages)

    def prefill(self, messages: "Sequence[ChatMessage]") -> bool:
        return False

    def token_scores(self, messages: "Sequence[ChatMessage]", answer: str, refusal: str) -> dict[str, float]:
        """None from a server. A model given by the caller (a test's fake, an eval replay) may bring its
        own `token_scores(messages, answer)`."""
        own = getattr(self.llm, "token_scores", None)
        return dict(own(messages, answer) or {}) if callable(own) else {}

    def tokens(self, messages: "Sequence[ChatMessage]", answer: str) -> dict[str, int]:
        """An estimate: the server counts its own tokens, and llama-index's stream does not hand them over."""
        read = sum(len(m.content or "") for m in messages)
        return {"prompt": round(read / CHARS_PER_TOKEN), "completion": round(len(answer) / CHARS_PER_TOKEN)}

    def close(self) -> None:
        pass

    def _deltas(self, messages: "Sequence[ChatMessage]") -> Iterator[str]:
        for chunk in self.llm.stream_chat(list(messages)):
            if chunk.delta:
                yield chunk.delta
