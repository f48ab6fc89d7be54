from typing import Literal

from pydantic import BaseModel, Field

from index import Source


class Sentence(BaseModel):
    """One sentence of the answer, the citation numbers attached to it, and whether evidence supports it."""

    text: str
    citations: list[int] = Field(default_factory=list)
    supported: bool = False


class Answer(BaseModel):
    question: str
    query: str = ""  # what was searched: the question rewritten to stand alone in a conversation
    text: str  # with [n] markers
    refused: bool
    sources: list[Source]  # the cited passages; source.n is the marker number
    passages: list[Source]  # everything retrieved: what was searched, cited or not
    sentences: list[Sentence] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)  # seconds: sources, first_token, total
    error: str | None = None  # the language model could not answer; `passages` still shows what was found
    # Why a refused answer was refused: no passage close enough ("retrieval"), the model said it does not
    # know ("model"), or no passage supports what it wrote ("unsupported"); `draft` is what it wrote.
    refusal: Literal["retrieval", "model", "unsupported"] | None = None
    draft: str | None = None

    def to_json(self) -> dict:
        """The CLI's and the web API's shape."""
        return {
            "question": self.question,
            "query": self.query or self.question,
            "answer": self.text,
            "refused": self.refused,
            "refusal": self.refusal,
            "draft": self.draft,
            "error": self.error,
            "sources": [
                {k: s.model_dump()[k] for k in ("n", "document", "page", "text", "start", "end", "score", "highlights")}
                for s in self.sources
            ],
            "sentences": [s.model_dump() for s in self.sentences],
            "timings": self.timings,
            "searched": [
                {k: p.model_dump()[k] for k in ("document", "start", "end", "score")} for p in self.passages
            ],
        }
