"""End to end through the real embedded model (Qwen2.5-Coder-1.5B on llama.cpp)."""

import json
import os
import subprocess
import sys

import pytest

import qa

pytestmark = pytest.mark.llm


def test_cli_answers_the_example_question_citing_grushko(seed_settings):
    env = {**os.environ, "QA_STORE_DIR": str(seed_settings.store.dir), "QA_STORE_COLLECTION": seed_settings.store.collection}
    out = subprocess.run(
        [sys.executable, "-m", "cli", "ask", "What guarantees does Russia demand?", "--json"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert not got["refused"]
    assert "neutral" in got["answer"].lower()
    assert "[1]" in got["answer"]
    assert any("Grushko" in s["text"] for s in got["sources"])
    assert set(got["sources"][0]) >= {"n", "document", "text", "start", "end", "score"}
    check = got["check"]  # the answerhood check: the verifier and the real model's token scores
    assert check["passed"] and check["method"] == "verifier" and check["probability"] >= check["threshold"]
    assert {"verifier", "answer_mean_logprob", "refusal_first_logprob"} <= set(check["scores"])


def test_cli_short_answer_is_the_phrase_with_its_source(seed_settings):
    env = {**os.environ, "QA_STORE_DIR": str(seed_settings.store.dir), "QA_STORE_COLLECTION": seed_settings.store.collection}
    out = subprocess.run(
        [sys.executable, "-m", "cli", "ask", "--short", "--json", "Which region does Putin say Russian forces almost fully control?"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert not got["refused"] and "Kursk" in got["answer"]
    assert len(got["answer"].replace("[1]", "").split()) <= 4, got["answer"]
    assert any("Kursk region" in s["text"] for s in got["sources"]) and got["sentences"][0]["supported"]


def test_python_api_answers_a_number_question(seed_settings):
    answer = qa.ask("How many people did Russian strikes kill earlier this month?", settings=seed_settings)
    assert not answer.refused and "25" in answer.text
    assert any("at least 25" in s.text for s in answer.sources)
    assert all(s.supported == bool(s.citations) for s in answer.sentences)


def test_off_topic_question_is_refused(seed_settings):
    answer = qa.ask("Who won the 1998 football World Cup?", settings=seed_settings)
    assert answer.refused and answer.sources == []


def test_on_topic_but_unanswered_question_is_refused(seed_settings):
    answer = qa.ask("How many soldiers has Russia lost in the war so far?", settings=seed_settings)
    assert answer.refused, answer.text
