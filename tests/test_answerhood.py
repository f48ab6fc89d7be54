"""The answerhood check: a cited answer that does not answer its question is withdrawn, with its scores shown.

The verifier here is the real one (it is part of the product, and fast); the language model's token
scores come from a fake (tests/fakes.ScoredLLM). The real model's are in tests/test_answerhood_model.py.
"""

import math

import numpy as np
import pytest

import qa
from train import answerhood as fit_answerhood
from eval.metrics import refusal_curve
from eval.plots import tradeoff_curves
from qa import answerhood
from qa.service import REFUSED
from tests.fakes import ScoredLLM

QUESTION = "What guarantees does Russia demand?"


@pytest.fixture
def scored():
    return ScoredLLM(history=[], scored=[])


def test_answer_the_verifier_backs_is_shown_with_its_check(seed_settings, scored):
    answer = qa.ask(QUESTION, settings=seed_settings, llm=scored)
    assert not answer.refused and "[1]" in answer.text
    assert answer.check.passed and answer.check.method == "verifier"
    assert answer.check.probability >= answer.check.threshold
    assert set(answerhood.FEATURES) <= set(answer.check.scores)
    assert max(s.score for s in answer.sentences if s.score is not None) > 0.5  # the verifier's, per sentence
    assert scored.scored == [(QUESTION, answer.draft or answer.text.replace(" [1]", "").replace(" [2]", ""))]
    shown = answer.to_json()["check"]
    assert shown["passed"] and "answers the question" in shown["reason"]


def test_answer_the_model_all_but_refused_is_withdrawn_saying_what_the_passages_say(seed_settings, scored):
    scored.refusal_first = -0.05  # "I don't know" was its likeliest first word
    answer = qa.ask(QUESTION, settings=seed_settings, llm=scored)
    assert answer.refused and answer.refusal == "check" and answer.sources == []
    assert answer.draft and "[" not in answer.draft  # what the model wrote is kept for the eval, without markers
    assert answer.text.startswith(REFUSED) and "Not an answer" in answer.text
    assert answer.passages[0].document in answer.text
    assert not answer.check.passed and answer.check.probability < answer.check.threshold
    assert "does not answer" in answer.to_json()["check"]["reason"]


def test_an_answer_the_verifier_scores_below_the_floor_is_judged_by_the_check(seed_settings, scored):
    """The citation floor does not refuse a whole answer where the check runs: the check reads the weak score
    and decides. With the check off, the floor refuses it as unsupported, as before."""
    from qa.llm import wrap
    from qa.service import Pipeline

    store = qa.open_store(seed_settings)
    weak = lambda pairs: [0.015 for _ in pairs]  # noqa: E731 - below qa.citations.SUPPORT_MIN

    def ask(settings):
        pipeline = Pipeline(store, lambda: wrap(scored), store.embedder.get_text_embedding_batch, weak, settings.answer)
        return pipeline.ask(QUESTION)

    checked = ask(seed_settings)
    assert checked.refusal in (None, "check") and checked.check.method == "verifier"
    assert checked.check.scores["verifier"] == pytest.approx(answerhood.logit(0.015), abs=1e-3)
    assert ask(seed_settings.with_(answer={"check": False})).refusal == "unsupported"


def test_threshold_setting_moves_the_decision(seed_settings, scored):
    strict = seed_settings.with_(answer={"check_threshold": 1.0})
    assert qa.ask(QUESTION, settings=strict, llm=scored).refusal == "check"
    off = seed_settings.with_(answer={"check": False})
    scored.refusal_first = -0.05
    answer = qa.ask(QUESTION, settings=off, llm=scored)
    assert not answer.refused and answer.check is None


def test_a_model_without_token_scores_is_checked_by_the_verifier_alone(seed_settings, fake_llm):
    answer = qa.ask(QUESTION, settings=seed_settings, llm=fake_llm)  # as from a server: no log-probabilities
    assert not answer.refused and answer.check.method == "verifier" and answer.check.passed
    assert "refusal_first_logprob" not in answer.check.scores and "verifier" in answer.check.scores


def test_probability_rises_with_the_verifier_and_missing_scores_take_their_mean():
    base = {k: answerhood.MEANS[k] for k in answerhood.FEATURES}
    assert answerhood.WEIGHTS["verifier"] > 0
    assert answerhood.probability(dict(base, verifier=-3.0)) < answerhood.probability(dict(base, verifier=3.0))
    assert math.isclose(answerhood.probability({}), answerhood.probability(base))
    assert answerhood.decide({"retrieval": 0.5}).method == "none"  # nothing verified: unchecked, and says so


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
    assert len(rows) >= 100 and {r["answerable"] for r in rows} == {True, False}
    assert fit_answerhood.main(["--check"]) == 0


def test_the_fit_script_writes_a_figure_and_fails_cleanly_without_data(tmp_path, capsys):
    figure = tmp_path / "curve.svg"
    assert fit_answerhood.main(["--figure", str(figure)]) == 0
    assert "<polyline" in figure.read_text()
    assert fit_answerhood.main(["--data", str(tmp_path / "none.jsonl")]) == 2
    assert "error:" in capsys.readouterr().err


def test_replay_reuses_the_recorded_token_scores_and_recomputes_the_rest():
    from llama_index.core.llms import ChatMessage, MessageRole

    from eval.replay import RecordedLLM, recorded_scores, recorded_texts

    scores = {"verifier": 1.5, "answer_mean_logprob": -0.4, "refusal_first_logprob": -6.0, "retrieval": 0.3}
    rows = [{"question": "When  was it lit?", "refused": True, "refusal": "check", "answer": "x", "draft": "In 1852",
             "check": {"method": "verifier", "scores": scores}}]  # fmt: skip
    llm = RecordedLLM(texts=recorded_texts(rows), scores=recorded_scores(rows))
    asked = [ChatMessage(role=MessageRole.USER, content="Passage from a.txt:\nIt was lit in 1852.\n\nQuestion: When was it lit?")]
    assert llm.token_scores(asked, "In 1852") == {"answer_mean_logprob": -0.4, "refusal_first_logprob": -6.0}


class _Tokens:
    """Detokenizes ids 0..3 as the llama.cpp model would: one word each, 3 a blank line."""

    def detokenize(self, ids):
        return "".join(["Paris", " is", " big", "\n"][i] for i in ids).encode()


def test_token_scores_are_kept_while_the_model_writes():
    from qa.llm.scores import Written

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
