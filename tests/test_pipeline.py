"""Retrieval, refusal, the Python API and the CLI, with the real store and embedder and a fake model."""

import json

import pytest

import qa
from qa import QuestionError


def test_retrieval_ranks_the_grushko_passage_first(seed_settings):
    passages = qa.load(seed_settings).retrieve("What guarantees does Russia demand?")
    assert "Grushko" in passages[0].text
    assert passages == sorted(passages, key=lambda p: -p.score)


def test_ask_cites_the_supporting_passage(seed_settings, fake_llm, seed_text):
    answer = qa.ask("What guarantees does Russia demand?", settings=seed_settings, llm=fake_llm)
    assert not answer.refused and "[1]" in answer.text
    cited = answer.sources[0]
    assert "Grushko" in cited.text and seed_text[cited.start : cited.end] == cited.text
    assert all(cited.start <= a < b <= cited.end for a, b in cited.highlights)
    # The prompt holds the passages, then the question.
    prompt = fake_llm.history[-1]
    assert "Grushko" in prompt
    assert prompt.rfind("Passage from") < prompt.find("Question: What guarantees does Russia demand?")


def test_stream_yields_sources_then_text_then_answer(seed_settings, fake_llm):
    events = list(qa.stream("What did Putin reject?", settings=seed_settings, llm=fake_llm))
    assert isinstance(events[0], list) and events[0]
    assert all(isinstance(e, str) for e in events[1:-1]) and len(events) > 3
    assert isinstance(events[-1], qa.Answer)
    assert "".join(events[1:-1]).strip() in events[-1].text.replace(" [1]", "")


def test_follow_up_is_condensed_before_retrieval(seed_settings, fake_llm):
    history = [("What guarantees does Russia demand?", "Neutral status of Ukraine [1].")]
    answer = qa.ask("And what about observers?", settings=seed_settings, llm=fake_llm, history=history)
    assert answer.query.startswith("And what about observers") and "Russia demand" in answer.query
    assert "Rewritten:" in fake_llm.history[0] and "Neutral status of Ukraine." in fake_llm.history[0]
    assert f"Question: {answer.query}" in fake_llm.history[1]
    assert "guarantees that Russia demands" in answer.passages[0].text  # found by the first question's words


def test_off_topic_question_is_refused_without_the_model(seed_settings, fake_llm):
    answer = qa.ask("Who won the 1998 football World Cup?", settings=seed_settings, llm=fake_llm)
    assert answer.refused and answer.sources == [] and answer.passages
    assert answer.refusal == "retrieval" and answer.draft is None
    assert fake_llm.history == []


def test_unsupported_model_answer_is_refused(seed_settings, fake_llm):
    fake_llm.invent = "The ceasefire was signed in Geneva by 40 delegates."
    answer = qa.ask("Where was the ceasefire signed?", settings=seed_settings, llm=fake_llm)
    assert answer.refused and answer.sources == []
    # The model's text is kept apart, never shown as the answer.
    assert answer.refusal == "unsupported" and answer.draft == fake_llm.invent and fake_llm.invent not in answer.text


def test_short_style_asks_for_a_phrase_and_cites_it(seed_settings, fake_llm):
    short = seed_settings.with_(answer={"style": "short"})
    fake_llm.invent = "the Kursk region"
    answer = qa.ask("Which region do Russian forces almost fully control?", settings=short, llm=fake_llm)
    assert "shortest phrase" in fake_llm.history[-1] and "short sentences" not in fake_llm.history[-1]
    assert not answer.refused and answer.text == "the Kursk region [1]"
    assert "Kursk region" in answer.sources[0].text and answer.sentences[0].supported
    # A phrase the passages do not hold is refused like an unsupported sentence.
    fake_llm.invent = "the Donetsk region"
    assert qa.ask("Which region do Russian forces almost fully control?", settings=short, llm=fake_llm).refused


def test_model_saying_it_does_not_know_is_a_refusal(seed_settings, fake_llm):
    fake_llm.invent = "I don't know."
    answer = qa.ask("What guarantees does Russia demand?", settings=seed_settings, llm=fake_llm)
    assert answer.refused and answer.refusal == "model" and answer.to_json()["refusal"] == "model"


@pytest.mark.parametrize("question", ["", "   ", "?!...", "\x00\x07"])
def test_empty_questions_are_rejected(seed_settings, fake_llm, question):
    with pytest.raises(QuestionError):
        qa.ask(question, settings=seed_settings, llm=fake_llm)


def run_qa(*args, env_settings=None):
    from tests.stores import qa_main

    return qa_main(*args, store_dir=env_settings.store.dir, collection=env_settings.store.collection)


def test_cli_index_reports_counts_as_json(settings, docs):
    out = run_qa("index", str(docs), "--json", env_settings=settings)
    assert out.returncode == 0, out.stderr
    counts = json.loads(out.stdout.strip().splitlines()[-1])
    assert counts["documents"] == 1 and counts["added"] == 1 and counts["chunks"] > 1
    again = json.loads(run_qa("index", str(docs), "--json", env_settings=settings).stdout.splitlines()[-1])
    assert again["unchanged"] == 1 and again["embedded"] == 0
    assert set(again) >= {"documents", "chunks", "added", "updated", "removed", "unchanged", "seconds"}


