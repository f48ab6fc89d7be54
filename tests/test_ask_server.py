"""`qa ask` asks a running `qa serve` of the same store instead of loading the models again, and says so."""

import pytest
import json

from qa.settings import Settings
from tests.apiserver import qa_serve
from tests.servers import silent_server
from tests.stores import run_qa

OFF_TOPIC = "Who won the 1998 football World Cup?"  # refused on the evidence: no language model needed


@pytest.mark.slow
def test_ask_uses_the_running_server_of_the_same_store(seed_settings, tmp_path):
    embed_cache = str(Settings().embed.cache_dir)  # the export made once, not again under the test's cache
    store, collection = seed_settings.store.dir, seed_settings.store.collection
    with silent_server() as llm:  # the server's model is never reached: warm-up waits on it in the background
        env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "QA_EMBED_CACHE_DIR": embed_cache, "QA_LLM_BASE_URL": llm}
        servers = tmp_path / "cache" / "seedqa" / "servers"
        servers.mkdir(parents=True)
        (servers / "999999999.json").write_text(json.dumps({"pid": 999_999_999, "url": "http://127.0.0.1:9/v1"}))
        with qa_serve(store, collection, tmp_path / "serve.log", **env) as url:
            assert [p.name for p in servers.glob("*.json")] != ["999999999.json"]  # the server announced itself
            out = run_qa("ask", OFF_TOPIC, store_dir=store, collection=collection, **env)
            assert out.returncode == 0, out.stderr
            assert f"(answered by the running server at {url};" in out.stdout
            assert "searched 4 passages of:" in out.stdout
            assert not (servers / "999999999.json").exists()  # a dead server's announcement is removed

            got = run_qa("ask", OFF_TOPIC, "--json", store_dir=store, collection=collection, **env)
            answer = json.loads(got.stdout.strip().splitlines()[-1])
            assert answer["server"] == url and answer["refused"] and answer["refusal"] == "retrieval"
            assert len(answer["searched"]) == 4

            local = run_qa("ask", OFF_TOPIC, "--json", "--local", store_dir=store, collection=collection, **env)
            mine = json.loads(local.stdout.strip().splitlines()[-1])
            spans = [[(p["document"], p["start"], p["end"]) for p in a["searched"]] for a in (mine, answer)]
            assert "server" not in mine and spans[0] == spans[1]  # the same passages, found here

            other = run_qa("ask", OFF_TOPIC, store_dir=store, collection=collection, QA_ANSWER_TOP_K="2", **env)
            assert other.returncode == 0 and "running server" not in other.stdout  # other settings: answered here
        # the server is gone: its announcement is not followed (and is removed, if it outlived it)
        after = run_qa("ask", OFF_TOPIC, store_dir=store, collection=collection, **env)
        assert after.returncode == 0 and "running server" not in after.stdout
        assert not list(servers.glob("*.json"))
