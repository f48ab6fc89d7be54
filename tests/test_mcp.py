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
    async def calls(client):
        return await client.call_tool("ask", {"question": QUESTION})

    got = session(store, calls)
    answer = got.structured_content
    assert not got.is_error and not answer["refused"] and "[1]" in answer["text"]
    assert [s["n"] for s in answer["sources"]] == list(range(1, len(answer["sources"]) + 1))
    assert any("Grushko" in s["text"] for s in answer["sources"])
    assert all(s["supported"] and s["highlights"] for s in answer["sources"])
