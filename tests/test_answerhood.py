"""The answerhood check: a cited answer that does not answer its question is withdrawn, with its scores shown.

The model's scores come from a fake here (tests/fakes.JudgedLLM); the real model's are in
tests/test_answerhood_model.py.
"""

import math

import numpy as np
import pytest

import qa
from eval import fit_answerhood
from eval.metrics import refusal_curve
from eval.plots import tradeoff_curves
from qa import answerhood
from qa.service import REFUSED
from tests.fakes import JudgedLLM

QUESTION = "What guarantees does Russia demand?"


@pytest.fixture
def judged():
    return JudgedLLM(history=[], judged=[])


def test_answer_the_model_backs_is_shown_with_its_check(seed_settings, judged):
    answer = qa.ask(QUESTION, settings=seed_settings, llm=judged)
    assert not answer.refused and "[1]" in answer.text
    assert answer.check.passed and answer.check.method == "logprobs"
    assert answer.check.probability >= answer.check.threshold
    assert set(answer.check.scores) == set(answerhood.FEATURES + answerhood.SHOWN)
    assert judged.judged == [(QUESTION, answer.draft or answer.text.replace(" [1]", "").replace(" [2]", ""))]
    shown = answer.to_json()["check"]
    assert shown["passed"] and "answers the question" in shown["reason"]


def test_answer_the_model_doubts_is_withdrawn_saying_what_the_passages_say(seed_settings, judged):
    judged.verdict, judged.confidence = -4.0, -3.0  # it says no, and was unsure of its own words
    answer = qa.ask(QUESTION, settings=seed_settings, llm=judged)
    assert answer.refused and answer.refusal == "check" and answer.sources == []
    assert answer.draft and "neutral" in answer.draft.lower()  # what the model wrote is kept for the eval
    assert answer.text.startswith(REFUSED) and "Not an answer" in answer.text
    assert answer.passages[0].document in answer.text
    assert not answer.check.passed and answer.check.probability < answer.check.threshold
    assert "does not answer" in answer.to_json()["check"]["reason"]


def test_threshold_setting_moves_the_decision(seed_settings, judged):
    judged.verdict = 4.0
    strict = seed_settings.with_(answer={"check_threshold": 1.0})
    assert qa.ask(QUESTION, settings=strict, llm=judged).refusal == "check"
    off = seed_settings.with_(answer={"check": False})
    judged.verdict = -4.0
    answer = qa.ask(QUESTION, settings=off, llm=judged)
    assert not answer.refused and answer.check is None


def test_a_model_without_scores_leaves_the_answer_unchecked_and_says_so(seed_settings, fake_llm):
    answer = qa.ask(QUESTION, settings=seed_settings, llm=fake_llm)
    assert not answer.refused and answer.check.method == "none" and answer.check.passed
    assert "not checked" in answer.check.reason


def test_a_server_that_only_says_yes_or_no_is_read_as_its_word(seed_settings, judged):
    judged.method, judged.verdict = "generated", -4.0  # "no", though sure of its words: the word decides
    answer = qa.ask(QUESTION, settings=seed_settings, llm=judged)
    assert answer.refusal == "check" and "yes/no was read, no" in answer.check.reason
    judged.verdict = 4.0
    answer = qa.ask(QUESTION, settings=seed_settings, llm=judged)
    assert answer.check.passed and "yes/no was read, yes" in answer.check.reason


@pytest.mark.parametrize(
    ("question", "answer", "expected"),
    [
        ("When was the treaty signed?", "In 1815", 1.0),
        ("When was the treaty signed?", "In Vienna", 0.0),
        ("In what century did the steam engine begin?", "the 19th", 1.0),
        ("When many people are arrested, what is a common tactic?", "solidarity", 0.5),  # "when" as a conjunction
        ("How many times has Polonia won the cup?", "twice", 1.0),
        ("How many soldiers died?", "three hundred", 1.0),
        ("How many soldiers died?", "the infantry", 0.0),
        ("Who signed the treaty?", "Metternich", 1.0),
        ("Who signed the treaty?", "the emperor", 0.0),
        ("What did the treaty end?", "the war", 0.5),
    ],
)
def test_answer_type_follows_the_question_word(question, answer, expected):
    assert answerhood.type_match(question, answer) == expected


