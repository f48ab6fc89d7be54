"""Attach citations from evidence: each answer sentence cites the passage that supports it.

The model's own citation numbers are not trusted (a 1.5B model gets them wrong). For each sentence
of the answer, each passage's best span (one sentence, or two adjacent ones, that shares most of the
sentence's words or meaning) is found, and the verifier (qa.verifier, a cross-encoder trained on
SQuAD 2.0) scores whether that span supports the sentence as the answer to the question. Two hard
constraints come first, because they are what a small model gets wrong: every number and every name
of the sentence must be in the span. Of the passages whose span the verifier supports (SUPPORT_MIN),
the sentence cites the one whose span matches it best (so they are asked in that order, and no further
than the first supported); a sentence no span holds alone and without numbers may cite two passages
that together hold its names (both supported); a sentence with no support gets no citation. Where the
answerhood check judges the answer as a whole (`checked`), its best-scored sentence cites even below
the floor: whether the answer stands is the check's call.
(Citing every supported passage, or the one the verifier scores highest, was tried: on the
validation article both cited more passages that do not hold the answer; docs/verifier.md.)
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index import Source
from qa.answer import Sentence
from qa.text import content_words, every_word, given_names, lower_case, named, names, numbers, sentence_spans
from qa.verifier import claim

# The verifier's probability at which a span supports a sentence: on the validation article's pairs
# (train/verifier.py), 5% of the true (question, answer, span) pairs score below it (0.022); below it
# are 57% of spans of the same paragraph without the answer and 29% of other questions' answers (docs/verifier.md).
SUPPORT_MIN = 0.02
CANDIDATE_MIN = 0.25  # share of the sentence's content words in a span, or its cosine, for the span to be asked about
PAIR_PENALTY = 0.05  # prefer one sentence as the highlight unless two adjacent ones match clearly better

Verify = Callable[[list[tuple[str, str]]], list[float]]


@dataclass(frozen=True)
class Support:
    passage: int
    start: int  # offsets in the passage text
    end: int
    score: float  # the verifier's probability that the span supports the sentence


@dataclass(frozen=True)
class _Span:
    passage: int
    start: int
    end: int
    pair: bool
    words: frozenset[str]
    numbers: frozenset[str]
    every: frozenset[str]


def _spans(passages: Sequence[Source]) -> list[_Span]:
    spans = []
    for i, p in enumerate(passages):
        inner = sentence_spans(p.text)
        cut = [(s, e, False) for s, e in inner] + [(a[0], b[1], True) for a, b in zip(inner, inner[1:])]
        for s, e, pair in cut:
            text = p.text[s:e]
            spans.append(_Span(i, s, e, pair, frozenset(content_words(text)), frozenset(numbers(text)), frozenset(every_word(text))))
    return spans


def _similarity(sentences: list[str], passages: Sequence[Source], spans: list[_Span], embed) -> np.ndarray:
    """Cosine of each answer sentence with each span. Only single sentences are embedded (the excerpts
    step embedded them already, so they are remembered); a pair's vector is the sum of its two."""
    singles = [s for s in spans if not s.pair]
    vectors = np.asarray(embed(sentences + [passages[s.passage].text[s.start : s.end] for s in singles]), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
    asked = vectors[: len(sentences)]
    own = {(s.passage, s.start, s.end): v for s, v in zip(singles, vectors[len(sentences) :])}
    rows = []
    for span in spans:
        parts = [v for (p, a, b), v in own.items() if p == span.passage and span.start <= a and b <= span.end]
        v = np.sum(parts, axis=0)
        rows.append(v / (np.linalg.norm(v) + 1e-9))
    return asked @ np.stack(rows).T


def attribute(
    answer: str,
    passages: Sequence[Source],
    embed: Callable[[list[str]], list[list[float]]],
    verify: Verify,
    question: str = "",
    checked: bool = False,
) -> tuple[list[str], list[list[Support]], list[float | None]]:
    """Split `answer` into sentences; for each, its supporting spans, and its verifier score: that of the span
    it cites, or the best it got where it cites none.

    `checked`: the answerhood check will judge the answer as a whole (qa.answerhood), so the answer's
    best-scored sentence cites its span even below SUPPORT_MIN; the floor still keeps its weaker
    sentences uncited. Without the check, no sentence below the floor cites.
    """
    sentences = [answer[s:e] for s, e in sentence_spans(answer)]
    spans = _spans(passages)
    if not sentences or not spans:
        return sentences, [[] for _ in sentences], [None for _ in sentences]
    texts = [passages[s.passage].text[s.start : s.end] for s in spans]
    similarity = _similarity(sentences, passages, spans, embed)
    read = set().union(*(s.every for s in spans))
    common = lower_case(" ".join([question, *(p.text for p in passages)]))
    whole: list[tuple[int, int]] = []  # (sentence, span) pairs whose span holds all the sentence's names and numbers
    parts: list[tuple[int, int]] = []  # for a sentence no span holds alone: each passage's best span
    match: dict[tuple[int, int], float] = {}  # how well each span asked about matches its sentence, words and meaning
    for i, sentence in enumerate(sentences):
        words, nums = content_words(sentence), numbers(sentence)
        proper = names(sentence, common) - given_names(sentence, read)
        alone: dict[int, tuple[float, int]] = {}
        best: dict[int, tuple[float, int]] = {}
        for j, span in enumerate(spans):
            lexical = len(words & span.words) / len(words) if words else 0.0
            if max(lexical, float(similarity[i, j])) < CANDIDATE_MIN:
                continue
            score = (lexical + float(similarity[i, j])) / 2 - (PAIR_PENALTY if span.pair else 0.0)
            if score > best.get(span.passage, (-1.0, 0))[0]:
                best[span.passage] = (score, j)
            if nums <= span.numbers and all(named(n, span.every) for n in proper) and score > alone.get(span.passage, (-1.0, 0))[0]:
                alone[span.passage] = (score, j)
        whole += [(i, j) for _, j in alone.values()]
        match.update({(i, j): m for m, j in alone.values()})
        if not alone and not nums and len(best) > 1:
            parts += [(i, j) for _, j in best.values()]
    pair = lambda i, j: (claim(question, sentences[i]), texts[j])  # noqa: E731
    alone_asked, alone_scores = _ask_in_order(whole, match, pair, verify)
    asked = alone_asked + parts
    scores = alone_scores + (verify([pair(i, j) for i, j in parts]) if parts else [])
    support: list[list[Support]] = [[] for _ in sentences]
    top: list[float | None] = [None for _ in sentences]
    floor = min(SUPPORT_MIN, _best(asked, scores, len(alone_asked))) if checked else SUPPORT_MIN
    for i, sentence in enumerate(sentences):
        one = [(p, j) for (k, j), p in zip(alone_asked, alone_scores) if k == i]
        two = sorted((p, j) for (k, j), p in zip(parts, scores[len(alone_asked) :]) if k == i)
        if one:
            top[i] = max(p for p, _ in one)
            held = [(match[(i, j)], p, j) for p, j in one if p >= floor]
            if held:  # of the spans the verifier supports, the one that matches the sentence best
                _, p, j = max(held)
                support[i] = [Support(spans[j].passage, spans[j].start, spans[j].end, p)]
        elif two:
            found = [(p, spans[j]) for p, j in reversed(two) if p >= floor]
            top[i] = _joined(sentence, found, read, common, support[i])
    return sentences, support, top


def _ask_in_order(candidates: list[tuple[int, int]], match: dict[tuple[int, int], float],
                  pair: Callable[[int, int], tuple[str, str]], verify: Verify) -> tuple[list[tuple[int, int]], list[float]]:  # fmt: skip
    """Each sentence's spans put to the verifier best-matching first, until one is supported (SUPPORT_MIN): the
    spans after it cannot change its citation, so not asking them halves the pairs after the last word."""
    queue = {i: sorted((j for k, j in candidates if k == i), key=lambda j: -match[(i, j)]) for i, _ in candidates}
    asked: list[tuple[int, int]] = []
    scores: list[float] = []
    while ask := [(i, q.pop(0)) for i, q in queue.items() if q]:
        asked += ask
        scores += verify([pair(i, j) for i, j in ask])
        for (i, _), p in zip(ask, scores[-len(ask) :]):
            if p >= SUPPORT_MIN:
                queue[i] = []
    return asked, scores


def _best(asked: list[tuple[int, int]], scores: list[float], alone: int) -> float:
    """The answer's best sentence score: of a sentence one span holds, its best; of a sentence two passages
    hold together, the weaker of its best two (what _joined would give it)."""
    best = max(scores[:alone], default=0.0)
    joined: dict[int, list[float]] = {}
    for (i, _), p in zip(asked[alone:], scores[alone:]):
        joined.setdefault(i, []).append(p)
    return max([best] + [sorted(ps)[-2] for ps in joined.values() if len(ps) > 1])


def _joined(sentence: str, found: list[tuple[float, _Span]], read: set[str], common: set[str], into: list[Support]) -> float | None:
    """A sentence that joins facts of two passages ("Russia demands A and B", A in one, B in another) cites
    the best-scored two that together hold its names; it has no number (a number is supported only beside
    its claim, in one span). Its score is the weaker of the two."""
    proper = names(sentence, common) - given_names(sentence, read)
    pairs = [(min(p, q), a, b, p, q) for k, (p, a) in enumerate(found) for q, b in found[k + 1 :]
             if all(named(n, a.every | b.every) for n in proper)]  # fmt: skip
    if not pairs:
        return found[0][0] if found else None
    score, a, b, p, q = max(pairs, key=lambda t: t[0])
    into += [Support(a.passage, a.start, a.end, p), Support(b.passage, b.start, b.end, q)]
    return score


def cite(
    answer: str,
    passages: Sequence[Source],
    embed: Callable[[list[str]], list[list[float]]],
    verify: Verify,
    question: str = "",
    checked: bool = False,
) -> tuple[str, list[Sentence], list[Source]]:
    """The answer to `question` with [n] markers, its sentences, and the cited passages numbered by first use.

    Cited sources carry the document offsets of the spans that support the sentences citing them;
    each sentence carries its verifier score (attribute).
    """
    texts, support, top = attribute(answer, passages, embed, verify, question, checked)
    numbering: dict[int, int] = {}
    highlights: dict[int, list[tuple[int, int]]] = {}
    sentences, parts = [], []
    for text, found, best in zip(texts, support, top):
        cited = []
        for s in sorted(found, key=lambda f: f.passage):
            n = numbering.setdefault(s.passage, len(numbering) + 1)
            cited.append(n)
            base = passages[s.passage].start
            spot = (base + s.start, base + s.end)
            if spot not in highlights.setdefault(s.passage, []):
                highlights[s.passage].append(spot)
        cited = sorted(cited)
        score = None if best is None else round(best, 4)
        sentences.append(Sentence(text=text, citations=cited, supported=bool(cited), score=score))
        parts.append(_with_markers(text, cited))
    sources = [
        passages[p].model_copy(update={"n": n, "highlights": sorted(highlights[p])})
        for p, n in sorted(numbering.items(), key=lambda item: item[1])
    ]
    return " ".join(parts), sentences, sources


def _with_markers(sentence: str, cited: list[int]) -> str:
    if not cited:
        return sentence
    markers = "".join(f"[{n}]" for n in cited)
    m = re.search(r"[.!?…]+[\"'”’)\]]*$", sentence)
    if m:
        return f"{sentence[: m.start()]} {markers}{sentence[m.start():]}"
    return f"{sentence} {markers}"
