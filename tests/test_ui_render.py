"""The chat's pure parts: conversation pairs for follow-ups, and highlighting inside a passage."""

import copy
import json

from eval.report import _marked
from index import Source
from ui.app import REWRITE_TITLE, conversation
from ui.render import highlighted, sources_html


def test_conversation_pairs_skip_search_notes():
    messages = [
        {"role": "user", "content": "What guarantees does Russia demand?"},
        {"role": "assistant", "content": "Guaranteed x", "metadata": {"title": REWRITE_TITLE}},
        {"role": "assistant", "content": "Neutral status [1]."},
        {"role": "user", "content": "And Britain?"},
        {"role": "assistant", "content": "A peacekeeping force [1]."},
    ]
    assert conversation(messages) == [
        ("What guarantees does Russia demand?", "Neutral status [1]."),
        ("And Britain?", "A peacekeeping force [1]."),
    ]


def test_highlight_marks_exactly_the_supporting_span_and_escapes_html():
    text = "First <b>one</b>. The neutral status of Ukraine. Last."
    start = 100
    at = text.index("The neutral")
    span = (start + at, start + at + len("The neutral status of Ukraine."))
    source = Source(id="x", document="d.txt", text=text, start=start, end=start + len(text), score=0.5, n=1, highlights=[span])
    html = highlighted(source)
    assert "<mark>The neutral status of Ukraine.</mark>" in html
    assert "&lt;b&gt;one&lt;/b&gt;" in html and "<b>" not in html
    assert 'id="source-1"' in sources_html([source]) and "0.50" in sources_html([source])


def test_web_chat_and_eval_report_highlight_a_source_alike():
    text = "Kursk <is> a region. Russia & Ukraine met. Prices rose."
    spans = [(1021, 1042), (1000, 1020), (1010, 1015)]
    source = Source(id="x", document="d.txt", text=text, start=1000, end=1000 + len(text), score=0.5, n=1, highlights=spans)
    from_results_file = json.loads(json.dumps(source.model_dump()))
    assert _marked(from_results_file) == highlighted(source)
    assert highlighted(source) == "<mark>Kursk &lt;is&gt; a region.</mark> <mark>Russia &amp; Ukraine met.</mark> Prices rose."


def test_answer_is_shown_as_being_checked_then_confirmed_or_withdrawn_in_place(seed_settings):
    """The chat handler with a model whose token scores are set: while the words stream the answer is marked
    as being checked; then the same message becomes the checked answer, or the refusal, with the scores."""
    from tests.fakes import ScoredLLM
    from ui.app import Chat
    from ui.render import CHECKING

    for refusal_first, passed in ((-12.0, True), (-0.05, False)):  # the model all but refused: withdrawn
        chat = Chat(seed_settings, ScoredLLM(history=[], scored=[], refusal_first=refusal_first))
        answering = chat.respond("What guarantees does Russia demand?", [], seed_settings.store.collection)
        updates = [(copy.deepcopy(history), panel) for history, panel in answering]  # the handler reuses its list
        streamed = [h[-1]["content"] for h, _ in updates[1:-1]]
        assert streamed and all(text.endswith(CHECKING) for text in streamed)
        history, panel = updates[-1]
        final = history[-1]["content"]
        assert len(history) == 2 and CHECKING not in final  # replaced in place, not appended
        if passed:
            assert "[1]" in final and "✓ Checked against the passages: this answers the question" in panel
        else:
            assert "Not in the documents" in final and "withdrawn" in final and "did not answer the question" in panel
        assert "<summary>" in panel and "refusal_first_logprob" not in panel.split("</summary>")[0]  # scores one click away
