"""The OpenAI-compatible HTTP API, served for real on loopback and called with the official `openai` client.

The language model is the deterministic fake (tests/fakes.py) except in the tests marked `llm`;
the store, the embedding model, the citation check and the server are the real ones.
"""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from pydantic import PrivateAttr

import qa
from api.app import MAX_BODY, create_app
from api.server import asgi
from qa.service import REFUSED
from tests.apiserver import qa_serve, serving
from tests.conftest import SEEDS
from tests.fakes import ExtractiveLLM
from tests.stores import qa_main

QUESTION = "What guarantees does Russia demand?"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Settings of a store with two collections: the seed (the default, "seed") and "notes"."""
    root = tmp_path_factory.mktemp("api")
    notes = root / "notes"
    notes.mkdir()
    (notes / "lighthouse.md").write_text("The Skerry lighthouse was built in 1874 by the engineer Ada Brennan.\n")
    settings = qa.Settings(store={"dir": root / "store", "collection": "seed"})
    qa.index(SEEDS, settings=settings, progress=False)
    qa.index(notes, settings=settings.with_(store={"collection": "notes"}), progress=False)
    return settings


@pytest.fixture(scope="module")
def llm():
    return ExtractiveLLM(history=[])


@pytest.fixture(scope="module")
def base_url(store, llm):
    with serving(asgi(store, llm)) as url:
        yield url


@pytest.fixture
def client(base_url):
    from openai import OpenAI

    return OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=120)


def ask(client, *messages: str, model: str = "seedqa", stream: bool = False):
    turns = [{"role": "user" if i % 2 == 0 else "assistant", "content": m} for i, m in enumerate(messages)]
    return client.chat.completions.create(model=model, messages=turns, stream=stream)


def test_models_are_the_collections(client):
    assert [m.id for m in client.models.list().data] == ["seedqa", "seedqa:notes"]


def test_answer_carries_its_sources_as_data(client):
    got = ask(client, QUESTION)
    text = got.choices[0].message.content
    extra = got.model_extra
    assert got.object == "chat.completion" and got.choices[0].finish_reason == "stop"
    assert "[1]" in text and not extra["refused"] and extra["refusal"] is None
    cited = [r for r in extra["search_results"] if r["supported"]]
    assert cited and [r["n"] for r in cited] == list(range(1, len(cited) + 1))
    assert extra["search_results"][: len(cited)] == cited  # search_results[n-1] is [n], as citations[n-1]
    assert extra["citations"] == [r["citation"] for r in cited]
    assert extra["citations"][0].startswith("000_794d345c1f52b2db.txt#chars=")
    first = cited[0]
    assert first["highlights"] and all(first["start"] <= a < b <= first["end"] for a, b in first["highlights"])
    assert set(first) >= {"n", "title", "document", "text", "start", "end", "page", "score", "highlights", "supported"}
    assert any(s["citations"] for s in extra["sentences"])
    assert {"retrieve", "first_token", "generate", "check", "total"} <= set(extra["timings"])


def test_stream_carries_the_same_answer_and_ends_with_the_sources(client):
    whole = ask(client, QUESTION)
    chunks = list(ask(client, QUESTION, stream=True))
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    draft = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content", "") for c in chunks if c.choices)
    last = chunks[-1]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert content == whole.choices[0].message.content  # only the checked text is content
    assert draft and "[1]" not in draft  # the model's words as it wrote them, before the check
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["citations"] == whole.model_extra["citations"]
    assert last.model_extra["search_results"] == whole.model_extra["search_results"]
    # Open WebUI shows one source per "citation" event, in [n] order, and the check's verdict as a status line.
    events = [c.model_extra["event"] for c in chunks if "event" in (c.model_extra or {})]
    cited = [e["data"] for e in events if e["type"] == "citation"]
    assert [e["source"]["id"] for e in cited] == whole.model_extra["citations"]
    names = [e["source"]["name"] for e in cited]
    assert all("[" not in n and ", chars " in n for n in names) and len(set(names)) == len(names)  # told apart
    status = [e["data"]["description"] for e in events if e["type"] == "status"]
    assert status == ["Checked against the passages: this answers the question."]


def test_the_usual_sdk_streaming_loop_runs_unchanged(client):
    """Every chunk has its choice: `chunk.choices[0]` never fails, Open WebUI's events included."""
    text = ""
    for chunk in ask(client, QUESTION, stream=True):
        text += chunk.choices[0].delta.content or ""
    assert text == ask(client, QUESTION).choices[0].message.content


