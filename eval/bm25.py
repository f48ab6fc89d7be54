"""The retrieval baseline: plain BM25 over the same chunks, without embeddings or document-name words.

The baseline is the product's own keyword index (`index.keyword.KeywordIndex`, kept in memory), so it
tokenises exactly as the product's keyword search does (bm25s, English stop words, Snowball stems):
what the baseline measures is BM25 alone against the hybrid retrieval, not a different tokeniser.
It indexes each chunk's text only, where the product's index also adds its document's name.
"""

from collections.abc import Sequence

from index import Source
from index.keyword import KeywordIndex


class BM25:
    def __init__(self, chunks: Sequence[Source]) -> None:
        self._by_id = {c.id: c for c in chunks}
        ids, texts = list(self._by_id), [c.text for c in self._by_id.values()]
        self._index = KeywordIndex(None)
        self._index.ensure(ids, lambda: [(ids, texts)])

    def retrieve(self, question: str, k: int) -> list[Source]:
        """Up to `k` chunks, best first; chunks sharing no term with the question are not returned."""
        return [self._by_id[i].model_copy(update={"score": s}) for i, s in self._index.search(question, k)]
