from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, Field

from index import Source


class Sentence(BaseModel):
    """One sentence of the answer, the citation numbers attached to it, and whether evidence supports it."""

    text: str
    citations: list[int] = Field(default_factory=list)
    supported: bool = False
    score: float | None = None  # the verifier's probability for its best-matching span, cited or not


def highlight_segments(text: str, start: int, highlights: Iterable[tuple[int, int]]) -> list[tuple[str, bool]]:
    """A passage's `text` cut into (piece, is_highlighted) in order, the pieces joining back into `text`.

    `highlights` are document offsets (as `Source.highlights`) and `start` is the passage's own
    document offset. Spans are sorted, clipped to the passage and merged where they overlap or
    touch, so a passage's highlights are the same in the web chat, in the eval report and to the
    citation metric. Plain arguments rather than a `Source`: the report reads sources back from JSON.
    """
    pieces: list[tuple[str, bool]] = []
    at = 0
    for a, b in sorted(highlights):
        a, b = max(a - start, at), min(b - start, len(text))
        if a >= b:
            continue
        if a > at:
            pieces.append((text[at:a], False))
        if a == at and pieces and pieces[-1][1]:
            pieces[-1] = (pieces[-1][0] + text[a:b], True)
        else:
            pieces.append((text[a:b], True))
        at = b
    if at < len(text):
        pieces.append((text[at:], False))
    return pieces


class Check(BaseModel):
    """The answerhood check of one answer: passed or not, the probability, and the scores behind it."""

    passed: bool
    probability: float | None = None  # that the answer answers the question, from the fitted decision
    threshold: float = 0.5
    method: Literal["verifier", "none"] = "none"  # "none": not checked
    scores: dict[str, float] = Field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """The check's outcome in words, for a reader (the scores are in `reason` and `scores`)."""
        if self.method == "none" or self.probability is None:
            return "Not checked."
        if self.passed:
            return "Checked against the passages: this answers the question."
        return "Checked against the passages: the draft did not answer the question, so it was withdrawn."

    @property
    def reason(self) -> str:
        if self.method == "none" or self.probability is None:
            return "not checked"
        verdict = "answers the question" if self.passed else "does not answer the question"
        return f"{verdict}: p={self.probability:.2f}, threshold {self.threshold:.2f}"


class Answer(BaseModel):
    question: str
    query: str = ""  # what was searched: the question rewritten to stand alone in a conversation
    text: str  # with [n] markers
    refused: bool
    sources: list[Source]  # the cited passages; source.n is the marker number
    passages: list[Source]  # everything retrieved: what was searched, cited or not
    sentences: list[Sentence] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)  # seconds: sources, first_token, total
    tokens: dict[str, int] = Field(default_factory=dict)  # what the model read ("prompt") and wrote ("completion")
    error: str | None = None  # the language model could not answer; `passages` still shows what was found
    # Why a refused answer was refused: no passage close enough ("retrieval"), the model said it does not
    # know ("model"), no passage supports what it wrote ("unsupported"), or what it wrote does not answer
    # the question (the answerhood "check"); `draft` is what it wrote.
    refusal: Literal["retrieval", "model", "unsupported", "check"] | None = None
    draft: str | None = None
    context: list[str] = Field(default_factory=list)  # what the model read of each passage (qa.excerpts)
    check: Check | None = None  # the answerhood check, for answers that got that far
    quoted: Source | None = None  # the passage a refusal quotes (not an answer), for the reader to open

    def to_json(self) -> dict:
        """The CLI's and the web API's shape."""
        return {
            "question": self.question,
            "query": self.query or self.question,
            "answer": self.text,
            "refused": self.refused,
            "refusal": self.refusal,
            "draft": self.draft,
            "check": self.check and {**self.check.model_dump(), "reason": self.check.reason},
            "error": self.error,
            "sources": [
                {k: s.model_dump()[k] for k in ("n", "document", "page", "text", "start", "end", "score", "highlights")}
                for s in self.sources
            ],
            "sentences": [s.model_dump() for s in self.sentences],
            "timings": self.timings,
            "quoted": self.quoted and {k: self.quoted.model_dump()[k] for k in ("document", "page", "text", "start", "end")},
            "searched": [
                {k: p.model_dump()[k] for k in ("document", "start", "end", "score")} for p in self.passages
            ],
        }
