"""The bundled embedding model (`index.minilm`), loaded in one of two runtimes.

Two runtimes give the same model: ONNX Runtime (`index.onnx_embedding`, exported once into the
cache; no torch in the process) and torch through sentence-transformers (llama-index's
HuggingFaceEmbedding). `QA_EMBED_BACKEND` chooses: "onnx-int8" (int8 weights, the default),
"onnx" (float32, the same vectors as torch) or "torch".
"""

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from index.minilm import MAX_TOKENS, model_folder

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

BACKENDS = ("onnx-int8", "onnx", "torch")


def load_embedder(
    threads: int, batch_size: int = 32, backend: str = "onnx-int8", cache_dir: Path | None = None, progress: bool = True
) -> "BaseEmbedding":
    """Load the model from its installed package: no network, no download.

    `threads` caps the threads of a batch of documents so that embedding never oversubscribes the
    CPU. The ONNX backends export the model into `cache_dir` the first time (a note on stderr).
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if backend != "torch":
        from index import onnx_embedding

        if cache_dir is None:
            raise ValueError("the ONNX backends need a cache folder for the exported model")
        return onnx_embedding.load(cache_dir, threads, int8=backend == "onnx-int8", batch_size=batch_size, progress=progress)
    import torch
    import transformers
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    torch.set_num_threads(threads)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    return HuggingFaceEmbedding(
        model_name=str(model_folder()),
        device="cpu",
        embed_batch_size=batch_size,
        max_length=MAX_TOKENS,
    )


def token_counter(embedder: "BaseEmbedding") -> Callable[[str], list]:
    """Count word pieces exactly as the embedding model will see them (special tokens included)."""
    own = getattr(embedder, "token_ids", None)
    if own is not None:  # the ONNX backend's tokenizer
        return own
    tokenizer = embedder._model.tokenizer
    return lambda text: tokenizer(text, add_special_tokens=True, verbose=False)["input_ids"]


_threads = threading.Lock()


def query_embedding(embedder: "BaseEmbedding", text: str) -> list[float]:
    """Embed one query on one thread.

    A single short query gains nothing from more threads, and when another process keeps the other
    core busy, torch's threads wait on each other: measured on a loaded 2-core machine, one query
    took 490 ms with 2 threads and 15 ms with 1. (The ONNX backend embeds a few texts on one thread
    by itself.)
    """
    if getattr(embedder, "token_ids", None) is not None or not hasattr(embedder, "_model"):
        return embedder.get_query_embedding(text)
    import torch

    with _threads:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return embedder.get_query_embedding(text)
        finally:
            torch.set_num_threads(before)