def test_usage_counts_what_the_model_read_and_wrote(client):
    got = ask(client, QUESTION)
    assert got.usage.prompt_tokens > 50 and got.usage.completion_tokens > 3
    assert got.usage.total_tokens == got.usage.prompt_tokens + got.usage.completion_tokens
    refused = ask(client, "Who won the 1998 football World Cup?")  # refused before the model: it read nothing
    assert refused.usage.total_tokens == 0


OPEN_WEBUI_TITLE = """### Task:
Generate a concise, 3-5 word title with an emoji summarizing the chat history.
### Guidelines:
- The title should clearly represent the main theme or subject of the conversation.
### Output:
JSON format: { "title": "your concise title here" }
### Chat History:
<chat_history>
USER: What guarantees does Russia demand from Ukraine and the West?
ASSISTANT: Neutral status [1].
</chat_history>"""


@pytest.mark.parametrize("stream", [False, True])
def test_open_webui_chores_are_answered_at_once_without_the_model(client, llm, stream):
    """Its title, tags and follow-up tasks are not questions about the documents: no model time, its JSON back."""
    llm.history.clear()
    follow_ups = OPEN_WEBUI_TITLE.replace('JSON format: { "title": "your concise title here" }',
                                          'JSON format: { "follow_ups": ["Question 1?", "Question 2?"] }')  # fmt: skip
    replies = []
    for prompt in (OPEN_WEBUI_TITLE, follow_ups):
        got = ask(client, prompt, stream=stream)
        replies.append(json.loads("".join(c.choices[0].delta.content or "" for c in got) if stream else got.choices[0].message.content))
    assert replies == [{"title": "What guarantees does Russia demand…"}, {"follow_ups": []}]
    assert llm.history == []  # the language model was not asked


def test_a_refusal_quotes_a_near_passage_as_a_source_to_open(client, llm):
    """When the model says it does not know, the refusal quotes the closest passage's nearest sentence, and Open
    WebUI gets that passage as a source it can open, named as not an answer."""
    llm.invent = "I don't know."
    try:
        whole = ask(client, QUESTION)
        events = [c.model_extra["event"] for c in ask(client, QUESTION, stream=True) if "event" in (c.model_extra or {})]
    finally:
        llm.invent = None
    assert whole.model_extra["refusal"] == "model" and "Not an answer" in whole.choices[0].message.content
    quoted = [e["data"] for e in events if e["type"] == "citation"]
    assert len(quoted) == 1 and quoted[0]["source"]["name"].startswith("closest passage, not an answer")
    assert quoted[0]["source"]["id"] == whole.model_extra["search_results"][0]["citation"]


def test_follow_up_is_answered_with_the_conversation(client, llm):
    first = ask(client, QUESTION)
    got = ask(client, QUESTION, first.choices[0].message.content, "And what did Britain offer?")
    assert "Conversation:" in llm.history[-2]  # the follow-up was rewritten first
    assert got.model_extra["query"] != "And what did Britain offer?"
    assert "condense" in got.model_extra["timings"]


