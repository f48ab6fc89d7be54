"""`qa bench --scale`: the scale-out figures, against real servers started on loopback.

- ingest: chunks/s embedded in this process vs through the embeddings server (infinity, scripts/embed-server.sh),
  both into a `chroma run` server;
- retrieval: hybrid latency at each `--sizes` (10k / 100k / 1M chunks) against the Chroma server, and the
  keyword index at that size (seconds to build it from the server, its arrays, the process's memory).

The large collections are written straight into Chroma, not through the chunker and the model: each chunk
is a window of two to five consecutive sentences of a real paragraph (XQuAD's, or the seed's), and its
vector the feature-hashed words of those sentences, perturbed (`bench.corpus.HashedEmbedder`); 1M
chunks cost minutes, not the 10 hours the model would take on 2 cores. Queries are embedded by the real model.
"""

import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np

WRITE = 4000  # chunks per request to the Chroma server


def scale(bench, results: dict) -> None:
    from bench.servers import chroma_server, embed_server

    out = results.setdefault("scale", {})
    sizes = [int(x) for x in bench.args.sizes.split(",") if x.strip()]
    if sizes or not bench.args.no_ingest:
        with chroma_server(bench.work / "chroma-server") as chroma:
            if not bench.args.no_ingest:
                with embed_server() as embed:
                    out["ingest"] = ingest(bench, chroma, embed)
            for size in sizes:
                print(f"bench: scale, {size} chunks", file=sys.stderr)
                out[f"gen-{size}"] = retrieval(bench, chroma, size)
    for size in [int(x) for x in (bench.args.keyword_sizes or "").split(",") if x.strip()]:
        print(f"bench: scale, keyword index alone at {size} chunks", file=sys.stderr)
        out[f"keyword-{size}"] = keyword_alone(bench, size)


def ingest(bench, chroma: str, embed: str) -> dict:
    """The same generated corpus indexed twice into the Chroma server: the model in this process, then the server's."""
    import qa

    folder = bench.corpus(str(bench.args.scale_ingest))
    out = {}
    for where, embed_url in (("in_process", None), ("server", embed)):
        s = bench.settings.with_(store={"chroma_url": chroma, "collection": f"ingest-{where}"},
                                 embed={"base_url": embed_url})  # fmt: skip
        qa.open_store(s, create=True).embedder  # model loaded (or server checked) before the clock starts
        t0 = time.perf_counter()
        report = qa.index(folder, settings=s, rebuild=True, progress=False)
        seconds = time.perf_counter() - t0
        out[where] = {"chunks": report.chunks, "seconds": round(seconds, 2), "chunks_per_s": round(report.chunks / seconds, 1)}
        if embed_url:
            out[where].update(batch_size=s.embed.batch_size, concurrency=s.embed.concurrency, server="infinity-emb 0.0.78, torch, CPU")
    return out


def retrieval(bench, chroma: str, size: int) -> dict:
    from bench.stats import latency
    from bench.corpus import HashedEmbedder, xquad_questions
    from bench.llm import seed_questions
    from index import Store
    from index.client import connect

    embedder = HashedEmbedder(bench.embedder())
    name = f"scale-{size}"
    client = connect(bench.work, chroma)
    t0 = time.perf_counter()
    written = fill(client, name, size, embedder, bench.settings.store)
    fill_s = time.perf_counter() - t0
    folder = bench.work / "bm25-scale" / name
    store = Store(client, name, lambda: embedder, bench.settings.store.chunk_size, bench.settings.store.chunk_overlap,
                  keyword_dir=folder)  # fmt: skip
    queries = (xquad_questions() or seed_questions(66))[: bench.args.queries]
    shutil.rmtree(folder, ignore_errors=True)  # built, not loaded from an earlier run
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    store.keywords(refresh=True)  # every chunk fetched from the server, BM25 built and saved
    keyword_s = time.perf_counter() - t0
    keyword = {"build_s": round(keyword_s, 1), "rss_growth_mb": round(_rss_mb() - rss0, 1),
               "arrays_mb": round(store.keywords().memory_bytes() / 2**20, 1), "disk_mb": round(_disk_mb(folder), 1)}  # fmt: skip
    t0 = time.perf_counter()
    store.keywords(refresh=True)  # the check every query makes after a change elsewhere: fetch every id
    recheck_s = time.perf_counter() - t0
    return {"chunks": store.count(), "written_now": written, "fill_s": round(fill_s, 1), "vectors": "hashed",
            "keyword": keyword, "keyword_recheck_s": round(recheck_s, 2), **latency(store, queries, bench.settings.answer.top_k)}  # fmt: skip