def test_cli_errors_are_messages_not_tracebacks(settings, tmp_path):
    missing = run_qa("ask", "What guarantees does Russia demand?", env_settings=settings)
    assert missing.returncode == 2 and "qa index" in missing.stderr and "Traceback" not in missing.stderr
    nowhere = run_qa("index", str(tmp_path / "nope"), env_settings=settings)
    assert nowhere.returncode == 2 and "No such file" in nowhere.stderr and "Traceback" not in nowhere.stderr


def test_the_pipeline_takes_any_retriever_and_post_processor(fake_llm):
    """A `Retriever` is anything with retrieve(query, k) -> list[Source]; post-processors filter what it found."""
    from qa.llm import wrap
    from qa.service import Pipeline
    from qa.settings import AnswerSettings

    text = "The harbour ferry to Skye leaves at nine every morning."
    kept = qa.Source(id="a", document="ferries.txt", text=text, start=0, end=len(text), score=0.9)
    dropped = kept.model_copy(update={"id": "b", "document": "other.txt"})
    asked = []

    class ListRetriever:
        def retrieve(self, query: str, k: int) -> list[qa.Source]:
            asked.append((query, k))
            return [kept, dropped][:k]

    def embed(texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0] for _ in texts]  # everything alike

    def verify(pairs: list[tuple[str, str]]) -> list[float]:
        return [0.9 for _ in pairs]  # every span that passes the word check supports: the verifier is not under test

    model = wrap(fake_llm)
    pipeline = Pipeline(ListRetriever(), lambda: model, embed, verify, AnswerSettings(top_k=2),
                        postprocessors=[lambda q, found: [p for p in found if p.document != "other.txt"]])  # fmt: skip
    answer = pipeline.ask("When does the harbour ferry to Skye leave?")
    assert asked == [("When does the harbour ferry to Skye leave?", 2)]
    assert [p.id for p in answer.passages] == ["a"]
    assert not answer.refused and [s.document for s in answer.sources] == ["ferries.txt"]


@pytest.mark.llm
def test_warm_up_loads_the_model_and_has_it_read_the_instructions(seed_settings):
    """After `warm()`, llama.cpp holds the start every answering prompt shares: the first question reads only the rest."""
    from qa.llm.llamacpp import chatml
    from qa.prompt import build_messages, instructions

    pipeline = qa.load(seed_settings)
    model = pipeline.warm().llama
    question = "What guarantees does Russia demand?"
    prompt = model.tokenize(chatml(build_messages(question, pipeline.retrieve(question))).encode(), special=True)
    system = instructions()[0].content
    shared = model.tokenize(f"<|im_start|>system\n{system}<|im_end|>\n".encode(), special=True)  # the instructions' turn
    held = list(model.input_ids[: model.n_tokens])
    common = next((i for i, (a, b) in enumerate(zip(held, prompt)) if a != b), min(len(held), len(prompt)))
    assert len(shared) > 20 and common >= len(shared)


@pytest.mark.llm
def test_a_follow_up_rewrite_leaves_the_instructions_read(seed_settings):
    """The rewrite of a follow-up is another prompt on the same llama.cpp context; afterwards the context
    holds the instructions again (not the rewrite), so the answer reads only its passages and question."""
    pipeline = qa.load(seed_settings)
    model = pipeline.warm().llama
    warmed = list(model.input_ids[: model.n_tokens])
    history = [("What guarantees does Russia demand?", "The neutral status of Ukraine [1].")]
    query = pipeline.condense("And what did Britain and France offer?", history)
    assert list(model.input_ids[: model.n_tokens]) == warmed
    answer = pipeline.ask(query)
    said = answer.draft or answer.text  # the model's words, whatever the check made of the rewritten question
    assert "peacekeeping" in said and "peacekeeping" in " ".join(p.text for p in answer.passages)
    assert "?" not in said  # an answer, not a continuation of the rewrite prompt


def test_warm_up_of_a_model_server_keeps_nothing_here(fake_llm):
    from qa.llm import wrap
    from qa.llm.server import ChatModel
    from qa.prompt import instructions

    assert wrap(fake_llm).prefill(instructions()) is False  # no llama.cpp object in this process
    assert ChatModel(fake_llm, where="http://127.0.0.1:9/v1").prefill(instructions()) is False


def test_each_text_is_embedded_once_per_question():
    """Excerpts embed the passages' sentences before the first word; citations reuse those vectors after it."""
    from qa.service import Remembered

    seen: list[list[str]] = []

    def embed(texts: list[str]) -> list[list[float]]:
        seen.append(list(texts))
        return [[float(len(t))] for t in texts]

    remembered = Remembered(embed)
    assert remembered(["a", "bb", "a"]) == [[1.0], [2.0], [1.0]]
    assert remembered(["bb", "ccc"]) == [[2.0], [3.0]]
    assert seen == [["a", "bb"], ["ccc"]]


def test_a_refusal_quotes_the_closest_passage_only_when_it_bears_on_the_question():
    """An off-topic question gets the refusal alone; a near miss gets the nearest sentence, and its passage to open."""
    from qa.service import nearby

    text = "The talks ended on Friday. Russia demands the neutral status of Ukraine and limits on its army."
    passage = qa.Source(id="a", document="talks.txt", text=text, start=0, end=len(text), score=0.4)
    near = nearby("Which guarantees for Ukraine did Russia demand in May?", passage)
    assert near and "neutral status" in near and "talks.txt" in near
    assert nearby("Who won the song contest in Liverpool?", passage) is None