def test_refusal_is_a_normal_answer_listing_what_was_searched(client):
    got = ask(client, "Who won the 1998 football World Cup?")
    extra = got.model_extra
    assert got.choices[0].message.content == REFUSED
    assert extra["refused"] and extra["refusal"] == "retrieval" and extra["citations"] == []
    assert extra["search_results"] and not any(r["supported"] or r["n"] for r in extra["search_results"])
    chunks = list(ask(client, "Who won the 1998 football World Cup?", stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == REFUSED
    assert chunks[-1].model_extra["refused"] and chunks[-1].model_extra["search_results"] == extra["search_results"]


def test_other_collection_is_another_model(client):
    got = ask(client, "Who built the Skerry lighthouse?", model="seedqa:notes")
    assert "Brennan" in got.choices[0].message.content
    assert got.model_extra["citations"][0].startswith("lighthouse.md#")


def test_bad_requests_are_openai_errors(client, base_url):
    import openai

    with pytest.raises(openai.BadRequestError) as e:
        ask(client, "  ?! ")
    assert e.value.body["code"] == "invalid_question" and "empty" in e.value.body["message"]
    with pytest.raises(openai.NotFoundError) as e:
        ask(client, QUESTION, model="seedqa:nothing")
    assert e.value.body["code"] == "model_not_found" and e.value.body["param"] == "model"
    post = lambda body, **kw: httpx.post(f"{base_url}/chat/completions", content=body, timeout=60, **kw)
    cases = {
        413: json.dumps({"messages": [{"role": "user", "content": "x" * MAX_BODY}]}),
        400: "{not json",
    }
    for status, body in cases.items():
        got = post(body)
        assert got.status_code == status and set(got.json()["error"]) == {"message", "type", "param", "code"}
    for body in ({}, {"messages": []}, {"messages": [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "x"}]}):
        got = post(json.dumps(body))
        assert got.status_code == 400 and got.json()["error"]["param"] == "messages", got.text
    got = httpx.get(f"{base_url}/nowhere")
    assert got.status_code == 404 and got.json()["error"]["code"] == "not_found"


def test_search_returns_passages_without_the_model(base_url, llm):
    asked = len(llm.history)
    got = httpx.post(f"{base_url}/search", json={"query": QUESTION, "k": 2}, timeout=60).json()
    assert len(got["results"]) == 2 and got["model"] == "seedqa"
    assert any("Grushko" in r["text"] for r in got["results"])
    assert len(llm.history) == asked  # no language model
    got = httpx.post(f"{base_url}/search", json={"query": "lighthouse", "collection": "notes", "max_results": 1}, timeout=60)
    assert [r["document"] for r in got.json()["results"]] == ["lighthouse.md"]
    assert httpx.post(f"{base_url}/search", json={"query": "x", "k": 99}).status_code == 400


def test_model_server_down_is_a_502(store):
    import openai
    from openai import OpenAI

    from tests.servers import garbage_server

    with garbage_server() as llm_url:
        settings = store.with_(llm={"base_url": llm_url, "model": "x", "timeout": 10})
        with serving(asgi(settings)) as url:
            client = OpenAI(base_url=url, api_key="unused", max_retries=0)
            for stream in (False, True):
                with pytest.raises(openai.APIStatusError) as e:
                    ask(client, QUESTION, stream=stream)
                assert e.value.status_code == 502 and "did not answer" in e.value.message


class GatedLLM(ExtractiveLLM):
    """Answers only once `gate` is set; counts how many answers it writes at once."""

    _gate: threading.Event = PrivateAttr(default_factory=threading.Event)
    _entered: threading.Event = PrivateAttr(default_factory=threading.Event)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _inside: list[int] = PrivateAttr(default_factory=lambda: [0, 0])  # now, most at once

    def stream_complete(self, prompt, formatted=False, **kwargs):
        with self._lock:
            self._inside[0] += 1
            self._inside[1] = max(self._inside)
        self._entered.set()
        self._gate.wait(60)
        try:
            yield from super().stream_complete(prompt, formatted, **kwargs)
        finally:
            with self._lock:
                self._inside[0] -= 1


def test_server_answers_while_the_model_writes_and_queues_questions(store):
    from openai import OpenAI

    llm = GatedLLM(history=[])
    with serving(asgi(store, llm)) as url:
        client = OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=60)
        questions = [QUESTION, "How much of its territory has Ukraine lost?"]
        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(ask, client, q) for q in questions]
            assert llm._entered.wait(60)
            # The model is busy: the event loop still answers.
            assert next(m.id for m in client.models.list().data) == "seedqa"
            llm._gate.set()
            answers = [f.result() for f in futures]
    assert llm._inside[1] == 1  # one answer written at a time
    assert "guarantees" in answers[0].choices[0].message.content.lower()
    assert "territory" in answers[1].choices[0].message.content.lower()


