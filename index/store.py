"""A Chroma collection kept in step with a folder, and searched by embedding."""

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index import fingerprint
from index.documents import IndexReport, Skipped, read_folder
from index.embedding import query_embedding, token_counter
from index.minilm import MODEL_NAME
from index.errors import NoCollection, StoreError
from index.keyword import KeywordIndex, keyword_text
from index.keyword_watch import KeywordWatch
from index.source import Source

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from llama_index.core.base.embeddings.base import BaseEmbedding

# Chunks embedded and written per step: an interrupted run loses at most this much work, and the
# progress bar (also the web chat's) moves once per step.
WRITE_BATCH = 64
# Weight of BM25 in the fused score. Equal weights were best or tied-best on the seed and all 1,190
# XQuAD questions among reciprocal-rank fusion (k 1..60, BM25 weight 1..1.5) and min-max, z-score and
# max-normalised sums with BM25 weights 0.3..0.7 (docs/design.md, Retrieval).
KEYWORD_WEIGHT = 0.5
KEYWORDS_META = "keyword_digest"  # the collection's metadata: the chunk ids' digest its last writer indexed (index.keyword_watch)
READ_PAGE = 20_000  # rows per request when reading a whole collection
Checkpoint = Callable[[str, int, int], None]


class Store:
    """One Chroma collection (cosine space) of document chunks.

    The collection records the embedding model and chunk settings it was built with, so a
    store is never silently mixed with chunks made another way. `embedder` returns the
    embedding model; it is called only when something must be embedded.
    """

    def __init__(
        self,
        client: "ClientAPI",
        collection: str,
        embedder: "Callable[[], BaseEmbedding]",
        chunk_size: int = 128,
        chunk_overlap: int = 16,
        create: bool = False,
        hybrid: bool = True,
        keyword_dir: Path | None = None,
    ) -> None:
        """`keyword_dir` keeps the BM25 index between processes (None: rebuilt once per process)."""
        self.name = collection
        self.hybrid = hybrid
        self._client = client
        self._keyword = KeywordIndex(keyword_dir)
        self.keyword_watch = KeywordWatch()
        self._load_embedder = embedder
        self._embedder_checked = False
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        if create:
            self._collection = client.get_or_create_collection(collection, metadata=self._wanted_metadata())
        else:
            names = [c.name for c in client.list_collections()]
            if collection not in names:
                have = ", ".join(names) or "none"
                raise NoCollection(
                    f"No collection '{collection}' in the store (collections: {have}). "
                    f"Build it first: qa index PATH --collection {collection}"
                )
            self._collection = client.get_collection(collection)
        self._check_embedder()

    @property
    def embedder(self) -> "BaseEmbedding":
        """Loaded on first use: an unchanged folder is re-indexed without loading the model at all.

        The first time, it is checked to be the model the collection was built with (`index.fingerprint`).
        """
        embedder = self._load_embedder()
        if not self._embedder_checked:
            meta = self._collection.metadata or {}
            if fingerprint.VECTORS in meta:
                fingerprint.check(self.name, meta, embedder)
            else:  # built before fingerprints (by the bundled model), or nothing written yet
                sample = self._collection.get(limit=3, include=["documents", "embeddings"])
                fingerprint.check_stored(self.name, sample, embedder)
            self._embedder_checked = True
        return embedder

    def _wanted_metadata(self) -> dict:
        """The model is recorded with the first chunks written (`_record_model`), when it is known."""
        return {"hnsw:space": "cosine", "chunk_size": self.chunk_size, "chunk_overlap": self.chunk_overlap}

    def _record_model(self) -> None:
        meta = self._collection.metadata or {}
        if fingerprint.VECTORS in meta:
            return
        kept = {k: v for k, v in meta.items() if not k.startswith("hnsw:")}  # Chroma refuses to be told these again
        self._collection.modify(metadata={**kept, **fingerprint.metadata(self.embedder)})

    def _token_counter(self):
        embedder = self.embedder
        if hasattr(getattr(embedder, "_model", None), "tokenizer"):
            return token_counter(embedder)
        from index.remote_embedding import bundled_token_counter

        return bundled_token_counter()  # a server's model: chunks cut as the bundled model cuts them

    def _query_vector(self, question: str) -> list[float]:
        embedder = self.embedder
        if hasattr(embedder, "inflight"):  # a server's
            return embedder.get_query_embedding(question)
        return query_embedding(embedder, question)

    def _check_embedder(self) -> None:
        """At opening, without the model: a collection from before fingerprints names the model that built it."""
        meta = self._collection.metadata or {}
        built_with = meta.get("embed_model")
        if fingerprint.VECTORS not in meta and built_with is not None and built_with != MODEL_NAME:
            raise StoreError(
                f"Collection '{self.name}' was built with embedding model {built_with!r}, not {MODEL_NAME!r}. "
                f"Rebuild it: qa index PATH --collection {self.name} --rebuild"
            )

    def count(self) -> int:
        return self._collection.count()

    def documents(self) -> dict[str, int]:
        """Chunk count of each document in the collection."""
        counts: dict[str, int] = defaultdict(int)
        for meta in self._rows()[1]:
            counts[meta["document"]] += 1
        return dict(counts)

    def chunks(self) -> list[Source]:
        """Every chunk in the collection, in document order (score 0): for keyword search and evaluation."""
        got = self._get_all(["documents", "metadatas"])
        found = [
            Source(id=id_, document=m["document"], text=text, start=m["start"], end=m["end"], page=m.get("page"), score=0.0)
            for id_, text, m in zip(got["ids"], got["documents"], got["metadatas"])
        ]
        return sorted(found, key=lambda s: (s.document, s.start))

    def _rows(self) -> tuple[list[str], list[dict]]:
        got = self._get_all(["metadatas"])
        return got["ids"], got["metadatas"]

    def _rows_of(self, documents: list[str]) -> tuple[list[str], list[dict]]:
        """The rows of these documents only: adding one file to a million chunks reads its own rows, not all."""
        ids, metas = [], []
        for i in range(0, len(documents), 100):
            got = self._collection.get(where={"document": {"$in": documents[i : i + 100]}}, include=["metadatas"])
            ids += got["ids"]
            metas += got["metadatas"]
        return ids, metas

    def _get_all(self, include: list[str]) -> dict[str, list]:
        out: dict[str, list] = {"ids": [], **{k: [] for k in include}}
        for got in self._pages(include):
            for k in out:
                out[k] += got[k]
        return out

    def _pages(self, include: list[str]) -> Iterator[dict[str, list]]:
        """Every row, in pages: one answer of a million chunks would be gigabytes of JSON from a server."""
        done = 0
        while True:
            got = self._collection.get(include=include, limit=READ_PAGE, offset=done)
            done += len(got["ids"])
            yield got
            if len(got["ids"]) < READ_PAGE:
                return

    def sync(
        self, folder: Path, max_file_bytes: int = 20_000_000, progress: bool = True, checkpoint: Checkpoint | None = None
    ) -> IndexReport:
        """Make the collection hold exactly the chunks of the documents in `folder`.

        Incremental by content hash, checked against the collection itself: unchanged documents
        are not re-embedded, changed ones have their old chunks replaced, deleted ones removed.
        New chunks are written before stale ones are deleted, so an interrupted run leaves no
        document without chunks and the next run converges to the same state. Given a single
        file, it adds or updates that document and removes nothing.

        `checkpoint(point, done, total)` is called at each named point of the run: "embedded" (a batch
        embedded, not yet written), "written" (a batch written), "added" (every new chunk written,
        stale ones not yet deleted); `done` and `total` count chunks. Fault tests stop the run there.
        """
        docs, skipped = read_folder(folder, max_file_bytes)
        return self._apply(docs, skipped, prune=Path(folder).is_dir(), progress=progress, checkpoint=checkpoint)

    def add_files(self, files: list[Path], max_file_bytes: int = 20_000_000, progress: bool = True) -> IndexReport:
        """Add or update these files (named by their file name), leaving other documents alone."""
        docs, skipped = [], []
        for file in files:
            got, missed = read_folder(Path(file), max_file_bytes)
            docs += got
            skipped += missed
        return self._apply(docs, skipped, prune=False, progress=progress)

    def _apply(
        self, docs: list, skipped: list[Skipped], prune: bool, progress: bool, checkpoint: Checkpoint | None = None
    ) -> IndexReport:
        checkpoint = checkpoint or (lambda point, done, total: None)
        t0 = time.perf_counter()
        meta = self._collection.metadata or {}
        if (meta.get("chunk_size"), meta.get("chunk_overlap")) != (self.chunk_size, self.chunk_overlap):
            raise StoreError(
                f"Collection '{self.name}' was built with chunk_size={meta.get('chunk_size')}, "
                f"chunk_overlap={meta.get('chunk_overlap')}; this run asks for {self.chunk_size}, "
                f"{self.chunk_overlap}. Rebuild it: qa index PATH --collection {self.name} --rebuild"
            )
        report = IndexReport(documents=len(docs), skipped=skipped)

        stored: dict[str, dict[str, dict]] = defaultdict(dict)
        for id_, m in zip(*(self._rows() if prune else self._rows_of([d.name for d in docs]))):
            stored[m["document"]][id_] = m

        splitter = None
        to_add, to_delete = [], []
        for doc in docs:
            rows = stored.pop(doc.name, {})
            if rows and all(m["doc_sha256"] == doc.sha256 and m["chunks"] == len(rows) for m in rows.values()):
                report.unchanged += 1
                report.chunks += len(rows)
                continue
            from index.chunking import make_splitter, split

            splitter = splitter or make_splitter(self._token_counter(), self.chunk_size, self.chunk_overlap)
            nodes = split(doc, splitter)
            report.chunks += len(nodes)
            to_add += [n for n in nodes if n.node_id not in rows]
            wanted = {n.node_id for n in nodes}
            to_delete += [id_ for id_ in rows if id_ not in wanted]
            if rows:
                report.updated += 1
            else:
                report.added += 1
        for rows in stored.values() if prune else ():
            report.removed += 1
            to_delete += list(rows)

        self._add(to_add, progress, checkpoint)
        checkpoint("added", len(to_add), len(to_add))
        report.embedded = len(to_add)
        for i in range(0, len(to_delete), WRITE_BATCH):
            self._collection.delete(ids=to_delete[i : i + WRITE_BATCH])
        if self.hybrid and (to_add or to_delete or not self.keyword_watch.trusted):
            self.keywords(refresh=True)
            if to_add or to_delete:
                self._publish_keywords()
        report.seconds = time.perf_counter() - t0
        return report

    def _add(self, nodes: list, progress: bool, checkpoint: Checkpoint) -> None:
        from tqdm import tqdm

        if nodes:
            self._record_model()
        # A server's embedder sends `inflight` texts at once (concurrent requests): write that many per step.
        step = getattr(self.embedder, "inflight", WRITE_BATCH) if nodes else WRITE_BATCH
        bar = tqdm(total=len(nodes), desc="embedding", unit="chunk", disable=not progress or not nodes)
        try:
            for i in range(0, len(nodes), step):
                batch = nodes[i : i + step]
                vectors = self.embedder.get_text_embedding_batch([n.text for n in batch])
                checkpoint("embedded", i, len(nodes))
                # Upsert: ids are deterministic, so two processes indexing one folder at once write the same rows.
                self._collection.upsert(
                    ids=[n.node_id for n in batch],
                    embeddings=vectors,
                    documents=[n.text for n in batch],
                    metadatas=[n.metadata for n in batch],
                )
                bar.update(len(batch))
                checkpoint("written", i + len(batch), len(nodes))
        finally:
            bar.close()  # ends the bar's line: an error is then printed on a line of its own

    def keywords(self, refresh: bool = False) -> KeywordIndex:
        """The BM25 index, checked against the collection once per process and after each change;
        `refresh` checks it now (fetching every id, and every text, a page at a time, when it must be rebuilt)."""
        if refresh or not self.keyword_watch.trusted:
            ids = self._get_all([])["ids"]

            def texts(got: dict) -> tuple[list[str], list[str]]:
                return got["ids"], [keyword_text(m["document"], t) if m else t for t, m in zip(got["documents"], got["metadatas"])]

            def texts_of(wanted: list[str]) -> Iterator[tuple[list[str], list[str]]]:
                for i in range(0, len(wanted), READ_PAGE):
                    yield texts(self._collection.get(ids=wanted[i : i + READ_PAGE], include=["documents", "metadatas"]))

            pages = lambda: map(texts, self._pages(["documents", "metadatas"]))  # noqa: E731
            self._keyword.ensure(ids, pages, texts_of)
            self.keyword_watch.settled()
        return self._keyword

    def _publish_keywords(self) -> None:
        """After a write, the new digest in the collection's metadata: what instances on other machines (their
        own keyword folders) read on every query, one value instead of every id."""
        meta = self._client.get_collection(self.name).metadata or {}
        if meta.get(KEYWORDS_META) != self._keyword.digest:
            kept = {k: v for k, v in meta.items() if not k.startswith("hnsw:")}  # Chroma refuses to be told these again
            self._collection.modify(metadata={**kept, KEYWORDS_META: self._keyword.digest})

    def retrieve(self, question: str, top_k: int, steps: dict[str, float] | None = None) -> list[Source]:
        """The `top_k` best passages for `question`, best first. `steps`, when given, receives the seconds
        each step took (`check` (is the keyword index the collection's?), `embed`, `vector` (Chroma's search),
        `keyword` (BM25), `fetch` (BM25-only finds from Chroma)): the scale benchmark splits latency with it.

        Hybrid: each ranking's scores are divided by its best score, so both lie in [0, 1] with 1 for
        their favourite, and the two are averaged. Unlike reciprocal-rank fusion this keeps how far
        ahead a passage is: a passage BM25 finds far ahead on a rare name wins a close embedding race.
        `score` is always the cosine similarity of passage and question, comparable whichever ranking
        found it, so the refusal gate means the same in both modes.
        """
        from chromadb.errors import ChromaError

        for _ in range(2):  # a chunk deleted by this process's own indexing, mid-query, is gone on retry
            try:
                return self._retrieve(question, top_k, steps if steps is not None else {})
            except (ChromaError, _Stale) as e:
                error = e
        raise StoreError(
            f"Collection '{self.name}' could not be searched ({type(error).__name__}: {' '.join(str(error).split())[:120]}). "
            "If another process indexed this store while this one was running, restart this one: an embedded "
            "store is written by one process at a time. To index while serving, upload through the web chat or "
            "use a Chroma server (QA_STORE_CHROMA_URL)."
        )

    def _retrieve(self, question: str, top_k: int, steps: dict[str, float]) -> list[Source]:
        at = time.perf_counter()

        def step(name: str) -> None:
            nonlocal at
            now = time.perf_counter()
            steps[name] = steps.get(name, 0.0) + now - at
            at = now

        if self.hybrid:
            published = (self._client.get_collection(self.name).metadata or {}).get(KEYWORDS_META) or ""
            self.keyword_watch.look(self._keyword, published, self._collection.count)
            count = self.keywords().size
        else:
            count = self._collection.count()
        step("check")
        if count == 0:
            return []
        vector = np.asarray(self._query_vector(question), dtype=np.float32)
        step("embed")
        pool = min(count, max(3 * top_k, 12) if self.hybrid else top_k)
        got = self._collection.query(
            query_embeddings=[vector.tolist()], n_results=pool, include=["documents", "metadatas", "distances"]
        )
        step("vector")
        found = {
            id_: _source(id_, text, m, 1.0 - dist)
            for id_, text, m, dist in zip(got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0])
            if m is not None
        }
        if len(found) < len(got["ids"][0]):
            raise _Stale("the vector index names deleted chunks")
        if not self.hybrid:
            return list(found.values())[:top_k]
        keyword = dict(self.keywords().search(question, pool))
        step("keyword")
        missing = [i for i in keyword if i not in found]
        if missing:
            extra = self._collection.get(ids=missing, include=["documents", "metadatas", "embeddings"])
            for id_, text, m, emb in zip(extra["ids"], extra["documents"], extra["metadatas"], extra["embeddings"]):
                if m is None:
                    continue
                emb = np.asarray(emb, dtype=np.float32)
                cosine = float(emb @ vector / (np.linalg.norm(emb) * np.linalg.norm(vector) + 1e-9))
                found[id_] = _source(id_, text, m, cosine)
            if any(i not in found for i in missing):  # BM25 names chunks deleted since: check it next time
                self.keyword_watch.doubt()
        step("fetch")
        if not found:
            return []
        best_cos = max(max(s.score for s in found.values()), 1e-9)
        best_kw = max(keyword.values(), default=0.0) or 1.0
        fused = {
            id_: (1 - KEYWORD_WEIGHT) * max(s.score, 0.0) / best_cos + KEYWORD_WEIGHT * keyword.get(id_, 0.0) / best_kw
            for id_, s in found.items()
        }
        return [found[i] for i in sorted(fused, key=lambda i: -fused[i])[:top_k]]


class _Stale(Exception):
    """This process's vector index is behind the collection (another process wrote to the store)."""


def _source(id_: str, text: str, meta: dict, score: float) -> Source:
    return Source(
        id=id_, document=meta["document"], text=text, start=meta["start"], end=meta["end"],
        page=meta.get("page"), score=score,
    )  # fmt: skip
