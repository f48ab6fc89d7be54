"""What the model reads: the few sentences of the retrieved passages that bear on the question.

Reading the prompt is most of the wait for the first word on a CPU (about 65 tokens a second here),
and four whole passages are about 550 tokens. The sentences that hold an answer are few, so each
sentence of the passages is scored against the question (embedding similarity plus the share of
the question's words it holds, and a little for its passage's rank) and the best are kept up to a
budget of tokens, each with the sentence before it when that one is short or the kept one leans on
it ("He said ...", "The city ..."). They are shown in document order within their passage, gaps
marked "...". The passages themselves are unchanged: they are what the user sees and what
citations are checked against.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index import Source
from qa.text import content_words, sentence_spans

LEXICAL_WEIGHT = 0.5  # the share of the question's content words a sentence holds, beside its cosine similarity
RANK_WEIGHT = 0.05  # per place in the retrieval order: a tie goes to the better passage
CHARS_PER_TOKEN = 4.2  # English prose in Qwen's tokenizer, measured on the seed article
_LEANS_BACK = re.compile(r"^(?:he|she|it|they|this|that|these|those|the|his|her|its|their|such|there|then|but|however)\b",
                         re.IGNORECASE)  # fmt: skip


@dataclass(frozen=True)
class Excerpt:
    """The kept sentences of one passage, as (start, end) offsets in its text."""

    passage: Source
    spans: tuple[tuple[int, int], ...]

    @property
    def document(self) -> str:
        return self.passage.document

    @property
    def text(self) -> str:
        text, last = "", None
        for s, e in self.spans:
            if last is not None:
                between = self.passage.text[last:s]
                text += " ... " if between.strip() else between  # left-out sentences are marked, not hidden
            text += self.passage.text[s:e]
            last = e
        return text


def tokens(text: str) -> int:
    return max(1, round(len(text) / CHARS_PER_TOKEN))


def select(
    question: str,
    passages: Sequence[Source],
    embed: Callable[[list[str]], list[list[float]]],
    budget: int = 150,
) -> list[Excerpt]:
    """The passages cut to their sentences that bear on `question`, at most about `budget` tokens in all.

    The best sentence is always kept, whatever its length. `budget` 0 keeps every passage whole.
    """
    spans = [sentence_spans(p.text) for p in passages]
    if budget <= 0 or sum(tokens(p.text) for p in passages) <= budget:
        return [Excerpt(p, tuple(s)) for p, s in zip(passages, spans) if s]
    where = [(i, j) for i, s in enumerate(spans) for j in range(len(s))]
    texts = [passages[i].text[slice(*spans[i][j])] for i, j in where]
    if not texts:
        return []
    vectors = np.asarray(embed([question, *texts]), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
    similarity = vectors[1:] @ vectors[0]
    asked = content_words(question)
    scores = []
    for k, (i, _) in enumerate(where):
        lexical = len(asked & content_words(texts[k])) / len(asked) if asked else 0.0
        scores.append(float(similarity[k]) + LEXICAL_WEIGHT * lexical - RANK_WEIGHT * i)
    kept: set[tuple[int, int]] = set()
    used = 0
    for k in np.argsort(scores)[::-1]:
        i, j = where[k]
        if (i, j) in kept:
            continue
        wanted = [(i, j)]
        before = (i, j - 1)
        if j > 0 and before not in kept and (_LEANS_BACK.match(texts[k]) or tokens(texts[k]) < 12):
            wanted.insert(0, before)
        cost = sum(tokens(passages[a].text[slice(*spans[a][b])]) for a, b in wanted)
        if kept and used + cost > budget:
            if used + tokens(texts[k]) > budget:
                continue
            wanted, cost = [(i, j)], tokens(texts[k])
        kept.update(wanted)
        used += cost
        if used >= budget:
            break
    return [
        Excerpt(p, tuple(spans[i][j] for j in range(len(spans[i])) if (i, j) in kept))
        for i, p in enumerate(passages)
        if any((i, j) in kept for j in range(len(spans[i])))
    ]
