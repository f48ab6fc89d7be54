"""Language model backends, built from settings. Heavy imports happen only when a backend is built."""

import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llama_index.core.llms import LLM, ChatMessage

    from qa.settings import LLMSettings

STOP = "<|im_end|>"


def chatml(messages: "Sequence[ChatMessage]") -> str:
    """Qwen's ChatML. llama-index's LlamaCPP ignores the template stored in the GGUF file."""
    turns = [f"<|im_start|>{m.role.value}\n{m.content}<|im_end|>\n" for m in messages]
    return "".join(turns) + "<|im_start|>assistant\n"


def _completion_to_prompt(text: str) -> str:
    return f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"


class LLMUnavailable(Exception):
    """The language model server failed to answer (down, too slow, or talking nonsense)."""


def build_llm(settings: "LLMSettings", progress: bool = True) -> "LLM":
    if settings.mode == "openai":
        return _openai(settings)
    return _llamacpp(settings, progress)


def _openai(settings: "LLMSettings") -> "LLM":
    try:
        from llama_index.llms.openai_like import OpenAILike
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise ImportError("The OpenAI-compatible backend needs llama-index-llms-openai-like: run `make setup`") from e
    key = settings.api_key.get_secret_value() if settings.api_key else "none"
    return OpenAILike(
        model=settings.model,
        api_base=settings.base_url,
        api_key=key,
        is_chat_model=True,
        context_window=settings.context_window,
        max_tokens=settings.max_new_tokens,
        temperature=settings.temperature,
        timeout=settings.timeout,
        max_retries=0,
    )


def _llamacpp(settings: "LLMSettings", progress: bool) -> "LLM":
    from qa.cpu import check_cpu
    from qa.model_file import resolve_model

    path = resolve_model(settings.model_path, settings.cache_dir, progress)
    check_cpu()
    try:
        from llama_index.llms.llama_cpp import LlamaCPP
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise ImportError("llama-cpp-python is not installed: run `make setup`") from e
    return LlamaCPP(
        model_path=str(path),
        temperature=settings.temperature,
        max_new_tokens=settings.max_new_tokens,
        context_window=settings.context_window,
        generate_kwargs={"stop": [STOP], "top_k": 1},
        # Both thread counts set: llama.cpp reads prompts with n_threads_batch, which otherwise defaults to
        # every core. n_batch, flash_attn and larger batches were measured and left at their defaults
        # (eval/llama_tuning.py, docs/performance.md); logits_all stays off.
        model_kwargs={"n_threads": settings.threads, "n_threads_batch": settings.threads, "n_gpu_layers": 0},
        messages_to_prompt=chatml,
        completion_to_prompt=_completion_to_prompt,
        verbose=False,
    )


class Generator:
    """Serialises use of one model: llama.cpp contexts are not thread-safe.

    Callers from several threads (browser tabs) wait their turn instead of crossing answers.
    """

    def __init__(self, llm: "LLM", where: str = "") -> None:
        self.llm = llm
        self.where = where  # the server's address, for error messages
        self._lock = threading.Lock()
        self._prefix: tuple[bytes, list[int]] | None = None  # the prefilled instructions' llama.cpp state
        self._written = _keep_written(llm) if self._llama() is not None else None

    def stream(self, messages: "Sequence[ChatMessage]") -> Iterator[str]:
        with self._lock:
            if self._written is not None:
                self._written.reset()
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

    def prefill(self, messages: "Sequence[ChatMessage]") -> bool:
        """Have the embedded model read the start of a prompt now; False for a server (nothing kept here).

        llama.cpp keeps what it last read and re-reads a new prompt only from where the two differ,
        so a prompt that begins the same way (the instructions) starts that much later on the CPU.
        """
        model = self._llama()
        if model is None:
            return False
        with self._lock:
            prompt = chatml(messages)
            model.create_completion(prompt, max_tokens=1, temperature=0.0, top_k=1)
            self._prefix = _save_prefix(model, len(model.tokenize(prompt.encode(), special=True)))
        return True

    def aside(self, messages: "Sequence[ChatMessage]") -> Iterator[str]:
        """Like `stream`, for a prompt that is not an answer (the follow-up rewrite): the prefilled
        instructions are put back afterwards, so the next answer does not read them again."""
        yield from self.stream(messages)
        self.restore()

    def restore(self) -> bool:
        """Put the context back to holding only the prefilled instructions; False when there are none."""
        model = self._llama()
        if model is None or self._prefix is None:
            return False
        with self._lock:
            _load_prefix(model, self._prefix)
        return True

    def token_scores(self, messages: "Sequence[ChatMessage]", answer: str, refusal: str) -> dict[str, float]:
        """How sure the model was of its own `answer` to `messages`, from its token log-probabilities
        (qa.scoring); empty when it gives none (a server).

        A stand-in model (a test's fake, an eval replay) may bring its own `token_scores(messages, answer)`.
        """
        own = getattr(self.llm, "token_scores", None)
        if callable(own):
            return dict(own(messages, answer) or {})
        from qa.scoring import token_scores

        model = self._llama()
        if model is None:
            return {}
        with self._lock:
            return token_scores(model, chatml(messages), answer, refusal, self._written)

    def _llama(self):
        """The llama.cpp object of an embedded model; None for a server."""
        model = getattr(self.llm, "_model", None)
        return None if self.where or model is None or not hasattr(model, "create_completion") else model

    def _deltas(self, messages: "Sequence[ChatMessage]") -> Iterator[str]:
        for chunk in self.llm.stream_chat(list(messages)):
            if chunk.delta:
                yield chunk.delta


def _keep_written(llm: "LLM"):
    """Have llama.cpp hand each written token's logits to a `qa.scoring.Written` (the answerhood check's
    token scores, kept while writing instead of read again afterwards); None when it cannot."""
    kwargs = getattr(llm, "generate_kwargs", None)
    if not isinstance(kwargs, dict):
        return None
    from llama_cpp import LogitsProcessorList

    from qa.scoring import Written

    written = Written()
    kwargs["logits_processor"] = LogitsProcessorList([written])
    return written


def _save_prefix(model, n_tokens: int) -> tuple[bytes, list[int]]:
    """The context's state (its key/value cache) and the tokens it holds, cut to the first `n_tokens`.

    llama-cpp-python's own `save_state` also copies its whole logits buffer (about 300 MB for this
    model's vocabulary); the cache of a short prefix is a few megabytes.
    """
    import ctypes

    import llama_cpp

    model._ctx.kv_cache_seq_rm(-1, n_tokens, -1)
    tokens = list(model.input_ids[:n_tokens])
    model.n_tokens = n_tokens
    size = llama_cpp.llama_state_get_size(model._ctx.ctx)
    buffer = (ctypes.c_uint8 * size)()
    used = llama_cpp.llama_state_get_data(model._ctx.ctx, buffer, size)
    return ctypes.string_at(buffer, used), tokens


def _load_prefix(model, saved: tuple[bytes, list[int]]) -> None:
    import ctypes

    import llama_cpp

    data, tokens = saved
    buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
    if llama_cpp.llama_state_set_data(model._ctx.ctx, buffer, len(data)) != len(data):
        model.reset()  # the state did not fit: read the prompt from the start next time, as without it
        return
    model.input_ids[: len(tokens)] = tokens
    model.n_tokens = len(tokens)
