"""The OpenAI-compatible HTTP API: /models, /chat/completions and /search (served under /v1).

Answers are the pipeline's checked answers: the text with its [n] markers, the sources as data
(`api.shapes`). Every error is an OpenAI-style error object. The pipeline runs in a worker thread
per request (`api.events`); the one language model takes questions one at a time, in order.
"""

import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

import qa
from api import chores, events, shapes
from api.telemetry import Telemetry, from_env, now_ns
from qa import Answer, NoCollection, Pipelines, Settings, UserError, clean_question

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

    from qa.service import Pipeline

MAX_BODY = 1_000_000  # bytes of a request body
log = logging.getLogger("seedqa.api")


class APIError(Exception):
    def __init__(self, status: int, message: str, type: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.status, self.body = status, shapes.error_body(message, type, param, code)


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: the text ones, joined
            return "\n".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens... are accepted and ignored
    model: str = shapes.MODEL
    messages: list[Message] = Field(min_length=1)
    stream: bool = False


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str
    k: int | None = Field(None, ge=1, le=20)
    max_results: int | None = Field(None, ge=1, le=20)  # Perplexity's name for k
    model: str | None = None
    collection: str | None = None


def conversation(messages: list[Message]) -> tuple[str, list[tuple[str, str]]]:
    """The last user message, and the (question, answer) pairs before it (`qa.conversation`)."""
    turns = [(m.role, m.text()) for m in messages]
    asked = [t for t in turns if t[0] in ("user", "assistant")]
    if not asked or asked[-1][0] != "user":
        raise APIError(400, "The last message must be the user's question.", param="messages", code="no_question")
    return asked[-1][1], qa.conversation(asked[:-1])


async def pipeline_of(pipelines: Pipelines, model: str | None, default: str) -> tuple[str, "Pipeline"]:
    """The collection a model id (or a collection name) names, and its pipeline; 404 when there is none."""
    name = shapes.collection_of(model, default)
    try:
        return name, await run_in_threadpool(pipelines.get, name)
    except NoCollection:
        raise APIError(404, f"There is no collection '{name}' (model '{model or shapes.MODEL}'). GET /v1/models lists "
                       "one model per collection.", param="model", code="model_not_found") from None  # fmt: skip
    except UserError as e:
        raise APIError(400, str(e), code="store_error") from None


def _body(model: type[BaseModel]) -> dict:
    """The OpenAPI request body of a route that reads its JSON itself (`read_json`): the schema of `model`."""

    def inline(node: Any, defs: dict) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
            return {k: inline(v, defs) for k, v in node.items() if k != "$defs"}
        return [inline(v, defs) for v in node] if isinstance(node, list) else node

    schema = model.model_json_schema()
    schema = inline(schema, schema.get("$defs", {}))
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def read_json(request: Request, model: type[BaseModel]) -> Any:
    """The body as `model`, refused when over MAX_BODY bytes, not JSON, or not the model's shape."""
    size = request.headers.get("content-length", "")
    if size.isdigit() and int(size) > MAX_BODY:
        raise APIError(413, f"The request body is {int(size):,} bytes; the limit is {MAX_BODY:,}.", code="body_too_large")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > MAX_BODY:
            raise APIError(413, f"The request body is over the limit of {MAX_BODY:,} bytes.", code="body_too_large")
    try:
        data = json.loads(body)
    except ValueError:
        raise APIError(400, "The request body is not valid JSON.", code="invalid_json") from None
    try:
        return model.model_validate(data)
    except ValidationError as e:
        errors = e.errors()
        wrong = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'body'}: {err['msg']}" for err in errors)
        param = ".".join(map(str, errors[0]["loc"])) or None
        raise APIError(400, f"Invalid request: {wrong}", param=param, code="invalid_request") from None


