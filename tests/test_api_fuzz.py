"""Bad input at the HTTP API by a tool, and many clients at once: the real server on loopback, the real
store, embedding model and checks; the deterministic fake model (the model is not under test here)."""

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

import qa
from api.server import asgi
from tests.apiserver import serving
from tests.conftest import ROOT, SEEDS
from tests.fakes import ExtractiveLLM

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    settings = qa.Settings(store={"dir": tmp_path_factory.mktemp("fuzz") / "store", "collection": "seed"})
    qa.index(SEEDS, settings=settings, progress=False)
    with serving(asgi(settings, ExtractiveLLM(history=[]))) as url:
        yield url


def test_fuzzing_from_the_servers_own_schema_finds_no_server_error(base_url):
    """schemathesis generates requests from /v1/openapi.json, valid and not: no 5xx, no traceback in any
    response, and the server answers a plain question afterwards."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error

    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    tried: dict[str, set[int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        has_input = operation.method.upper() == "POST"  # GET /models takes nothing that could be wrong
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if has_input else (GenerationMode.POSITIVE,):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
            def fuzz(case):
                response = case.call(base_url=base_url, timeout=120)
                case.validate_response(response, checks=[not_a_server_error])
                assert "Traceback" not in response.text and 'File "' not in response.text
                tried.setdefault(operation.label, set()).add(response.status_code)

            fuzz()
    print("fuzzed:", {label: sorted(codes) for label, codes in tried.items()})
    assert {"GET /models", "POST /search", "POST /chat/completions"} <= set(tried)
    assert all(400 <= c < 500 for c in tried["POST /chat/completions"] - {200})  # told what was wrong, not crashed
    asked = httpx.post(f"{base_url}/chat/completions", json={"messages": [{"role": "user", "content": "What guarantees does Russia demand?"}]}, timeout=120)
    assert asked.status_code == 200 and "[1]" in asked.json()["choices"][0]["message"]["content"]


def test_sixteen_api_clients_at_once_each_get_their_own_answer(base_url):
    """16 OpenAI clients stream 16 different questions at once; each gets the answer to its own question
    (the one it gets alone), never another's words or sources."""
    from openai import OpenAI

    rows = [json.loads(line) for line in (ROOT / "eval" / "seed.jsonl").read_text(encoding="utf-8").splitlines()]
    questions = [r["question"] for r in rows if r["answerable"]][:16]
    client = OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=300)

    def ask(question: str) -> tuple[str, str, list[str]]:
        text, last = "", None
        for chunk in client.chat.completions.create(model="seedqa", messages=[{"role": "user", "content": question}], stream=True):
            text += chunk.choices[0].delta.content or ""
            last = chunk
        return last.model_extra["query"], text, last.model_extra["citations"]

    alone = [ask(q) for q in questions]
    with ThreadPoolExecutor(16) as pool:
        together = list(pool.map(ask, questions))
    assert len(set(questions)) == 16 and [a[0] for a in together] == questions
    assert together == alone
    assert sum(bool(c) for _, _, c in together) >= 12  # most are answered with sources, not refused
