"""Load: 16 chat sessions at once against `qa ui` with the real model, each through its own gradio_client.

The server is a real `qa ui` process on a free loopback port over a store holding the seed. The
app answers one question at a time (the model is one object), so the later sessions wait their
turn: what is checked is that every session gets an answer to its own question, cited to the
passage that answers it, and no error. The waits (submit to answer) are written to
test-output/load/load.json, not asserted.
"""

import json
import os
import re
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import qa
from eval.metrics import percentile
from bench.servers import BIN, free_port, running
from qa.settings import Settings
from tests.conftest import ROOT, SEEDS

pytestmark = [pytest.mark.llm, pytest.mark.timeout(2400)]  # 16 answers in a row on 2 shared cores
OUT = ROOT / "test-output" / "load"
SESSIONS = 16
PER_SESSION_SECONDS = 1800  # a bound so that nothing hangs, not a speed requirement

# Seed questions, each with a phrase of the passage that answers it (and of the expected answer).
QUESTIONS = {
    "seed-02": ("What kind of ceasefire did Putin reject?", "full and immediate"),
    "seed-03": ("What did Russia and Ukraine accuse each other of hours after the phone call?", "air attacks"),
    "seed-04": ("Which region does Putin say Russian forces almost fully control?", "Kursk"),
    "seed-06": ("What guarantees does Russia demand?", "neutral status"),
    "seed-07": ("What kind of security guarantees did Grushko say Russia will demand?", "ironclad"),
    "seed-08": ("Which media outlet interviewed Alexander Grushko?", "Izvestia"),
    "seed-09": ("Which countries said they were willing to send a peacekeeping force to Ukraine?", "Britain and France"),
    "seed-10": ("What did the US agree to lift after Ukraine accepted the ceasefire?", "intelligence sharing"),
    "seed-11": ("What did Trump threaten to impose on Russia if it doesn't accept the ceasefire?", "sanctions"),
    "seed-13": ("What did Zelensky propose as the first stages of an end to the war?", "prisoners"),
    "seed-16": ("How much of its territory has Ukraine lost?", "one fifth"),
    "seed-17": ("How many people did Russian strikes kill in Ukraine earlier this month?", "25"),
    "seed-14": ("How long is the ceasefire Ukraine agreed to?", "30-day"),
    "seed-21": ("On what date did Zelensky say Ukraine was ready to take steps toward peace?", "March 4"),
    "seed-25": ("Who is the defence and security editor of the Guardian?", "Sabbagh"),
    "seed-28": ("What position does Marco Rubio hold?", "Secretary of State"),
}


def has(text: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase.lower())}(?!\w)", text.lower()) is not None


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    store = tmp_path_factory.mktemp("load") / "store"
    qa.index(SEEDS, settings=Settings(store={"dir": store, "collection": "seed"}), progress=False)
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "QA_STORE_DIR": str(store), "QA_STORE_COLLECTION": "seed"}
    cmd = [str(BIN / "qa"), "ui", "--port", str(port)]
    with running(cmd, f"http://127.0.0.1:{port}/", seconds=300, env=env):
        yield f"http://127.0.0.1:{port}/"


def test_sixteen_concurrent_sessions_each_get_their_own_correct_answer(server_url):
    from gradio_client import Client

    assert len(QUESTIONS) == SESSIONS
    t_start = time.perf_counter()

    def session(qid: str) -> dict:
        question, _ = QUESTIONS[qid]
        client = Client(server_url, verbose=False)
        t0 = time.perf_counter()
        try:
            got = client.predict(question, api_name="/ask")
            return {"id": qid, "wait_s": time.perf_counter() - t0, "done_at_s": time.perf_counter() - t_start, "got": got}
        except Exception as e:  # reported per session below
            return {"id": qid, "wait_s": time.perf_counter() - t0, "error": f"{type(e).__name__}: {e}"}

    with ThreadPoolExecutor(SESSIONS) as pool:
        futures = [pool.submit(session, qid) for qid in QUESTIONS]
        results = [f.result(timeout=PER_SESSION_SECONDS) for f in futures]
    wall = time.perf_counter() - t_start

    rows, problems = [], []
    for r in results:
        question, key = QUESTIONS[r["id"]]
        got = r.get("got") or {}
        answer = got.get("answer", "")
        others = [k for q, (_, k) in QUESTIONS.items() if q != r["id"] and has(answer, k)]
        row = {
            "id": r["id"], "question": question, "key": key, "wait_s": round(r["wait_s"], 2),
            "error": r.get("error") or got.get("error"), "own_question": got.get("question") == question,
            "refused": got.get("refused"), "key_present": has(answer, key), "other_keys": others,
            "own_passage_cited": any(has(s["text"], key) for s in got.get("sources") or []), "answer": answer,
        }  # fmt: skip
        # What the feature promises: no error, no crossed answer (the response is to this session's own
        # question) and an answer cited to this question's own passage. The exact words are the
        # model's and may differ with what ran before (key_present is recorded, not asserted).
        row["correct"] = not row["error"] and row["own_question"] and not row["refused"] and row["own_passage_cited"]
        rows.append(row)
        if not row["correct"]:
            problems.append(row)
    waits = [r["wait_s"] for r in rows]
    summary = {
        "sessions": SESSIONS,
        "correct": sum(r["correct"] for r in rows),
        "errors": sum(bool(r["error"]) for r in rows),
        "crossed": sum(not r["own_question"] for r in rows),
        "key_phrase_in_answer": sum(r["key_present"] for r in rows),
        "wait_p50_s": round(statistics.median(waits), 1),
        "wait_p95_s": round(percentile(waits, 95), 1),
        "wait_min_s": round(min(waits), 1),
        "wait_max_s": round(max(waits), 1),
        "wall_s": round(wall, 1),
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "load.json").write_text(json.dumps({"summary": summary, "sessions": rows}, indent=1))
    print("load:", json.dumps(summary))
    assert not problems, json.dumps(problems, indent=1)
