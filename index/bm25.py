"""BM25 arrays: built a page of chunks at a time, scored over their CSC arrays (bm25s's format and scores).

The build never holds every text: each page is tokenized and reduced at once to (chunk, term, count)
triples in numpy arrays. Scores are bm25s's ("lucene" variant, k1 1.5, b 0.75; a test holds them equal),
so the files are bm25s's own and `bm25s.BM25.load` reads them. A delta (chunks added since the last whole
build) is built with the whole index's statistics, so its scores and the base's compare.
"""

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

K1, B = 1.5, 0.75  # bm25s's defaults


@dataclass(frozen=True)
class Stats:
    """What a delta's scores are computed against: the base's chunk count, its document frequencies, its
    mean length (in tokens)."""

    chunks: int
    df: Callable[[str], int]
    avgdl: float


def build(pages: Iterable[tuple[list[str], list[str]]], tokenize: Callable[[list[str]], list[list[str]]], size: int = 0,
          progress: bool = False, stats: Stats | None = None) -> tuple[list[str], "object"]:  # fmt: skip
    """The chunk ids and a `bm25s.BM25` over their texts (None when no text has a term); `.avgdl` on it."""
    import bm25s
    from tqdm import tqdm

    vocab: dict[str, int] = {}
    ids: list[str] = []
    rows, terms, counts, lengths = [], [], [], []
    with tqdm(total=size, desc="keyword index", unit="chunk", disable=not progress, file=sys.stderr) as bar:
        for page_ids, texts in pages:
            words = tokenize(texts)
            n = np.fromiter(map(len, words), np.int64, count=len(words))
            flat = np.fromiter((vocab.setdefault(w, len(vocab)) for doc in words for w in doc), np.int64, count=int(n.sum()))
            key = np.repeat(np.arange(len(words), dtype=np.int64), n) * len(vocab) + flat
            pairs, tf = np.unique(key, return_counts=True)  # by chunk, then term
            rows.append((pairs // max(len(vocab), 1) + len(ids)).astype(np.int32))
            terms.append((pairs % max(len(vocab), 1)).astype(np.int32))
            counts.append(np.minimum(tf, 65535).astype(np.uint16))
            lengths.append(n.astype(np.float32))
            ids += page_ids
            bar.update(len(page_ids))
    if not ids or not vocab:
        return ids, None
    row, term, tf = np.concatenate(rows), np.concatenate(terms), np.concatenate(counts).astype(np.float32)
    del rows, terms, counts
    length = np.concatenate(lengths)
    df = np.bincount(term, minlength=len(vocab))
    n_docs, avgdl, all_df = len(ids), float(length.mean()), df
    if stats is not None:
        words = sorted(vocab, key=vocab.get)
        n_docs, avgdl = stats.chunks + len(ids), stats.avgdl
        all_df = df + np.fromiter((stats.df(w) for w in words), np.int64, count=len(words))
    idf = np.log(1 + (n_docs - all_df + 0.5) / (all_df + 0.5)).astype(np.float32)
    tf /= K1 * ((1 - B) + B * length[row] / avgdl) + tf
    tf *= idf[term]
    order = np.argsort(term, kind="stable")  # by term, chunks in order within each
    bm25 = bm25s.BM25(k1=K1, b=B)
    bm25.scores = {"data": tf[order], "indices": row[order], "indptr": np.concatenate([[0], np.cumsum(df)]).astype(np.int64),
                   "num_docs": len(ids)}  # fmt: skip
    bm25.vocab_dict, bm25.nonoccurrence_array = vocab, None
    bm25.unique_token_ids_set = set(vocab.values())
    bm25.avgdl = float(length.mean()) if stats is None else stats.avgdl
    return ids, bm25


def df_of(bm25) -> Callable[[str], int]:
    """A word's document frequency in a built or loaded index (its postings: a term's column length)."""
    indptr, vocab = bm25.scores["indptr"], bm25.vocab_dict
    return lambda w: int(indptr[vocab[w] + 1] - indptr[vocab[w]]) if w in vocab else 0


def top(bm25, words: list[str], k: int, dropped: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The `k` best chunks (row, score) for these query words, best first, only those scoring above 0;
    rows in `dropped` (sorted) are left out.

    A query whose postings are few next to the chunks sums them sparsely; one with long postings into
    an array of every chunk's score. Either way each term's postings are one slice of the CSC arrays."""
    scores = bm25.scores
    data, indices, indptr, n = scores["data"], scores["indices"], scores["indptr"], scores["num_docs"]
    spans = [(int(indptr[t]), int(indptr[t + 1])) for t in (bm25.vocab_dict[w] for w in words if w in bm25.vocab_dict)]
    total = sum(e - s for s, e in spans)
    if total == 0 or k <= 0:
        return np.array([], dtype=np.int64), np.array([], dtype=np.float32)
    if total < n // 8:
        docs, where = np.unique(np.concatenate([indices[s:e] for s, e in spans]), return_inverse=True)
        summed = np.bincount(where, weights=np.concatenate([data[s:e] for s, e in spans])).astype(np.float32)
        if dropped is not None and len(dropped):
            summed[np.isin(docs, dropped)] = 0
    else:
        docs, summed = None, np.zeros(n, dtype=np.float32)
        for s, e in spans:
            summed[indices[s:e]] += data[s:e]  # a term's postings name each chunk once
        if dropped is not None and len(dropped):
            summed[dropped] = 0
    k = min(k, len(summed))
    # The k smallest of the negated scores: on scores mostly 0 and much tied, partitioning for the k largest
    # of `summed` itself took 24 ms at 1M chunks, this 2 ms.
    best = np.argpartition(-summed, k - 1)[:k]
    best = best[np.lexsort((best, -summed[best]))]
    best = best[summed[best] > 0]
    return (best if docs is None else docs[best]), summed[best]


class Ids(Sequence):
    """Chunk ids saved as a numpy array of bytes and memory-mapped (one copy in the page cache for every process)."""

    def __init__(self, array: np.ndarray) -> None:
        self._array = array
        self.nbytes = array.nbytes

    @staticmethod
    def array(ids: Sequence[str]) -> np.ndarray:
        return np.array([i.encode() for i in ids] or [b""], dtype=bytes)[: len(ids)]

    def __len__(self) -> int:
        return len(self._array)

    def __getitem__(self, i):  # type: ignore[override]
        return self._array[i].decode()

    def __iter__(self) -> Iterator[str]:
        return (i.decode() for i in self._array)
