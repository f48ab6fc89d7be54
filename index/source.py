from pydantic import BaseModel, Field


class Source(BaseModel):
    """A passage of a document, carried unchanged from the store to the user.

    `start`/`end` are character offsets in the document, so `document_text[start:end] == text`.
    `n` is the citation number used in an answer (None while uncited); `highlights` are
    document offsets of the sentences that support the claims citing it.
    """

    id: str
    document: str
    text: str
    start: int
    end: int
    score: float
    page: int | None = None  # 1-based, for paged formats (PDF)
    n: int | None = None
    highlights: list[tuple[int, int]] = Field(default_factory=list)
