"""Attach citations from evidence: each answer sentence cites the passages that support it.

The model's own citation numbers are not trusted (a 1.5B model gets them wrong). A sentence is
supported by a passage when a sentence (or two adjacent sentences) of the passage shares most of
its content words or means nearly the same (embedding similarity), and every number and every
capitalised name in the answer sentence is in that span. A sentence with no support gets no citation.
"""

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index import Source
from qa.answer import Sentence

LEXICAL_MIN = 0.6  # share of the sentence's content words found in the passage span
SEMANTIC_MIN = 0.6  # cosine similarity, when at least LEXICAL_WITH_SEMANTIC of the words are shared
LEXICAL_WITH_SEMANTIC = 0.25
SAME_MEANING = 0.8  # cosine at which a span holds a claim even without sharing a word other than names
MARGIN = 0.15  # cite every passage whose support is within this of the best one
PAIR_PENALTY = 0.05  # prefer one sentence as the highlight unless two adjacent ones support clearly better

_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s|$)|\n\s*\n|\n")
# A single line break inside hard-wrapped prose is a space; after a short line (a heading, a list item) or
# before a list item or heading it ends the sentence, as a blank line always does.
_BLOCK = re.compile(r"\s*(?:[#>*•-]|\d+[.)]\s)")
SHORT_LINE = 50
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_NUMBER_WORDS = {
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "twenty", "thirty", "forty", "fifty", "hundred", "thousand", "thousands", "million", "billion",
    "first", "second", "third", "fourth", "fifth", "half", "quarter",
}  # fmt: skip
_DIGITS = {
    w: str(i)
    for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())
} | {"twenty": "20", "thirty": "30", "forty": "40", "fifty": "50"}
_STOP = set(
    "a an the and or but if of to in on at by for with from as into onto about over under than then so "
    "is are was were be been being has have had do does did will would can could should may might must "
    "it its it's this that these those there here they them their he him his she her we our you your i "
    "me my not no nor also just only very more most such which who whom whose what when where why how "
    "said says say according".split()
)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `text`, whitespace trimmed."""
    spans, start = [], 0
    for m in _END.finditer(text):
        if m.group() == "\n":
            line = text[text.rfind("\n", 0, m.start()) + 1 : m.start()]
            if len(line.strip()) >= SHORT_LINE and not _BLOCK.match(text, m.end()):
                continue  # a wrapped line: the sentence goes on
        before = text[start : m.start()].split()
        if m.group().startswith(".") and before and re.fullmatch(r"(?:[A-Z]\.?)+|Mr|Mrs|Ms|Dr|St|vs|etc", before[-1]):
            continue
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(text)))
    trimmed = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            trimmed.append((s, e))
    return trimmed


_stemmers = threading.local()  # a PyStemmer object is not safe to share between threads


def _stem(word: str) -> str:
    """The Snowball English stem, as BM25 stems (index.keyword): "days" and "day", "attacks" and "attacking"
    meet. A possessive is dropped first, whichever apostrophe it has."""
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        import Stemmer

        stemmer = _stemmers.english = Stemmer.Stemmer("english")
    return stemmer.stemWord(re.sub(r"['’]s$", "", word.lower()))


def content_words(text: str) -> set[str]:
    return {_DIGITS.get(w.lower()) or _stem(w) for w in _WORD.findall(text) if w.lower() not in _STOP}


def names(text: str) -> set[str]:
    """Capitalised words and acronyms (people, places, organisations), stemmed as passages' words are.

    Stemming drops a possessive whichever apostrophe it has: models write "Ukraine's" where the
    document has "Ukraine’s".
    """
    return {_stem(w) for w in _WORD.findall(text) if w[0].isupper() and w.lower() not in _STOP | _NUMBER_WORDS}


def _named(name: str, words: set[str]) -> bool:
    """`words` hold `name`, or the same name with an ending of at most two letters more or less:
    "Russia" in "Russian forces", "Korean" in "South Korea" (not "Austria" in "Australia")."""
    if name in words:
        return True
    if len(name) < 5:
        return False
    return any(
        abs(len(w) - len(name)) <= 2 and min(len(w), len(name)) >= 5 and (w.startswith(name) or name.startswith(w))
        for w in words
    )


def given_names(text: str, known: set[str]) -> set[str]:
    """Names of `text` that lead another name ("Alexander" of "Alexander Grushko") and that `known` holds.

    A passage that says "Grushko said ..." holds the claim "Alexander Grushko said ..." when the full
    name is elsewhere in what the model read: the surname carries the claim, and the first name is
    not invented. Without this, a second passage was cited for the first name alone.
    """
    words = _WORD.findall(text)
    leading = set()
    for w, nxt in zip(words, words[1:]):
        if w[0].isupper() and nxt[0].isupper() and w.lower() not in _STOP | _NUMBER_WORDS:
            leading.add(_stem(w))
    return leading & known


def numbers(text: str) -> set[str]:
    """The numbers of `text`, small ones as digits whichever way they are written ("three" and "3")."""
    words = {_DIGITS.get(w, w) for w in (w.lower() for w in _WORD.findall(text))}
    return {w for w in words if w.isdigit() or w in _NUMBER_WORDS}


@dataclass(frozen=True)
class _Span:
    passage: int
    start: int  # offsets in the passage text
    end: int
    pair: bool = False  # two adjacent sentences
    middle: int = 0  # of a pair: where its second sentence starts


@dataclass(frozen=True)
class _Facts:
    words: set[str]  # content-word stems
    numbers: set[str]
    names: set[str]  # in a sentence: its capitalised words; in a span: every word, to look names up in

    @classmethod
    def of(cls, text: str) -> "_Facts":
        every = {w.lower() for w in _WORD.findall(text)}
        return cls(content_words(text), numbers(text), every | {_stem(w) for w in every})


@dataclass(frozen=True)
class _Anchor:
    """One sentence of a two-sentence span: its numbers and the names it mentions."""

    numbers: set[str]
    names: set[str]

    @classmethod
    def of(cls, text: str) -> "_Anchor":
        return cls(numbers(text), names(text))


_PRONOUN = re.compile(r"\s*(?:It|Its)\b")


def _pair_anchors(first: str, second: str) -> list[_Anchor]:
    """The two sentences of a pair; a second that begins with "It" ("It was first lit in 1852") speaks of the
    first one's subject, so the first's names count as its own. Not "He" or "They": in news a person's
    pronoun often follows a sentence naming other parties ("He notes that Ukraine ... has lost one fifth"
    after a sentence naming Russia)."""
    a, b = _Anchor.of(first), _Anchor.of(second)
    if _PRONOUN.match(second):
        b = _Anchor(b.numbers, b.names | a.names)
    return [a, b]


def _support(
    text: str,
    sentence: "_Facts",
    spans: list[_Span],
    facts: list[_Facts],
    similarity: np.ndarray,
    anchors: list[list[_Anchor]],
    asked: "_Facts | None" = None,
    offtopic: bool = False,
) -> list[tuple[int, _Span, float]]:
    """The spans that support one answer sentence.

    First one span alone must hold the sentence's words (or its meaning), numbers and names; every
    passage with such a span within MARGIN of the best is cited. In a span of two sentences the
    claim's numbers must be in one of them (`anchors`) that names one of the claim's names or no one:
    "Russia has lost one fifth" is not supported by a sentence naming Russia followed by one saying
    Ukraine "has lost one fifth"; "Southern California has two metropolitan areas" is, by one naming
    Southern California followed by "The region is home to two metropolitan areas". Failing that, a sentence that
    joins facts from two passages is supported by the best pair of spans that together hold them,
    if it has three content words or more, each of its numbers sits beside another of its words, and
    it repeats no word of the question that is in no passage (`offtopic`).
    A bare number ("3", "1950": a short answer) says nothing of what it counts: its span must also
    hold a word of the question other than a name, or two of its names (`asked`), or "How many
    soldiers has Russia lost?" would be answered from "three employees" in a sentence naming Russia.
    """
    words, nums, proper = sentence.words, sentence.numbers, sentence.names
    plain = words - {_stem(w) for w in _WORD.findall(text) if w[0].isupper()}  # the claim's words that are not names
    content = plain - (asked.words if asked else set())  # and not the question's
    if not words:
        return []
    if words <= nums:
        keep = [j for j, f in enumerate(facts) if asked and (f.words & asked.words or len(f.names & asked.names) >= 2)]
        spans, facts, anchors = [spans[j] for j in keep], [facts[j] for j in keep], [anchors[j] for j in keep]
        similarity = similarity[keep]
    scored: list[tuple[float, int, bool, bool]] = []
    for j, span in enumerate(spans):
        lexical = len(words & facts[j].words) / len(words)
        if lexical < LEXICAL_WITH_SEMANTIC:
            continue
        semantic = float(similarity[j])
        alone = (lexical >= LEXICAL_MIN or semantic >= SEMANTIC_MIN) and nums <= facts[j].numbers
        alone = alone and all(_named(n, facts[j].names) for n in proper)
        alone = alone and (not nums or any(nums <= a.numbers and (not a.names or a.names & proper) for a in anchors[j]))
        # Names are not the claim: a span sharing only them ("Moscow" of a drone attack on Moscow, for a claim
        # about Moscow's demands) holds the claim only if it says nearly the same thing. Words the claim
        # takes from the question are not its content ("Grushko is quoted in the article" for "Who is
        # quoted in the article?": the name is the answer).
        claimed = not content or bool(content & facts[j].words) or semantic >= SAME_MEANING
        scored.append(((lexical + semantic) / 2 - (PAIR_PENALTY if span.pair else 0.0), j, alone, claimed))
    scored.sort(reverse=True)
    best: dict[int, tuple[_Span, float, bool]] = {}
    for score, j, alone, claimed in scored:
        if alone and claimed and spans[j].passage not in best:
            best[spans[j].passage] = (spans[j], score, claimed)
    if best:
        top = max(score for _, score, _ in best.values())
        return [(p, span, score) for p, (span, score, _) in best.items() if score >= top - MARGIN]
    if len(words) < 3 or offtopic:
        # A phrase is one fact: it is not pieced together from two passages. Nor is a claim that repeats
        # a word of the question no passage has ("When will the peace summit take place?" over a
        # document that never mentions a summit): joining two passages' words would invent its subject.
        return []
    candidates = [j for _, j, _, _ in scored[:8]]
    pairs = []
    for a in candidates:
        for b in candidates:
            if spans[a].passage >= spans[b].passage:
                continue
            fa, fb = facts[a], facts[b]
            covered = words & (fa.words | fb.words)
            if not (plain & fa.words - fb.words and plain & fb.words - fa.words):
                continue  # each passage must add something of its own, and more than a name: the claim's content
            beside = (content - nums) or (words - nums)  # the claim's own words; the question's only if it has none
            if any(nums & f.numbers and not beside & f.words for f in (fa, fb)):
                continue  # a number counts only beside a word of the claim ("3 hours" is not "three years" + "hours")
            if len(covered) / len(words) >= LEXICAL_MIN and nums <= fa.numbers | fb.numbers and all(
                _named(n, fa.names | fb.names) for n in proper
            ):
                pairs.append((len(covered) / len(words), a, b))
    if not pairs:
        return []
    score, a, b = max(pairs)
    return [(spans[a].passage, spans[a], score), (spans[b].passage, spans[b], score)]


class _Prefixes:
    """Word stems, where a long word also matches one that begins the same ("Russian", "Russia")."""

    def __init__(self, words: set[str]) -> None:
        self.words = words
        self.heads = {w[:5] for w in words if len(w) >= 5}

    def __contains__(self, word: str) -> bool:
        return word in self.words or (len(word) >= 5 and word[:5] in self.heads)


def attribute(
    answer: str, passages: Sequence[Source], embed: Callable[[list[str]], list[list[float]]], question: str = ""
) -> tuple[list[str], list[list[tuple[int, _Span, float]]]]:
    """Split `answer` into sentences; for each, the supporting passage spans as (passage, span, score)."""
    sentences = [answer[s:e] for s, e in sentence_spans(answer)]
    spans: list[_Span] = []
    for i, p in enumerate(passages):
        inner = sentence_spans(p.text)
        spans += [_Span(i, s, e) for s, e in inner]
        spans += [_Span(i, a[0], b[1], pair=True, middle=b[0]) for a, b in zip(inner, inner[1:])]
    if not sentences or not spans:
        return sentences, [[] for _ in sentences]
    span_texts = [passages[s.passage].text[s.start : s.end] for s in spans]
    vectors = np.asarray(embed(sentences + span_texts), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
    similarity = vectors[: len(sentences)] @ vectors[len(sentences) :].T

    facts = [_Facts.of(t) for t in span_texts]
    anchors = [
        _pair_anchors(passages[s.passage].text[s.start : s.middle], passages[s.passage].text[s.middle : s.end])
        if s.pair
        else [_Anchor(facts[j].numbers, set())]
        for j, s in enumerate(spans)
    ]
    proper = names(question)
    asked = _Facts(content_words(question) - proper - numbers(question), set(), proper)
    read = set().union(*(f.names for f in facts))
    known = _Prefixes(set().union(*(f.words for f in facts)))
    topic = content_words(question)
    support = []
    for i, sentence in enumerate(sentences):
        claim = _Facts(content_words(sentence), numbers(sentence), names(sentence) - given_names(sentence, read))
        offtopic = any(w not in known for w in claim.words & topic)
        support.append(_support(sentence, claim, spans, facts, similarity[i], anchors, asked, offtopic))
    return sentences, support


def cite(
    answer: str, passages: Sequence[Source], embed: Callable[[list[str]], list[list[float]]], question: str = ""
) -> tuple[str, list[Sentence], list[Source]]:
    """The answer to `question` with [n] markers, its sentences, and the cited passages numbered by first use.

    Cited sources carry the document offsets of the spans that support the sentences citing them.
    """
    texts, support = attribute(answer, passages, embed, question)
    numbering: dict[int, int] = {}
    highlights: dict[int, list[tuple[int, int]]] = {}
    sentences, parts = [], []
    for text, found in zip(texts, support):
        cited = []
        for p, span, _ in sorted(found, key=lambda f: f[0]):
            n = numbering.setdefault(p, len(numbering) + 1)
            cited.append(n)
            base = passages[p].start
            spot = (base + span.start, base + span.end)
            if spot not in highlights.setdefault(p, []):
                highlights[p].append(spot)
        cited = sorted(cited)
        sentences.append(Sentence(text=text, citations=cited, supported=bool(cited)))
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
