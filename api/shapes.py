"""The JSON the HTTP API answers with: OpenAI's chat completion objects, plus the sources as data.

The sources follow Perplexity's API: `citations` (one string per cited source, `citations[n-1]` is
`[n]`) and `search_results` (one object per passage searched, the cited ones first in marker order,
so `search_results[n-1]` is `[n]` too). Open WebUI reads neither; it shows a source for each
`event` of type "citation" in a stream chunk, so a stream carries those as well, each in a chunk
with its one (empty) choice, as every chunk has. docs/api.md
documents every field.
"""

import re
import time
import uuid
from typing import Any

from qa import Answer, Source, highlight_segments

DRAFT_NOTE = "Draft, as the model writes it; shown as the answer only once checked against the passages:\n\n"
MODEL = "seedqa"  # the default collection's model id; another collection is "seedqa:<name>"


def model_id(collection: str, default: str) -> str:
    return MODEL if collection == default else f"{MODEL}:{collection}"


def collection_of(model: str | None, default: str) -> str:
    """The collection a model id names: "seedqa" the default one, "seedqa:x" (or plain "x") collection x."""
    if not model or model == MODEL:
        return default
    return model.removeprefix(f"{MODEL}:")


def content(answer: Answer) -> str:
    """The answer's text as chat content: its markers one by one ("[1] [2]"), since chat clients that read
    markers (Open WebUI) join adjacent ones ("[1][2]") into one chip for both sources."""
    return re.sub(r"\](?=\[\d)", "] ", answer.text)


def error_body(message: str, type: str = "invalid_request_error", param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def citation(source: Source) -> str:
    """One source as a string, where Perplexity puts a URL: the document and the passage's character range."""
    page = f"page={source.page}&" if source.page else ""
    return f"{source.document}#{page}chars={source.start}-{source.end}"


def search_result(source: Source, supported: bool = False) -> dict:
    """One passage: `supported` is true when the answer cites it (a sentence passed its checks on it)."""
    return {
        "n": source.n,
        "title": source.document,
        "document": source.document,
        "citation": citation(source),
        "text": source.text,
        "start": source.start,
        "end": source.end,
        "page": source.page,
        "score": round(source.score, 4),
        "highlights": [list(h) for h in source.highlights],
        "supported": supported,
    }


def search_results(answer: Answer) -> list[dict]:
    """The cited sources by marker number, then the other passages searched, best first."""
    cited = {s.id for s in answer.sources}
    return [search_result(s, True) for s in answer.sources] + [
        search_result(p) for p in answer.passages if p.id not in cited
    ]


def step_timings(answer: Answer, marks: dict[str, float], start: float) -> dict[str, float]:
    """Seconds per step. `marks` are perf_counter times at which the API saw each event of the stream.

    retrieve: search (after any follow-up rewrite, `condense`); first_token: from the request's
    arrival; generate: from the sources to the last word (waiting for the model included);
    check: the citation check; total: the request.
    """
    own = answer.timings
    out = {}
    if "condense" in own:
        out["condense"] = own["condense"]
    if "sources" in own:
        out["retrieve"] = own["sources"] - own.get("condense", 0.0)
    if "first" in marks:
        out["first_token"] = marks["first"] - start
        out["generate"] = marks["last"] - marks["sources"]
        out["check"] = marks["answer"] - marks["last"]
    out["total"] = marks["answer"] - start
    return {k: round(max(v, 0.0), 4) for k, v in out.items()}


def extras(answer: Answer, timings: dict[str, float]) -> dict[str, Any]:
    """The fields beside OpenAI's that carry the citations and how the answer was reached."""
    return {
        "citations": [citation(s) for s in answer.sources],
        "search_results": search_results(answer),
        "refused": answer.refused,
        "refusal": answer.refusal,
        "check": answer.check and {**answer.check.model_dump(), "reason": answer.check.reason},
        "query": answer.query or answer.question,
        "sentences": [s.model_dump() for s in answer.sentences],
        "timings": timings,
        "usage": usage(answer),
    }


def new_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def completion(cid: str, model: str, answer: Answer | str, timings: dict[str, float] | None = None) -> dict:
    """A chat.completion of an `answer`, with its sources and checks; or of plain text (an Open WebUI chore)."""
    text = answer if isinstance(answer, str) else content(answer)
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        **(extras(answer, timings or {}) if isinstance(answer, Answer) else {"usage": usage(None)}),
    }


def chunk(cid: str, model: str, delta: dict, finish: str | None = None, **fields: Any) -> dict:
    """A chat.completion.chunk. Every chunk has its one choice, so the usual `chunk.choices[0]` of client code
    never fails: an Open WebUI event rides in `event` beside an empty delta."""
    choices = [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
    return {
        "id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
        "choices": choices, **fields,
    }  # fmt: skip


def source_name(source: Source) -> str:
    """A passage as a reader tells it from another of the same document: its name and character range."""
    page = f", page {source.page}" if source.page else ""
    return f"{source.document}{page}, chars {source.start}-{source.end}"


def marked_text(source: Source) -> str:
    """The passage with its supporting sentences in bold (Markdown), as Open WebUI shows a source's text."""
    pieces = highlight_segments(source.text, source.start, source.highlights)
    return "".join(f"**{t.strip()}**{' ' if t.endswith(' ') else ''}" if marked and t.strip() else t for t, marked in pieces)


def _source_event(source: Source, name: str) -> dict:
    return {
        "type": "citation",
        "data": {
            "document": [marked_text(source)],
            "metadata": [{"source": citation(source), "name": name, "page": source.page}],
            "source": {"id": citation(source), "name": name},
            "distances": [round(source.score, 4)],
        },
    }


def openwebui_events(answer: Answer) -> list[dict]:
    """Open WebUI's events for an answer: one "citation" per cited source, in marker order, so its [n] links
    to the right one (Open WebUI numbers them itself); the passage a refusal quotes, named as not an answer;
    and the answerhood check's verdict in words as a "status" line."""
    events = [_source_event(s, source_name(s)) for s in answer.sources]
    if answer.quoted is not None:
        events.append(_source_event(answer.quoted, f"closest passage, not an answer: {source_name(answer.quoted)}"))
    if answer.check is not None:
        events.append({"type": "status", "data": {"description": answer.check.verdict, "done": True}})
    return events


def usage(answer: Answer | None) -> dict[str, int]:
    """OpenAI's token counts of the answer: what the model read and wrote (none for a refusal before it)."""
    tokens = answer.tokens if answer is not None else {}
    read, written = tokens.get("prompt", 0), tokens.get("completion", 0)
    return {"prompt_tokens": read, "completion_tokens": written, "total_tokens": read + written}