def create_app(settings: Settings, llm: "LLM | None" = None, telemetry: Telemetry | None = None) -> FastAPI:
    """The API over the store of `settings`, its routes at the root (mount it at /v1).

    `llm` replaces the configured language model; `telemetry` the exporter OTEL_ variables describe.
    """
    telemetry = telemetry or from_env()
    pipelines = Pipelines(settings, llm)
    default = settings.store.collection
    key = settings.web.api_key.get_secret_value().encode() if settings.web.api_key else None
    app = FastAPI(title="seedqa", version="1", docs_url=None, redoc_url=None, openapi_url="/openapi.json")

    @app.exception_handler(APIError)
    async def _api_error(request: Request, e: APIError) -> JSONResponse:
        return JSONResponse(e.body, status_code=e.status)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, e: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code)
        return JSONResponse(shapes.error_body(str(e.detail), code=code), status_code=e.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, e: Exception) -> JSONResponse:
        log.exception("unexpected error answering %s", request.url.path)
        return JSONResponse(shapes.error_body(f"Internal error: {type(e).__name__}", "server_error"), status_code=500)

    def authorised(request: Request) -> None:
        if key is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), key):
            raise APIError(401, "A valid API key is required: send the header 'Authorization: Bearer <QA_WEB_API_KEY>'.",
                           code="invalid_api_key")  # fmt: skip

    @app.get("/health", include_in_schema=False)
    async def health() -> dict:
        return {"status": "ok"}

    router = APIRouter(dependencies=[Depends(authorised)])

    @router.get("/models")
    async def models() -> dict:
        names = await run_in_threadpool(qa.collections, settings)
        default = settings.store.collection
        ordered = sorted(names, key=lambda n: (n != default, n))
        data = [{"id": shapes.model_id(n, default), "object": "model", "created": 0, "owned_by": "seedqa"} for n in ordered]
        return {"object": "list", "data": data}

    @router.post("/search", openapi_extra=_body(SearchRequest))
    async def search(request: Request) -> dict:
        start = time.perf_counter()
        body: SearchRequest = await read_json(request, SearchRequest)
        collection, pipeline = await pipeline_of(pipelines, body.collection or body.model, default)
        try:
            query = clean_question(body.query)
            found = await run_in_threadpool(pipeline.retrieve, query, body.k or body.max_results)
        except UserError as e:
            raise APIError(400, str(e), param="query", code="invalid_query") from None
        model = shapes.model_id(collection, default)
        return {"object": "search.results", "model": model, "query": query,
                "results": [shapes.search_result(p) for p in found],
                "timings": {"total": round(time.perf_counter() - start, 4)}}  # fmt: skip

    @router.post("/chat/completions", openapi_extra=_body(ChatRequest))
    async def chat(request: Request) -> Any:
        start, started_ns = time.perf_counter(), now_ns()
        body: ChatRequest = await read_json(request, ChatRequest)
        question, history = conversation(body.messages)
        if (chore := chores.reply(question)) is not None:  # Open WebUI's title, tags...: no model, no documents
            model = shapes.model_id(shapes.collection_of(body.model, default), default)
            return _plain(chore, model, body.stream)
        collection, pipeline = await pipeline_of(pipelines, body.model, default)
        model = shapes.model_id(collection, default)
        stream = events.stream(pipeline, question, history)
        # The status is decided at the first word or the answer, so a model that is down is a 502, not a 200.
        head: list[tuple[float, Any]] = []
        try:
            async for item in stream:
                head.append(item)
                if not isinstance(item[1], list):
                    break
        except UserError as e:
            await stream.aclose()
            raise APIError(400, str(e), param="messages", code="invalid_question") from None
        except BaseException:
            await stream.aclose()
            raise
        last = head[-1][1] if head else None
        if isinstance(last, Answer) and last.error:
            raise APIError(502, last.error, "api_error", code="llm_unavailable")
        run = _Run(start, started_ns, body.stream, collection, telemetry, request.headers.get("traceparent"))
        if body.stream:
            return StreamingResponse(
                run.sse(shapes.new_id(), model, head, stream), media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )  # fmt: skip
        answer = None
        async for item in _chain(head, stream):
            run.mark(*item)
            answer = item[1]
        if answer.error:
            raise APIError(502, answer.error, "api_error", code="llm_unavailable")
        return shapes.completion(shapes.new_id(), model, answer, run.timings(answer))

    app.include_router(router)
    return app


def _plain(text: str, model: str, stream: bool) -> Any:
    """A reply that is not an answer from the documents, as a completion or a stream of one."""
    cid = shapes.new_id()
    if not stream:
        return shapes.completion(cid, model, text)

    async def sse() -> AsyncIterator[str]:
        yield _data(shapes.chunk(cid, model, {"role": "assistant", "content": text}))
        yield _data(shapes.chunk(cid, model, {}, "stop", usage=shapes.usage(None)))
        yield "data: [DONE]\n\n"

    return StreamingResponse(sse(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


async def _chain(head: list, rest: AsyncIterator) -> AsyncIterator:
    for item in head:
        yield item
    async for item in rest:
        yield item


class _Run:
    """One answer on its way out: the times its events arrived, its timings and its spans."""

    def __init__(self, start: float, started_ns: int, streamed: bool, collection: str, telemetry: Telemetry | None,
                 traceparent: str | None = None) -> None:  # fmt: skip
        self.start, self.started_ns, self.streamed, self.collection = start, started_ns, streamed, collection
        self.telemetry, self.traceparent = telemetry, traceparent
        self.marks: dict[str, float] = {}

    def mark(self, at: float, event: Any) -> None:
        events.mark(self.marks, at, event)

    def timings(self, answer: Answer) -> dict[str, float]:
        timings = shapes.step_timings(answer, self.marks, self.start)
        if self.telemetry is not None:
            attributes = {"qa.collection": self.collection, "qa.stream": self.streamed, "qa.refused": answer.refused,
                          "qa.refusal": answer.refusal or "", "qa.sources": len(answer.sources),
                          "qa.error": bool(answer.error)}  # fmt: skip
            self.telemetry.record("qa.chat.completions", self.started_ns, timings, attributes, self.traceparent)
        return timings

    async def sse(self, cid: str, model: str, head: list, rest: AsyncIterator) -> AsyncIterator[str]:
        """The draft as `reasoning_content` while the model writes, then the checked answer as `content`.

        Only the checked text (with its [n] markers, or the refusal) is content: a client that
        concatenates content never shows a claim the check did not pass.
        """
        role = {"role": "assistant"}
        async for at, event in _chain(head, rest):
            self.mark(at, event)
            if isinstance(event, str):
                draft = event if not role else shapes.DRAFT_NOTE + event  # said once, before the first word
                yield _data(shapes.chunk(cid, model, {**role, "reasoning_content": draft}))
                role = {}
            elif isinstance(event, Answer):
                if event.error:  # the model server failed after it began: the status is sent already
                    yield _data(shapes.error_body(event.error, "api_error", code="llm_unavailable"))
                    break
                yield _data(shapes.chunk(cid, model, {**role, "content": shapes.content(event)}))
                for e in shapes.openwebui_events(event):
                    yield _data(shapes.chunk(cid, model, {}, event=e))
                yield _data(shapes.chunk(cid, model, {}, "stop", **shapes.extras(event, self.timings(event))))
        yield "data: [DONE]\n\n"


def _data(obj: dict) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"
