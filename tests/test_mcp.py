"""`qa mcp` over stdio, driven by the `mcp` SDK's own client: the real command in a subprocess on a test store."""

import os
import sys
from pathlib import Path

import anyio
import pytest

import qa
from tests.conftest import SEEDS

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What guarantees does Russia demand?"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    settings = qa.Settings(store={"dir": tmp_path_factory.mktemp("mcp") / "store", "collection": "seed"})
    qa.index(SEEDS, settings=settings, progress=False)
    return settings


def session(store, calls):
    """Run `calls(client)` against `python -m cli mcp` on the store; returns what it returns."""
    from mcp import Client, StdioServerParameters

    env = {**os.environ, "QA_STORE_DIR": str(store.store.dir), "QA_STORE_COLLECTION": "seed"}
    server = StdioServerParameters(command=sys.executable, args=["-m", "cli", "mcp"], env=env, cwd=str(ROOT))

    async def main():
        async with Client(server, read_timeout_seconds=600) as client:
            return await calls(client)

    return anyio.run(main)


def test_tools_search_collections_and_documents(store):
    async def calls(client):
        tools = await client.list_tools()
        found = await client.call_tool("search_documents", {"query": QUESTION, "k": 3})
        collections = await client.call_tool("list_collections", {})
        bad = await client.call_tool("search_documents", {"query": QUESTION, "collection": "nothing"})
        resources = await client.list_resources()
        text = await client.read_resource(resources.resources[0].uri)
        return tools, found, collections, bad, resources, text

    tools, found, collections, bad, resources, text = session(store, calls)
    assert {t.name for t in tools.tools} == {"search_documents", "ask", "list_collections"}
    results = found.structured_content["results"]
    assert len(results) == 3 and any("Grushko" in r["text"] for r in results)
    assert results[0]["citation"].startswith("000_794d345c1f52b2db.txt#chars=")
    assert collections.structured_content == {"default": "seed", "collections": ["seed"]}
    assert bad.is_error and "nothing" in bad.content[0].text
    assert [str(r.uri) for r in resources.resources] == ["seedqa://seed/000_794d345c1f52b2db.txt"]
    assert "Grushko" in text.contents[0].text


@pytest.mark.llm
def test_ask_returns_the_checked_cited_answer(store):
    """With progress while it is written (a client's timeout restarts at each), and the HTTP API's timings."""
    progress = []

    async def on_progress(value, total, message):
        progress.append((value, message))

    async def calls(client):
        return await client.call_tool("ask", {"question": QUESTION}, progress_callback=on_progress)

    got = session(store, calls)
    answer = got.structured_content
    assert any("passages" in message for _, message in progress)
    assert [v for v, _ in progress] == sorted({v for v, _ in progress})  # each report further on
    assert {"retrieve", "first_token", "generate", "check", "total"} <= set(answer["timings"])
    cited = {s["citation"]: s["n"] for s in answer["sources"]}
    assert {p["citation"]: p["n"] for p in answer["searched"] if p["supported"]} == cited  # the numbers, in searched too
    assert not got.is_error and not answer["refused"] and "[1]" in answer["text"]
    assert [s["n"] for s in answer["sources"]] == list(range(1, len(answer["sources"]) + 1))
    assert any("Grushko" in s["text"] for s in answer["sources"])
    assert all(s["supported"] and s["highlights"] for s in answer["sources"])


def test_documents_indexed_after_the_server_started_are_resources(tmp_path):
    """The resources are the store as it is when listed: a document added while the server runs is there."""
    first, added = tmp_path / "docs" / "lighthouse.md", tmp_path / "ferry.md"
    first.parent.mkdir()
    first.write_text("The Skerry lighthouse was designed by Thomas Brennan in 1881.\n", encoding="utf-8")
    added.write_text("The Skerry ferry leaves the harbour at nine every morning.\n", encoding="utf-8")
    store = qa.Settings(store={"dir": tmp_path / "store", "collection": "seed"})
    qa.index(first.parent, settings=store, progress=False)

    async def calls(client):
        before = await client.list_resources()
        qa.add_files([added], settings=store, progress=False)
        after = await client.list_resources()
        text = await client.read_resource("seedqa://seed/ferry.md")
        return before, after, text

    before, after, text = session(store, calls)
    uris = {str(r.uri) for r in after.resources}
    assert "seedqa://seed/ferry.md" in uris and "seedqa://seed/ferry.md" not in {str(r.uri) for r in before.resources}
    assert "leaves the harbour at nine" in text.contents[0].text


