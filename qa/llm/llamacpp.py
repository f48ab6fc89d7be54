"""The bundled GGUF model in this process, through llama-cpp-python: the one place that knows llama.cpp.

It keeps the instructions read (prefilled) between answers, and the logits of what it writes for the
answerhood check's token scores (qa.llm.scores). Everything here is used by one caller at a time:
llama.cpp contexts are not thread-safe.
"""

import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from qa.llm.scores import Written, token_scores

if TYPE_CHECKING:
    from llama_cpp import Llama
    from llama_index.core.llms import ChatMessage

    from qa.settings import LLMSettings

STOP = "<|im_end|>"


def chatml(messages: "Sequence[ChatMessage]") -> str:
    """Qwen's ChatML, as the bundled model was trained to read it."""
    turns = [f"<|im_start|>{m.role.value}\n{m.content}<|im_end|>\n" for m in messages]
    return "".join(turns) + "<|im_start|>assistant\n"


class LlamaCpp:
    def __init__(self, llama: "Llama", settings: "LLMSettings") -> None:
        self.llama = llama  # llama-cpp-python's model: public for benchmarks that compare against it
        self._generate = {"max_tokens": settings.max_new_tokens, "temperature": settings.temperature, "top_k": 1,
                          "stop": [STOP]}  # fmt: skip
        self._lock = threading.Lock()
        self._prefix: tuple[bytes, list[int]] | None = None  # the prefilled instructions' llama.cpp state
        self._written = Written()

    @classmethod
    def load(cls, settings: "LLMSettings", progress: bool = True) -> "LlamaCpp":
        from qa.cpu import check_cpu
        from qa.model_file import resolve_model

        path = resolve_model(settings.model_path, settings.cache_dir, progress)
        check_cpu()
        try:
            from llama_cpp import Llama
        except ImportError as e:  # pragma: no cover - depends on the installation
            raise ImportError("llama-cpp-python is not installed: run `make setup`") from e
        # Both thread counts set: llama.cpp reads prompts with n_threads_batch, which otherwise defaults to
        # every core. n_batch, flash_attn and larger batches were measured and left at their defaults
        # (bench/llama_tuning.py, docs/performance.md); logits_all stays off.
        llama = Llama(model_path=str(path), n_ctx=settings.context_window, n_threads=settings.threads,
                      n_threads_batch=settings.threads, n_gpu_layers=0, verbose=False)  # fmt: skip
        return cls(llama, settings)

    def stream(self, messages: "Sequence[ChatMessage]") -> Iterator[str]:
        from llama_cpp import LogitsProcessorList

        with self._lock:
            self._written.reset()
            written = LogitsProcessorList([self._written])  # keeps each token's logits, changes none
            for chunk in self.llama.create_completion(chatml(messages), stream=True, logits_processor=written, **self._generate):
                if text := chunk["choices"][0]["text"]:
                    yield text

    def prefill(self, messages: "Sequence[ChatMessage]") -> bool:
        """Have the model read the start of a prompt now.

        llama.cpp keeps what it last read and re-reads a new prompt only from where the two differ,
        so a prompt that begins the same way (the instructions) starts that much later on the CPU.
        """
        with self._lock:
            prompt = chatml(messages)
            self.llama.create_completion(prompt, max_tokens=1, temperature=0.0, top_k=1)
            self._prefix = _save_prefix(self.llama, len(self.llama.tokenize(prompt.encode(), special=True)))
        return True

    def aside(self, messages: "Sequence[ChatMessage]") -> Iterator[str]:
        """The prefilled instructions are put back afterwards, so the next answer does not read them again."""
        yield from self.stream(messages)
        self.restore()

    def restore(self) -> bool:
        """Put the context back to holding only the prefilled instructions; False when there are none."""
        if self._prefix is None:
            return False
        with self._lock:
            _load_prefix(self.llama, self._prefix)
        return True

    def token_scores(self, messages: "Sequence[ChatMessage]", answer: str, refusal: str) -> dict[str, float]:
        with self._lock:
            return token_scores(self.llama, chatml(messages), answer, refusal, self._written)

    def tokens(self, messages: "Sequence[ChatMessage]", answer: str) -> dict[str, int]:
        read = self.llama.tokenize(chatml(messages).encode(), special=True)  # the vocabulary only: no lock needed
        return {"prompt": len(read), "completion": len(self.llama.tokenize(answer.encode(), add_bos=False))}

    def close(self) -> None:
        self.llama.close()


def _save_prefix(model: "Llama", n_tokens: int) -> tuple[bytes, list[int]]:
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


def _load_prefix(model: "Llama", saved: tuple[bytes, list[int]]) -> None:
    import ctypes

    import llama_cpp

    data, tokens = saved
    buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
    if llama_cpp.llama_state_set_data(model._ctx.ctx, buffer, len(data)) != len(data):
        model.reset()  # the state did not fit: read the prompt from the start next time, as without it
        return
    model.input_ids[: len(tokens)] = tokens
    model.n_tokens = len(tokens)
