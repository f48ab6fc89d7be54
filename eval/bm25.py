"""The retrieval baseline: plain BM25 (bm25s, English stop words and Snowball stemming) over the same chunks."""

from collections.abc import Sequence

from index import Source


class BM25:
    def __init__(self, chunks: Sequence[Source]) -> None:
        import bm25s
        import Stemmer

        self.chunks = list(chunks)
        self._stemmer = Stemmer.Stemmer("english")
        self._bm25s = bm25s
        self._index = bm25s.BM25()
        tokens = bm25s.tokenize([c.text for c in self.chunks], stopwords="en", stemmer=self._stemmer, show_progress=False)
        self._index.index(tokens, show_progress=False)
        self._vocab = set(tokens.vocab)

    def retrieve(self, question: str, k: int) -> list[Source]:
        """Up to `k` chunks, best first; chunks sharing no term with the question are not returned."""
        words = self._bm25s.tokenize(
            [question], stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False
        )[0]
        words = [w for w in words if w in self._vocab]
        if not words or not self.chunks:
            return []
        ids, scores = self._index.retrieve([words], k=min(k, len(self.chunks)), show_progress=False)
        return [
            self.chunks[int(i)].model_copy(update={"score": float(s)})
            for i, s in zip(ids[0], scores[0])
            if s > 0
        ]
