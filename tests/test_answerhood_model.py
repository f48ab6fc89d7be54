"""The answerhood check with the real model: a question written around a neighbouring fact is refused,
its answerable twin is answered.

The document holds a date for almost every event of the lighthouse's life, but not the one asked
about, so a careless reader answers with one of the others (as SQuAD 2.0's unanswerable questions
are written). Assertions are about refusal, not about the model's wording.
"""

import numpy as np
import pytest

import qa
from qa.settings import Settings

pytestmark = pytest.mark.llm

LIGHTHOUSE = """# The Skerry lighthouse

The Skerry lighthouse stands on a bare rock two miles off the west coast. It was designed by the
engineer Thomas Brennan and first lit in 1852, after four summers of building on the rock.

Its oil lamp was converted to electricity in 1935. The last three keepers left in 1985, when the
light was automated, and their cottages on the shore were sold to the county in 1991.
"""

# Twins: the same question about something the document says and something it does not.
TWINS = [
    ("Who designed the Skerry lighthouse?", "Who demolished the Skerry lighthouse?"),  # a decoy: "the county"
    ("When was the Skerry lighthouse first lit?", "When was the Skerry lighthouse demolished?"),  # decoys: 1985, 1991
]


@pytest.fixture(scope="module")
def lighthouse(tmp_path_factory) -> Settings:
    folder = tmp_path_factory.mktemp("lighthouse")
    (folder / "docs").mkdir()
    (folder / "docs" / "skerry.md").write_text(LIGHTHOUSE, encoding="utf-8")
    settings = Settings(store={"dir": folder / "store", "collection": "lighthouse"}, answer={"style": "short"})
    qa.index(folder / "docs", settings=settings, progress=False)
    return settings


@pytest.mark.parametrize("question", [unanswerable for _, unanswerable in TWINS])
def test_question_about_something_the_document_does_not_say_is_refused(lighthouse, question):
    answer = qa.ask(question, settings=lighthouse)
    assert answer.refused and answer.sources == [], answer.text
    assert "Not an answer" in answer.text and "skerry.md" in answer.text  # what the nearest passage says
    if answer.refusal == "check":  # the model wrote something; the check withdrew it and says why
        assert answer.draft and not answer.check.passed


@pytest.mark.parametrize(("question", "key"), [(TWINS[0][0], "Brennan"), (TWINS[1][0], "1852")])
def test_its_answerable_twin_is_answered(lighthouse, question, key):
    answer = qa.ask(question, settings=lighthouse)
    assert not answer.refused and key in answer.text, answer.text
    assert answer.check.passed and answer.check.method == "verifier"



def test_token_scores_kept_while_writing_are_those_of_the_answer_read_again(lighthouse):
    """The check does not read the answer again: llama.cpp hands each written token's logits over while
    it writes. They must be what reading the answer afterwards gives (token ids in order, none skipped)."""
    from qa.components import language_model
    from qa.llm.llamacpp import chatml
    from qa.prompt import REFUSAL, build_messages
    from qa.llm.scores import _read_again

    passages = qa.ask(TWINS[0][0], settings=lighthouse).passages
    gen = language_model(lighthouse.llm, progress=False)
    messages = build_messages(TWINS[0][0], passages, "sentence")
    text = "".join(gen.stream(messages)).strip()
    model = gen.llama
    prompt_ids = model.tokenize(chatml(messages).encode(), add_bos=False, special=True)
    refusal = model.tokenize(REFUSAL.encode(), add_bos=False, special=False)[:1]
    written = gen._written.scores(model, prompt_ids, text, refusal[0])
    assert written is not None, "the written tokens were not kept"
    again = _read_again(model, prompt_ids, text, refusal)
    assert len(written[0]) == len(again[0]) > 1
    # Not bit for bit: llama.cpp's sums differ by batch size (0.1 seen at the first token); a token read
    # from the wrong place in the vocabulary would be off by whole units.
    assert np.allclose(written[0], again[0], atol=0.3) and abs(written[1] - again[1]) < 0.5
    assert abs(written[0].mean() - again[0].mean()) < 0.05
    # From a context that holds none of the prompt (a replay's `--read-again`): the prompt is decoded
    # without its logits, the answer with them; the scores are the same.
    model.reset()
    cold = _read_again(model, prompt_ids, text, refusal)
    assert np.allclose(cold[0], again[0], atol=0.3) and abs(cold[1] - again[1]) < 0.5
