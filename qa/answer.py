from pydantic import BaseModel, Field

from index import Source


class Sentence(BaseModel):
    """One sentence of the answer, the citation numbers attached to it, and whether evidence supports it."""

    text: str
    citations: list[int] = Field(default_factory=list)
    supported: bool = False


class Answer(BaseModel):
    question: str
    text: str  # with [n] markers
    refused: bool
    sources: list[Source]  # the cited passages; source.n is the marker number
    passages: list[Source]  # everything retrieved: what was searched, cited or not
    sentences: list[Sentence] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)  # seconds: sources, first_token, total

    def to_json(self) -> dict:
        """The CLI's and the web API's shape."""
        return {
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "sources": [
                {k: s.model_dump()[k] for k in ("n", "document", "text", "start", "end", "score", "highlights")}
                for s in self.sources
            ],
            "sentences": [s.model_dump() for s in self.sentences],
            "timings": self.timings,
        }
