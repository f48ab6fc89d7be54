"""The answerhood check with the real model: a question written around a neighbouring fact is refused,
its answerable twin is answered.

The document holds a date for almost every event of the lighthouse's life, but not the one asked
about, so a careless reader answers with one of the others (as SQuAD 2.0's unanswerable questions
are written). Assertions are about refusal, not about the model's wording.
"""

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
    assert answer.check.passed and answer.check.method == "logprobs"