def test_the_key_is_a_secret():
    key = "s3cret-key-for-the-test"
    settings = qa.Settings(web={"api_key": key})
    assert key not in repr(settings) + str(settings.model_dump()) + settings.model_dump_json()


def test_a_key_is_needed_beyond_loopback(store, tmp_path):
    from openai import AuthenticationError, OpenAI

    out = qa_main("serve", "--host", "0.0.0.0", store_dir=store.store.dir, collection="seed")
    assert out.returncode == 2 and "QA_WEB_API_KEY" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    key = "s3cret-key-for-the-test"
    log = tmp_path / "serve.log"
    with qa_serve(store.store.dir, "seed", log, "--host", "0.0.0.0", QA_WEB_API_KEY=key) as url:
        got = httpx.get(f"{url}/models", timeout=30)
        assert got.status_code == 401 and got.json()["error"]["code"] == "invalid_api_key"
        with pytest.raises(AuthenticationError) as e:
            OpenAI(base_url=url, api_key="not-the-key", max_retries=0).models.list()
        assert e.value.body["code"] == "invalid_api_key"
        assert [m.id for m in OpenAI(base_url=url, api_key=key, max_retries=0).models.list().data] == ["seedqa", "seedqa:notes"]
    assert "/v1/models" in log.read_text() and key not in log.read_text()


def test_serve_refuses_a_missing_index_and_the_chat_leaves_an_unkeyed_api_off(tmp_path, capsys):
    from cli import api_routes

    out = qa_main("serve", store_dir=tmp_path / "nothing", collection="seed")
    assert out.returncode == 2 and out.stderr.startswith("error:") and len(out.stderr.strip().splitlines()) == 1
    settings = qa.Settings(store={"dir": tmp_path}, web={"host": "0.0.0.0"})
    assert api_routes(settings) == [] and "QA_WEB_API_KEY" in capsys.readouterr().err
    assert [r.path for r in api_routes(settings.with_(web={"api_key": "k"}))] == ["/v1"]


def test_web_chat_server_serves_the_api_too(store):
    from openai import OpenAI

    from cli import api_routes
    from bench.servers import free_port
    from ui.app import serve

    settings = store.with_(web={"port": free_port()})
    app = serve(settings, block=False, routes=api_routes(settings))
    try:
        base = f"http://127.0.0.1:{settings.web.port}"
        assert httpx.get(f"{base}/", timeout=30).status_code == 200  # the chat
        client = OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0)
        assert [m.id for m in client.models.list().data] == ["seedqa", "seedqa:notes"]
        got = httpx.post(f"{base}/v1/search", json={"query": QUESTION}, timeout=60).json()
        assert any("Grushko" in r["text"] for r in got["results"])
    finally:
        app.close()


