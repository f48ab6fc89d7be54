"""Benchmark corpora (the seed, XQuAD's paragraphs, larger generated ones) and the plain llama-index pipeline.

The generated corpora reuse real text: XQuAD paragraphs (or the seed's, without XQuAD) shuffled
into new documents of about 20 paragraphs each, so that chunking, BM25 and Chroma see real prose.
"""

import json
import random
import re
import shutil
import time
import zlib
from pathlib import Path

import numpy as np

from eval.corpus import write_documents

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
XQUAD = ROOT / "eval" / "data" / "xquad" / "xquad.en.json"  # a copy of ../shared/data/xquad, with its licence
CHUNKS_PER_PARAGRAPH = 1.9  # XQuAD: 459 chunks of 128 word pieces from 240 paragraphs
PARAGRAPHS_PER_DOC = 20


def xquad_paragraphs(path: Path = XQUAD) -> list[str]:
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return [p["context"] for a in data["data"] for p in a["paragraphs"]]


def xquad_questions(path: Path = XQUAD) -> list[str]:
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return [q["question"] for a in data["data"] for p in a["paragraphs"] for q in p["qas"]]


def seed_paragraphs() -> list[str]:
    texts = [f.read_text(encoding="utf-8") for f in sorted(SEEDS.glob("*.txt"))]
    return [p.strip() for t in texts for p in re.split(r"\n\s*\n", t) if len(p.strip()) > 80]


def write_xquad(folder: Path) -> Path | None:
    """One file per XQuAD paragraph (None when the data set is not beside the repository)."""
    paragraphs = xquad_paragraphs()
    if not paragraphs:
        return None
    return write_documents(folder, {f"{i:04d}.txt": p for i, p in enumerate(paragraphs)})


def write_xquad_copies(folder: Path, copies: int = 4) -> Path | None:
    """XQuAD's 48 articles (240 paragraphs, one file each) written `copies` times: about 750,000 characters.

    One file per paragraph, as the `xquad` corpus: llama-index's default chunks (1,024 tokens) then
    hold one paragraph each (about 200 tokens), within the model's 256. Whole articles in one file
    would give chunks the model truncates, so the plain pipeline would embed only part of the text.
    """
    paragraphs = xquad_paragraphs()
    if not paragraphs:
        return None
    docs = {f"{copy}-{i:04d}.txt": p for copy in range(1, copies + 1) for i, p in enumerate(paragraphs)}
    return write_documents(folder, docs)


def write_generated(folder: Path, chunks: int, seed: int = 0) -> Path:
    """About `chunks` chunks of real text: paragraphs drawn at random into new documents."""
    paragraphs = xquad_paragraphs() or seed_paragraphs()
    rng = random.Random(seed)
    wanted = max(1, round(chunks / CHUNKS_PER_PARAGRAPH))
    drawn = [paragraphs[rng.randrange(len(paragraphs))] for _ in range(wanted)]
    docs = {
        f"doc-{i // PARAGRAPHS_PER_DOC:05d}.txt": "\n\n".join(drawn[i : i + PARAGRAPHS_PER_DOC])
        for i in range(0, wanted, PARAGRAPHS_PER_DOC)
    }
    return write_documents(folder, docs)


def copy_seed(folder: Path) -> Path:
    if not folder.exists():
        shutil.copytree(SEEDS, folder)
    return folder


class HashedEmbedder:
    """Stands in for the embedding model when writing the large latency corpora.

    Chunk vectors are feature-hashed bags of words (384 dimensions, unit length): free to compute,
    spread like real vectors, so the store, its HNSW graph and BM25 are exercised at full size.
    Queries are embedded by the real model, so query latency is the product's.
    """

    def __init__(self, real) -> None:
        self._real = real
        self.token_ids = getattr(real, "token_ids", None)  # the tokenizer the chunker counts with (ONNX)
        self._model = getattr(real, "_model", None)  # (torch)

    def get_text_embedding_batch(self, texts: list[str], **_) -> list[list[float]]:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = zlib.crc32(word.encode())
                out[row, h % 384] += 1.0 if h & 0x8000_0000 else -1.0
        out /= np.linalg.norm(out, axis=1, keepdims=True) + 1e-9
        return out.tolist()

    def get_query_embedding(self, query: str) -> list[float]:
        return self._real.get_query_embedding(query)


def plain_ingest(folder: Path, store_dir: Path, model_path: str, chunk_size: int, chunk_overlap: int) -> dict:
    """What a user would write instead: llama-index defaults over a Chroma vector store.

    Same embedding model and chunk size as ours (so chunks/s compares like for like); everything
    else is llama-index's default (SimpleDirectoryReader, embed_batch_size 10, its metadata).
    The model is loaded before the clock starts, as ours is.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    shutil.rmtree(store_dir, ignore_errors=True)
    client = chromadb.PersistentClient(str(store_dir), settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_or_create_collection("plain", metadata={"hnsw:space": "cosine"})
    embed = HuggingFaceEmbedding(model_name=model_path, device="cpu")
    t0 = time.perf_counter()
    docs = SimpleDirectoryReader(str(folder), recursive=True).load_data(show_progress=False)
    VectorStoreIndex.from_documents(
        docs,
        storage_context=StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection)),
        embed_model=embed,
        transformations=[SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)],
        show_progress=True,
    )
    seconds = time.perf_counter() - t0
    chunks = collection.count()
    return {"chunks": chunks, "seconds": round(seconds, 3), "chunks_per_s": round(chunks / seconds, 2)}
