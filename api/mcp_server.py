"""`qa mcp`: the documents as an MCP server over stdio, with the official `mcp` SDK.

Tools: `search_documents` (passages, no language model), `ask` (the checked, cited answer as
structured content, with progress reported while it is written) and `list_collections`. Each
document is a resource, `seedqa://<collection>/<document>` (listed as the store holds them now, and
a template), its text rebuilt from its passages. Tools run in the SDK's worker threads; the one
language model answers one question at a time.
"""

import time
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from pydantic import BaseModel, Field

from api import events, shapes
from qa import Pipelines, Settings, UserError, clean_question

if TYPE_CHECKING:
    from llama_index.core.llms import LLM
    from mcp.server.mcpserver import MCPServer

    from qa import Answer, Source

URI = "seedqa://{collection}/{document}"  # names percent-encoded
PROGRESS_EVERY_S = 1.0  # between progress reports: a client whose timeout restarts on them may set it short
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
    check: str | None = Field(None, description="the answerhood check's verdict in words: whether the answer answers the question")
    query: str = Field(description="what was searched")
    sources: list[Passage] = Field(description="the cited passages; sources[n-1] is [n]")
    searched: list[Passage] = Field(description="every passage the answer was looked for in")
    timings: dict[str, float]


class Collections(BaseModel):
    default: str
    collections: list[str]


def _passage(source: "Source", supported: bool = False) -> Passage:
    return Passage.model_validate(shapes.search_result(source, supported))


def cited_answer(answer: "Answer", timings: dict[str, float]) -> CitedAnswer:
    """The answer as the `ask` tool returns it: `searched` carries each cited passage's marker number too."""
    numbers = {s.id: s.n for s in answer.sources}
    return CitedAnswer(
        text=answer.text, refused=answer.refused, refusal=answer.refusal, query=answer.query or answer.question,
        check=answer.check.verdict if answer.check else None,
        sources=[_passage(s, True) for s in answer.sources],
        searched=[_passage(p.model_copy(update={"n": numbers.get(p.id)}), p.id in numbers) for p in answer.passages],
        timings=timings,
    )  # fmt: skip


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
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.exceptions import ResourceError, ToolError

    import qa

    pipelines = Pipelines(settings, llm)
    server = MCPServer("seedqa", instructions=INSTRUCTIONS)

    def pipeline(collection: str | None):
        try:
            return pipelines.get(collection)
        except UserError as e:
            raise ToolError(str(e)) from None

    @server.tool()
    def search_documents(query: str, k: int = 4, collection: str | None = None) -> SearchResults:
        """Find the passages of the documents closest to `query` (up to `k`, 1 to 20), without a language model."""
        if not 1 <= k <= 20:
            raise ToolError("k must be between 1 and 20")
        try:
            query = clean_question(query)
        except UserError as e:
            raise ToolError(str(e)) from None
        found = pipeline(collection).retrieve(query, k)
        return SearchResults(collection=collection or settings.store.collection, query=query, results=[_passage(s) for s in found])

    @server.tool()
    async def ask(question: str, ctx: Context, collection: str | None = None) -> CitedAnswer:
        """Answer `question` from the documents only: sentences checked against the passages, cited as [n].

        Progress is reported every few seconds until the answer is ready (a client restarts its timeout at each)."""
        start, marks, answer, step, doing = time.perf_counter(), {}, None, 0, "searching the documents"
        try:
            async for item in events.ticking(events.stream(pipeline(collection), question), PROGRESS_EVERY_S):
                if item is None:
                    step += 1
                    await ctx.report_progress(step, message=doing)
                    continue
                at, event = item
                events.mark(marks, at, event)
                if isinstance(event, list):
                    doing = f"found {len(event)} passages; writing the answer"
                elif not isinstance(event, str):
                    answer = event
        except UserError as e:
            raise ToolError(str(e)) from None
        if answer is None or answer.error:
            raise ToolError(f"The language model could not answer: {answer.error if answer else 'no answer'}")
        return cited_answer(answer, shapes.step_timings(answer, marks, start))

    @server.tool()
    def list_collections() -> Collections:
        """The collections of documents that can be searched and asked (`collection` of the other tools)."""
        return Collections(default=settings.store.collection, collections=qa.collections(settings))

    @server.resource(URI, name="document", description="a document of a collection, its text rebuilt from its passages",
                     mime_type="text/plain")  # fmt: skip
    def read_document(collection: str, document: str) -> str:
        name, document = unquote(collection), unquote(document)
        try:
            chunks = [c for c in qa.open_store(settings.with_(store={"collection": name})).chunks() if c.document == document]
        except UserError as e:
            raise ResourceError(str(e)) from None
        if not chunks:
            raise ResourceError(f"There is no document '{document}' in collection '{name}'.")
        return document_text(chunks)

    async def list_resources() -> list:
        """Every document of every collection as it is now: those indexed after the server started too."""
        from mcp.types import Resource

        return [
            Resource(uri=URI.format(collection=quote(name, safe=""), document=quote(document, safe="")), name=document,
                     description=f"document '{document}' of collection '{name}'", mime_type="text/plain")
            for name in qa.collections(settings)
            for document in sorted(qa.open_store(settings.with_(store={"collection": name})).documents())
        ]  # fmt: skip

    server.list_resources = list_resources  # the SDK lists what it was given at start; documents come and go
    return server


def run(settings: Settings) -> None:
    """Serve over stdio until the client closes it. A missing index is reported now."""
    import qa

    qa.load(settings)
    build(settings).run("stdio")