INSPECTOR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "seedqa" / "inspector-0.15.0" / "node_modules" / ".bin" / "mcp-inspector-cli"


@pytest.mark.llm
def test_the_official_mcp_inspector_gets_a_cited_answer(store):
    """An MCP client nobody here wrote (the MCP Inspector's CLI, scripts/inspector.sh, run by `make test`)
    lists the tools and resources and asks the card's question: a checked answer with its sources."""
    import json
    import subprocess

    assert INSPECTOR.exists(), "run ./scripts/inspector.sh (make test does)"
    env = {**os.environ, "QA_STORE_DIR": str(store.store.dir), "QA_STORE_COLLECTION": "seed"}

    def inspector(*args: str) -> dict:
        cmd = [str(INSPECTOR), "--cli", sys.executable, "-m", "cli", "mcp", *args]
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout)

    resources = inspector("--method", "resources/list")["resources"]
    assert [r["uri"] for r in resources] == ["seedqa://seed/000_794d345c1f52b2db.txt"]
    got = inspector("--method", "tools/call", "--tool-name", "ask", "--tool-arg", f"question={QUESTION}")
    answer = got["structuredContent"]
    assert not got.get("isError") and not answer["refused"] and "[1]" in answer["text"]
    assert any("Grushko" in s["text"] for s in answer["sources"])
    assert [p["n"] for p in answer["searched"] if p["supported"]] == [s["n"] for s in answer["sources"]]


def test_progress_ticks_while_nothing_else_comes():
    """The MCP server's progress: a tick every interval, whether the answer's events come or not."""
    from api.events import ticking

    async def main():
        gate, got = anyio.Event(), []

        async def events():
            yield "passages"
            await gate.wait()  # the model reading its prompt: nothing comes for a while
            yield "answer"

        async for item in ticking(events(), 0.01):
            got.append(item)
            if got.count(None) == 2:
                gate.set()
        return got

    got = anyio.run(main)
    assert got[0] == "passages" and got[-1] == "answer" and got.count(None) >= 2


SDK = INSPECTOR.parents[1] / "@modelcontextprotocol" / "sdk"


@pytest.mark.llm
def test_a_client_with_a_short_timeout_that_restarts_on_progress_gets_a_long_answer(store, tmp_path):
    """The official TypeScript SDK's client (the Inspector's), its request timeout 4 s and restarted on each
    progress report: the answer takes far longer (models loaded, the prompt read, the words written), and
    arrives. Without the reports it fails at 4 s, as the Inspector's 60 s did for a minute-long answer."""
    import json
    import subprocess

    assert SDK.exists(), "run ./scripts/inspector.sh (make test does)"
    script = tmp_path / "ask.mjs"
    script.write_text("""
const [sdk, python, question, reset] = process.argv.slice(2);
const { Client } = await import(sdk + "/dist/esm/client/index.js");
const { StdioClientTransport } = await import(sdk + "/dist/esm/client/stdio.js");
const client = new Client({ name: "test", version: "1" });
await client.connect(new StdioClientTransport({ command: python, args: ["-m", "cli", "mcp"], env: process.env }));
const started = Date.now();
let reports = 0;
try {
  const got = await client.callTool({ name: "ask", arguments: { question } }, undefined,
    { timeout: 4000, resetTimeoutOnProgress: reset === "reset", onprogress: () => { reports += 1; } });
  console.log(JSON.stringify({ ok: true, seconds: (Date.now() - started) / 1000, reports, answer: got.structuredContent }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, seconds: (Date.now() - started) / 1000, reports, error: String(e) }));
}
await client.close();
""", encoding="utf-8")
    env = {**os.environ, "QA_STORE_DIR": str(store.store.dir), "QA_STORE_COLLECTION": "seed"}

    def run(reset: str) -> dict:
        done = subprocess.run(["node", str(script), str(SDK), sys.executable, QUESTION, reset], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    waited = run("reset")
    print("restarted on progress:", {k: waited[k] for k in ("ok", "seconds", "reports")})
    assert waited["ok"] and waited["reports"] >= 1, waited
    assert not waited["answer"]["refused"] and "[1]" in waited["answer"]["text"]
    if waited["seconds"] > 8:  # an answer twice the timeout (on 2 cores, always): without restarts it fails
        gave_up = run("no-reset")
        assert not gave_up["ok"] and "timed out" in gave_up["error"].lower(), gave_up
