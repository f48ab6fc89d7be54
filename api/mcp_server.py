"""`qa mcp`: the documents as an MCP server over stdio, with the official `mcp` SDK.

Tools: `search_documents` (passages, no language model), `ask` (the checked, cited answer as
structured content) and `list_collections`. Each document indexed when the server starts is a
resource, `seedqa://<collection>/<document>`, its text rebuilt from its passages. Tools run in the
SDK's worker threads; the one language model answers one question at a time.
"""

from typing import TYPE_CHECKING
from urllib.parse import quote

from pydantic import BaseModel, Field

from api import shapes
from api.app import Pipelines
from qa import Settings, UserError

if TYPE_CHECKING:
    from llama_index.core.llms import LLM
    from mcp.server.mcpserver import MCPServer

    from qa import Source

INSTRUCTIONS = (
    "Searches and answers questions from the user's own indexed documents, offline. `ask` returns an answer "
    "whose sentences were checked against the passages and carry [n] markers for `sources[n-1]`; a refused "
    "answer means the documents do not say. Quote the sources when you use an answer."
)


class Passage(BaseModel):
    """A passage of a document; `n` is its [n] marker when the answer cites it."""

    n: int | None = None
    document: str
    citation: str = Field(description="document#chars=start-end")
    text: str
    start: int
    end: int
    page: int | None = None
    score: float
    highlights: list[list[int]] = Field(default_factory=list, description="document offsets of supporting sentences")
    supported: bool = False


class SearchResults(BaseModel):
    collection: str
    query: str
    results: list[Passage]


class CitedAnswer(BaseModel):
    text: str = Field(description="the answer, each supported sentence ending in [n] markers")
    refused: bool
    refusal: str | None = Field(None, description="retrieval, model, unsupported or check")
    check: str | None = Field(None, description="the answerhood check: whether the answer answers the question, and its score")
    query: str = Field(description="what was searched")
    sources: list[Passage] = Field(description="the cited passages; sources[n-1] is [n]")
    searched: list[Passage] = Field(description="every passage the answer was looked for in")
    timings: dict[str, float]


class Collections(BaseModel):
    default: str
    collections: list[str]


def _passage(source: "Source", supported: bool = False) -> Passage:
    return Passage.model_validate(shapes.search_result(source, supported))


def document_text(chunks: "list[Source]") -> str:
    """A document rebuilt from its overlapping passages, in order (the whitespace between passages aside)."""
    text, at = "", 0
    for c in sorted(chunks, key=lambda c: c.start):
        if c.start >= at:
            text += ("\n" if text and c.start > at else "") + c.text
        elif c.end > at:
            text += c.text[at - c.start :]
        at = max(at, c.end)
    return text


def build(settings: Settings, llm: "LLM | None" = None) -> "MCPServer":
    """The server over the store of `settings`; `llm` replaces the configured language model."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.server.mcpserver.resources import FunctionResource

    import qa

    pipelines = Pipelines(settings, llm)
    server = MCPServer("seedqa", instructions=INSTRUCTIONS)

    def pipeline(collection: str | None, k: int | None = None):
        try:
            return pipelines.get(pipelines.collection(collection), k)
        except UserError as e:
            raise ToolError(str(e)) from None

    @server.tool()
    def search_documents(query: str, k: int = 4, collection: str | None = None) -> SearchResults:
        """Find the passages of the documents closest to `query` (up to `k`, 1 to 20), without a language model."""
        from qa.service import clean_question

        if not 1 <= k <= 20:
            raise ToolError("k must be between 1 and 20")
        try:
            name = pipelines.collection(collection)
            query = clean_question(query)
        except UserError as e:
            raise ToolError(str(e)) from None
        found = pipelines.get(name, k).retrieve(query)
        return SearchResults(collection=name, query=query, results=[_passage(s) for s in found])

    @server.tool()
    def ask(question: str, collection: str | None = None) -> CitedAnswer:
        """Answer `question` from the documents only: sentences checked against the passages, cited as [n]."""
        try:
            answer = pipeline(collection).ask(question)
        except UserError as e:
            raise ToolError(str(e)) from None
        if answer.error:
            raise ToolError(f"The language model could not answer: {answer.error}")
        cited = {s.id for s in answer.sources}
        return CitedAnswer(
            text=answer.text, refused=answer.refused, refusal=answer.refusal, query=answer.query or answer.question,
            check=answer.check.reason if answer.check else None,
            sources=[_passage(s, True) for s in answer.sources],
            searched=[_passage(p, p.id in cited) for p in answer.passages],
            timings={k: round(v, 4) for k, v in answer.timings.items()},
        )  # fmt: skip

    @server.tool()
    def list_collections() -> Collections:
        """The collections of documents that can be searched and asked (`collection` of the other tools)."""
        return Collections(default=settings.store.collection, collections=qa.collections(settings))

    for name in qa.collections(settings):
        store = qa.open_store(settings.with_(store={"collection": name}))
        for document in sorted(store.documents()):
            server.add_resource(FunctionResource(
                uri=f"seedqa://{quote(name, safe='')}/{quote(document, safe='')}", name=document,
                description=f"document '{document}' of collection '{name}'", mime_type="text/plain",
                fn=lambda store=store, document=document: document_text(
                    [c for c in store.chunks() if c.document == document]),
            ))  # fmt: skip
    return server


def run(settings: Settings) -> None:
    """Serve over stdio until the client closes it. A missing index is reported now."""
    import qa

    qa.load(settings)
    build(settings).run("stdio")
