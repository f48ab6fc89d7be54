"""What the front ends share (qa.serving) and the language model's one interface (qa.llm)."""

import inspect

import pytest

import qa
from qa.llm import LanguageModel


def test_conversation_pairs_questions_with_their_answers():
    turns = [("system", "Be brief."), ("user", "Who?"), ("assistant", "Grushko [1]."), ("tool", "x"),
             ("user", "Unanswered, then asked again"), ("user", "And when?"), ("assistant", "In May [2]."),
             ("user", "Where?")]  # fmt: skip
    assert qa.conversation(turns) == [("Who?", "Grushko [1]."), ("And when?", "In May [2].")]
    assert qa.conversation([]) == [] and qa.conversation([("assistant", "Hello")]) == []


def test_one_pipeline_per_collection_with_k_and_style_per_question(seed_settings, fake_llm):
    pipelines = qa.Pipelines(seed_settings, fake_llm)
    pipeline = pipelines.get()
    assert pipelines.get(seed_settings.store.collection) is pipeline  # built once, shared
    question = "What guarantees does Russia demand?"
    assert len(pipeline.retrieve(question, 1)) == 1 and len(pipeline.retrieve(question, 3)) == 3
    fake_llm.history.clear()
    pipeline.ask(question, style="short")
    pipeline.ask(question)
    short, sentence = fake_llm.history[-2:]
    assert short != sentence  # the style's instructions reached the model, one question each
    pipelines.forget(seed_settings.store.collection)
    assert pipelines.get() is not pipeline


def test_an_unknown_collection_is_a_user_error_naming_it(seed_settings, fake_llm):
    with pytest.raises(qa.NoCollection, match="'nope'"):
        qa.Pipelines(seed_settings, fake_llm).get("nope")
    assert issubclass(qa.NoCollection, qa.UserError)


@pytest.mark.parametrize("backend", ["qa.llm.llamacpp:LlamaCpp", "qa.llm.server:ChatModel"])
def test_both_backends_have_the_whole_interface(backend):
    import importlib

    module, name = backend.split(":")
    cls = getattr(importlib.import_module(module), name)
    wanted = {n: inspect.signature(f) for n, f in vars(LanguageModel).items() if inspect.isfunction(f) and not n.startswith("_")}
    assert set(wanted) == {"stream", "aside", "prefill", "token_scores", "tokens", "close"}
    for method, signature in wanted.items():
        assert list(inspect.signature(getattr(cls, method)).parameters) == list(signature.parameters), method
