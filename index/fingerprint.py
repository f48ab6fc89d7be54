"""Which embedding model built a collection: its name, its dimension, and the vectors it gives a few fixed sentences.

A name proves little (the same weights are "all-MiniLM-L6-v2" in one server and "all-minilm" in
another; two servers may give one name to different models), so the collection keeps the vectors of
`SENTENCES` too. Another embedder is accepted when its vectors of those sentences point the same way
(cosine >= `TOLERANCE` for each): the same model served by infinity or in this process differs by
rounding only, or by its int8 weights (the default ONNX backend: 0.987 to 1 with torch's vectors,
measured), and a different model is far below.
"""

import json
import weakref
from typing import TYPE_CHECKING

import numpy as np

from index.minilm import MODEL_NAME
from index.errors import StoreError

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

SENTENCES = (
    "The committee approved the budget for the new bridge on Tuesday.",
    "Photosynthesis turns light, water and carbon dioxide into sugar.",
    "How many goals did the team score in the second half?",
)
TOLERANCE = 0.97
NAME, DIM, VECTORS = "embed_model", "embed_dim", "embed_fingerprint"
_seen: dict[int, tuple[weakref.ref, np.ndarray]] = {}  # id(embedder) -> its vectors of SENTENCES, once per process


def model_name(embedder: "BaseEmbedding") -> str:
    """The served name of a server's model; the bundled model's name for the model in this process."""
    return embedder.model_name if hasattr(embedder, "inflight") else MODEL_NAME


def vectors(embedder: "BaseEmbedding") -> np.ndarray:
    ref, got = _seen.get(id(embedder), (None, None))
    if ref is None or ref() is not embedder:
        got = np.asarray(embedder.get_text_embedding_batch(list(SENTENCES)), dtype=np.float32)
        _seen[id(embedder)] = (weakref.ref(embedder), got)
    return got


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """The smallest cosine between matching rows (0.0 when the sizes differ)."""
    if a.shape != b.shape:
        return 0.0
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-9)
    return float(cos.min())


def recorded(meta: dict) -> np.ndarray | None:
    raw = meta.get(VECTORS)
    return None if raw is None else np.asarray(json.loads(raw), dtype=np.float32)


def metadata(embedder: "BaseEmbedding") -> dict:
    """What the collection records of the model that writes to it."""
    v = vectors(embedder)
    return {NAME: model_name(embedder), DIM: int(v.shape[1]), VECTORS: json.dumps(np.round(v, 5).tolist())}


def where(embedder: "BaseEmbedding") -> str:
    url = getattr(embedder, "base_url", None)
    return f"{model_name(embedder)!r} from {url}" if url else f"{model_name(embedder)!r} in this process"


def check(collection: str, meta: dict, embedder: "BaseEmbedding") -> None:
    """Refuse an embedder whose vectors differ from those the collection was built with."""
    want = recorded(meta)
    if want is None:
        return
    got = vectors(embedder)
    score = agreement(want, got)
    if score >= TOLERANCE:
        return
    how = (
        f"gives {got.shape[1]}-dimension vectors" if got.shape[1] != want.shape[1]
        else f"gives other vectors (similarity {score:.2f} < {TOLERANCE})"
    )  # fmt: skip
    raise StoreError(
        f"Collection '{collection}' was built with embedding model {meta.get(NAME)!r} ({want.shape[1]} dimensions); "
        f"the model configured now, {where(embedder)}, {how}. Embed with the model it was built with "
        f"(QA_EMBED_BASE_URL, QA_EMBED_MODEL), or rebuild it with this one: qa index PATH --collection {collection} --rebuild"
    )


def check_stored(collection: str, sample: dict, embedder: "BaseEmbedding") -> None:
    """A collection from before fingerprints: its own chunks, embedded again, must give their stored vectors."""
    if not sample["ids"]:
        return
    stored = np.asarray(sample["embeddings"], dtype=np.float32)
    got = np.asarray(embedder.get_text_embedding_batch(list(sample["documents"])), dtype=np.float32)
    score = agreement(stored, got)
    if score < TOLERANCE:
        raise StoreError(
            f"Collection '{collection}' was built with embedding model {MODEL_NAME!r}, and the model configured now, "
            f"{where(embedder)}, embeds its passages differently (similarity {score:.2f} < {TOLERANCE}). Embed with "
            f"{MODEL_NAME!r}, or rebuild it with this one: qa index PATH --collection {collection} --rebuild"
        )