def test_steps_are_exported_as_spans(store, llm):
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from api.telemetry import Telemetry

    exporter = InMemorySpanExporter()
    with serving(_mounted(create_app(store, llm, Telemetry(exporter, batch=False)))) as url:
        httpx.post(f"{url}/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}]}, timeout=60)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    root = spans["qa.chat.completions"]
    assert {"qa.retrieve", "qa.generate", "qa.check"} <= set(spans)
    assert all(spans[n].parent.span_id == root.context.span_id for n in ("qa.retrieve", "qa.generate", "qa.check"))
    assert root.attributes["qa.collection"] == "seed" and root.attributes["qa.sources"] >= 1
    assert spans["qa.retrieve"].end_time <= spans["qa.generate"].start_time <= spans["qa.check"].start_time <= root.end_time


def test_spans_reach_the_otlp_endpoint_the_environment_names(store, llm, monkeypatch):
    """OTEL_EXPORTER_OTLP_ENDPOINT set: the steps go to that collector over OTLP/HTTP (a stand-in receiver here)."""
    import http.server

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from api.telemetry import from_env

    received: list[tuple[str, bytes]] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    collector = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{collector.server_address[1]}")
    telemetry = from_env()
    try:
        with serving(_mounted(create_app(store, llm, telemetry))) as url:
            httpx.post(f"{url}/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}]},
                       headers={"traceparent": TRACEPARENT}, timeout=60)  # fmt: skip
        telemetry.shutdown()  # flushes the batch
    finally:
        collector.shutdown()
    spans = []
    for path, body in received:
        assert path == "/v1/traces"
        request = ExportTraceServiceRequest.FromString(body)
        spans += [s for r in request.resource_spans for ss in r.scope_spans for s in ss.spans]
    assert {"qa.chat.completions", "qa.retrieve", "qa.generate", "qa.check"} <= {s.name for s in spans}
    # The caller's trace continues: every span is in its trace, the request's span a child of its span.
    trace_id, parent_id = (bytes.fromhex(x) for x in TRACEPARENT.split("-")[1:3])
    assert {s.trace_id for s in spans} == {trace_id}
    assert [s.parent_span_id for s in spans if s.name == "qa.chat.completions"] == [parent_id]


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_no_spans_without_the_endpoint_and_a_hint_without_the_extra(monkeypatch, capsys):
    import sys

    from api.telemetry import from_env

    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert from_env() is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    assert from_env() is None
    assert "pip install seedqa[otel]" in capsys.readouterr().err


def _mounted(app):
    from fastapi import FastAPI
    from starlette.routing import Mount

    return FastAPI(routes=[Mount("/v1", app=app)])


@pytest.mark.llm
def test_real_model_answers_with_the_grushko_passage(store, tmp_path):
    """The embedded model, non-streaming and streaming: the Grushko passage is in the structured sources."""
    from openai import OpenAI

    with serving(asgi(store)) as url:
        client = OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=600)
        ask(client, "How much of its territory has Ukraine lost?")  # the model loaded, its instructions cached
        t0 = time.perf_counter()
        first_chunk, chunks = None, []
        for c in ask(client, QUESTION, stream=True):  # passages the model has not read yet
            first_chunk = first_chunk or time.perf_counter() - t0
            chunks.append(c)
        total = time.perf_counter() - t0
        whole = ask(client, QUESTION)
    for extra in (whole.model_extra, chunks[-1].model_extra):
        assert not extra["refused"]
        cited = [r for r in extra["search_results"] if r["supported"]]
        assert any("Grushko" in r["text"] for r in cited), extra["search_results"]
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    # Not compared word for word with `whole`: the same question can be worded otherwise after
    # another prompt (llama.cpp's reused prefix, docs/reliability.md); the fake-model tests compare.
    assert "[1]" in content and "[1]" in whole.choices[0].message.content
    timings = chunks[-1].model_extra["timings"]
    measured = {"first_sse_chunk_s": round(first_chunk, 3), "server_first_token_s": timings["first_token"],
                "stream_total_s": round(total, 3), "server_timings": timings}  # fmt: skip
    out = Path(__file__).resolve().parents[1] / "test-output" / "api"
    out.mkdir(parents=True, exist_ok=True)
    (out / "timings.json").write_text(json.dumps(measured, indent=1))
    print("api timings:", measured)


def test_serving_the_api_imports_no_web_chat_nor_model():
    import subprocess
    import sys

    code = ("import sys, cli, qa; cli._parser(); from api.server import asgi; asgi(qa.Settings()); "
            "print(sorted(m for m in ('gradio', 'llama_cpp', 'torch') if m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[1], check=True)
    assert out.stdout.strip() == "[]"


def test_chat_content_writes_markers_one_by_one():
    """Open WebUI joins adjacent markers ("[1][2]") into one chip for both sources; spaced, each is its own."""
    from api.shapes import content

    answer = qa.Answer(question="q", text="Neutral status [1][2]. And aid [3].", refused=False, sources=[], passages=[])
    assert content(answer) == "Neutral status [1] [2]. And aid [3]."


def test_open_webui_gets_each_source_with_its_supporting_sentences_in_bold():
    from api.shapes import marked_text

    text = "Prices rose. Russia demands neutrality. Talks went on."
    source = qa.Source(id="a", document="d.txt", text=text, start=100, end=100 + len(text), score=0.5, n=1,
                       highlights=[(113, 140)])  # fmt: skip
    assert marked_text(source) == "Prices rose. **Russia demands neutrality.** Talks went on."
