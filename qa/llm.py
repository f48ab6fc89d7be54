"""Language model backends, built from settings. Heavy imports happen only when a backend is built."""

import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llama_index.core.llms import LLM, ChatMessage

    from qa.settings import Settings

STOP = "<|im_end|>"


def chatml(messages: "Sequence[ChatMessage]") -> str:
    """Qwen's ChatML. llama-index's LlamaCPP ignores the template stored in the GGUF file."""
    turns = [f"<|im_start|>{m.role.value}\n{m.content}<|im_end|>\n" for m in messages]
    return "".join(turns) + "<|im_start|>assistant\n"


def _completion_to_prompt(text: str) -> str:
    return f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"


def build_llm(settings: "Settings", progress: bool = True) -> "LLM":
    if settings.llm_mode == "llamacpp":
        return _llamacpp(settings, progress)
    raise ValueError(f"unknown llm_mode {settings.llm_mode!r}")


def _llamacpp(settings: "Settings", progress: bool) -> "LLM":
    from qa.model_file import resolve_model

    path = resolve_model(settings.llm_model_path, settings.model_cache_dir, progress)
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
        model_kwargs={"n_threads": settings.threads, "n_gpu_layers": 0},
        messages_to_prompt=chatml,
        completion_to_prompt=_completion_to_prompt,
        verbose=False,
    )


class Generator:
    """Serialises use of one model: llama.cpp contexts are not thread-safe.

    Callers from several threads (browser tabs) wait their turn instead of crossing answers.
    """

    def __init__(self, llm: "LLM") -> None:
        self.llm = llm
        self._lock = threading.Lock()

    def stream(self, messages: "Sequence[ChatMessage]") -> Iterator[str]:
        with self._lock:
            for chunk in self.llm.stream_chat(list(messages)):
                if chunk.delta:
                    yield chunk.delta