def test_probability_rises_with_the_judge_and_missing_scores_take_their_mean():
    base = {k: answerhood.MEANS[k] for k in answerhood.FEATURES}
    low, high = dict(base, judge=-3.0), dict(base, judge=6.0)
    if answerhood.WEIGHTS["judge"] > 0:
        assert answerhood.probability(low) < answerhood.probability(high)
    assert math.isclose(answerhood.probability({}), answerhood.probability(base))


def test_refusal_curve_moves_from_nothing_refused_to_everything_checked_refused():
    def row(answerable, p=None, refused=False, refusal=None):
        check = {"probability": p, "threshold": 0.5} if p is not None else None
        return {"answerable": answerable, "refused": refused, "refusal": refusal, "check": check}

    rows = [row(True, 0.9), row(True, 0.4), row(False, 0.2), row(False, None, True, "model")]
    curve = refusal_curve(rows, step=0.5)
    assert curve == [(0.0, 0.5, 0.0), (0.5, 1.0, 0.5), (1.0, 1.0, 1.0)]
    svg = tradeoff_curves({"toy": curve}, 0.5, "toy")
    assert svg.startswith("<svg") and "<polyline" in svg and "<circle" in svg and "toy" in svg


def test_the_fitted_decision_is_reproduced_by_its_script_from_the_data():
    rows = fit_answerhood.read()
    assert len(rows) >= 200 and {r["answerable"] for r in rows} == {True, False}
    assert fit_answerhood.main(["--check"]) == 0


def test_the_fit_script_writes_a_figure_and_fails_cleanly_without_data(tmp_path, capsys):
    figure = tmp_path / "curve.svg"
    assert fit_answerhood.main(["--figure", str(figure)]) == 0
    assert "<polyline" in figure.read_text()
    assert fit_answerhood.main(["--data", str(tmp_path / "none.jsonl")]) == 2
    assert "error:" in capsys.readouterr().err


def test_replay_reuses_the_recorded_model_scores_and_recomputes_the_rest():
    from llama_index.core.llms import ChatMessage, MessageRole

    from eval.replay import RecordedLLM, recorded_checks, recorded_texts

    scores = {"judge": -2.5, "answer_mean_logprob": -0.4, "refusal_first_logprob": -6.0, "coverage": 0.3}
    rows = [{"question": "When  was it lit?", "refused": True, "refusal": "check", "answer": "x", "draft": "In 1852",
             "check": {"method": "logprobs", "scores": scores}}]  # fmt: skip
    llm = RecordedLLM(texts=recorded_texts(rows), checks=recorded_checks(rows))
    asked = [ChatMessage(role=MessageRole.USER, content="Passage from a.txt:\nIt was lit in 1852.\n\nQuestion: When was it lit?")]
    got = llm.judge(asked, "In 1852")
    assert got == {"judge": -2.5, "answer_mean_logprob": -0.4, "refusal_first_logprob": -6.0, "method": "logprobs"}


class _Tokens:
    """Detokenizes ids 0..3 as the llama.cpp model would: one word each, 3 a blank line."""

    def detokenize(self, ids):
        return "".join(["Paris", " is", " big", "\n"][i] for i in ids).encode()


def test_token_scores_are_kept_while_the_model_writes():
    from qa.scoring import Written

    written, rows = Written(), np.log(np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.6, 0.2, 0.1], [0.1, 0.1, 0.5, 0.3], [0.2, 0.2, 0.2, 0.4]]))
    prompt = [9, 9, 9]
    for step in range(5):  # writes 0, 1, 2, 3 (a blank line), then stops
        row = rows[min(step, 3)]
        assert written(np.array(prompt + [0, 1, 2, 3][:step]), row) is row  # no logit changed
    assert written.tokens == [0, 1, 2, 3]
    kept = written.scores(_Tokens(), prompt, "Paris is big", refusal_id=3)
    assert kept is not None
    assert np.allclose(kept[0], np.log([0.7, 0.6, 0.5]))  # the blank line after the answer is not the answer
    assert math.isclose(kept[1], math.log(0.1), rel_tol=1e-5)
    assert written.scores(_Tokens(), prompt, "Paris is small", refusal_id=3) is None  # not what it wrote: read again
    assert written.scores(_Tokens(), prompt + [9], "Paris is big", refusal_id=3) is None  # another prompt

    written(np.array(prompt), rows[1])  # the next answer starts afresh
    assert written.tokens == [] and written.scores(_Tokens(), prompt, "", refusal_id=3) is None