def fill(client, name: str, size: int, embedder, store_settings) -> int:
    """Make the collection hold `size` generated chunks (kept between runs); returns how many were written now."""
    from index import fingerprint

    meta = {"hnsw:space": "cosine", "chunk_size": store_settings.chunk_size, "chunk_overlap": store_settings.chunk_overlap,
            **fingerprint.metadata(embedder)}  # fmt: skip
    collection = client.get_or_create_collection(name, metadata=meta)
    have = collection.count()
    if have >= size:
        return 0
    texts, vectors = _sentences(embedder)
    rng = np.random.default_rng(size)
    for start in range(have, size, WRITE):
        n = min(WRITE, size - start)
        chunk_texts, v = _chunks(texts, vectors, rng, n)
        ids = [f"gen-{i:07d}" for i in range(start, start + n)]
        metas = [{"document": f"gen-{i // 40:06d}.txt", "start": 0, "end": len(t), "doc_sha256": "generated", "chunks": 40}
                 for i, t in zip(range(start, start + n), chunk_texts)]  # fmt: skip
        collection.upsert(ids=ids, embeddings=v.tolist(), documents=chunk_texts, metadatas=metas)
        if (start // WRITE) % 25 == 0:
            print(f"bench: {name}: {start + n} chunks written", file=sys.stderr)
    return size - have


def _chunks(texts: list[str], vectors: np.ndarray | None, rng, n: int) -> tuple[list[str], np.ndarray | None]:
    """`n` chunks: windows of 2 to 5 consecutive real sentences, and their hashed vectors, perturbed."""
    first = rng.integers(0, len(texts) - 5, n)
    length = rng.integers(2, 6, n)
    chunk_texts = [" ".join(texts[f : f + k]) for f, k in zip(first, length)]
    if vectors is None:
        return chunk_texts, None
    v = np.stack([vectors[f : f + k].sum(0) for f, k in zip(first, length)])
    v += rng.normal(0, 0.05, v.shape).astype(np.float32)  # no two chunks alike, even from the same sentences
    v /= np.linalg.norm(v, axis=1, keepdims=True) + 1e-9
    return chunk_texts, v


def keyword_alone(bench, size: int) -> dict:
    """The BM25 index of `size` generated chunks built in this process, without Chroma: time, memory, search."""
    from bench.corpus import HashedEmbedder, xquad_questions
    from bench.llm import seed_questions
    from bench.stats import percentiles
    from index.keyword import KeywordIndex, keyword_text

    texts, _ = _sentences(HashedEmbedder(bench.embedder()), vectors=False)
    rng = np.random.default_rng(size)
    chunk_texts, _ = _chunks(texts, None, rng, size)
    ids = [f"gen-{i:07d}" for i in range(size)]
    chunk_texts = [keyword_text(f"gen-{i // 40:06d}.txt", t) for i, t in enumerate(chunk_texts)]
    index = KeywordIndex(None)
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    index.ensure(ids, lambda: ((ids[i : i + 20_000], chunk_texts[i : i + 20_000]) for i in range(0, size, 20_000)))
    build = time.perf_counter() - t0
    grown = _rss_mb() - rss0

    times = []
    for q in (xquad_questions() or seed_questions(66))[: bench.args.queries]:
        t0 = time.perf_counter()
        index.search(q, 12)
        times.append((time.perf_counter() - t0) * 1000)
    p = percentiles(times)
    return {"chunks": size, "build_s": round(build, 1), "rss_growth_mb": round(grown, 1),
            "arrays_mb": round(index.memory_bytes() / 2**20, 1), "search_p50_ms": round(p["p50"], 2),
            "search_p95_ms": round(p["p95"], 2), "texts_mb": round(sum(len(t) for t in chunk_texts) / 2**20, 1)}  # fmt: skip


def _sentences(embedder, vectors: bool = True) -> tuple[list[str], np.ndarray]:
    """Every sentence of the real paragraphs, in order, with its hashed vector."""
    from bench.corpus import seed_paragraphs, xquad_paragraphs

    paragraphs = xquad_paragraphs() or seed_paragraphs()
    texts = [s for p in paragraphs for s in re.split(r"(?<=[.!?])\s+", p) if s.strip()]
    if not vectors:
        return texts, None
    return texts, np.asarray(embedder.get_text_embedding_batch(texts), dtype=np.float32)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _disk_mb(folder: Path | None) -> float:
    if folder is None or not folder.exists():
        return 0.0
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20
