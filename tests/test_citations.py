"""Citations come from evidence: a supported sentence cites its passage, an invented one cites nothing."""

import pytest

from index import Source
from qa.answer import highlight_segments
from qa.citations import cite
from qa.text import sentence_spans
from qa.components import embedder, verifier
from qa.settings import EmbedSettings

GRUSHKO = (
    "Prior to the phone call, Russian Deputy Foreign Minister Alexander Grushko said that, “We will demand that "
    "ironclad security guarantees become part of this agreement,” in an interview with Russian media outlet Izvestia. "
    "Some of the guarantees that Russia demands include, he said, “…the neutral status of Ukraine, the refusal of "
    "NATO countries to accept it into the alliance.”"
)
CIVILIANS = (
    "Civilians on the ground are continuing to suffer. Earlier this month, Russian strikes killed at least 25 in "
    "Ukraine, and Ukraine’s largest ever drone attack on Moscow killed at least three employees of a meat warehouse."
)


def passages() -> list[Source]:
    return [
        Source(id="a", document="seed.txt", text=GRUSHKO, start=1000, end=1000 + len(GRUSHKO), score=0.6),
        Source(id="b", document="seed.txt", text=CIVILIANS, start=3000, end=3000 + len(CIVILIANS), score=0.3),
    ]


def embed(texts):
    return embedder(EmbedSettings(threads=2)).get_text_embedding_batch(texts)


def verify(pairs):
    return verifier(1)(pairs)


def test_sentences_split_with_offsets():
    text = "Mr. Smith met the U.S. envoy. He left!  Then: “done.” Last one"
    parts = [text[s:e] for s, e in sentence_spans(text)]
    assert parts == ["Mr. Smith met the U.S. envoy.", "He left!", "Then: “done.”", "Last one"]


def test_supported_sentence_cites_its_passage_and_highlights_the_support():
    answer = "Russia demands the neutral status of Ukraine and that NATO refuses to accept it into the alliance."
    text, sentences, sources = cite(answer, passages(), embed, verify)
    assert [s.id for s in sources] == ["a"] and sources[0].n == 1
    assert [(s.text, s.citations, s.supported) for s in sentences] == [(answer, [1], True)]
    assert text.endswith("alliance [1].")
    (start, end), = sources[0].highlights
    support = GRUSHKO[start - 1000 : end - 1000]
    assert "neutral status of Ukraine" in support and "Izvestia" not in support


def test_each_sentence_cites_its_own_passage():
    answer = "Grushko demanded ironclad security guarantees. Russian strikes killed at least 25 in Ukraine."
    text, sentences, sources = cite(answer, passages(), embed, verify)
    assert [s.citations for s in sentences] == [[1], [2]]
    assert [s.id for s in sources] == ["a", "b"]


def test_a_sentence_joining_two_passages_facts_cites_both():
    condition = ("Dan Sabbagh points out that Russia’s main condition is, “the complete cessation of foreign military "
                 "aid and the provision of intelligence information to Kyiv,” according to a statement by Russia.")  # fmt: skip
    ps = [passages()[0], Source(id="c", document="seed.txt", text=condition, start=2000, end=2000 + len(condition), score=0.5)]
    answer = ("Russia demands the neutral status of Ukraine, the refusal of NATO countries to accept it into the alliance, "
              "and the complete cessation of foreign military aid and the provision of intelligence information to Kyiv.")  # fmt: skip
    _, sentences, sources = cite(answer, ps, embed, verify, "What guarantees does Russia demand?")
    assert sentences[0].citations == [1, 2] and {s.id for s in sources} == {"a", "c"}


def test_invented_sentence_gets_no_citation():
    answer = "France won the 1998 football World Cup in Paris."
    text, sentences, sources = cite(answer, passages(), embed, verify)
    assert sources == [] and not sentences[0].supported and "[" not in text


def test_wrong_number_is_not_supported():
    answer = "Russian strikes killed at least 40 in Ukraine."
    _, sentences, sources = cite(answer, passages(), embed, verify)
    assert sources == [] and not sentences[0].supported


def test_possessive_names_match_whatever_the_apostrophe():
    # The model writes a straight apostrophe where the document has a curly one.
    answer = "Ukraine's largest ever drone attack on Moscow killed at least three employees of a meat warehouse."
    _, sentences, sources = cite(answer, passages(), embed, verify)
    assert sentences[0].supported and [s.id for s in sources] == ["b"]


def test_a_name_missing_from_the_passage_is_not_supported():
    answer = "Kharkiv's largest ever drone attack on Moscow killed at least three employees of a meat warehouse."
    _, sentences, sources = cite(answer, passages(), embed, verify)
    assert not sentences[0].supported and sources == []


def test_a_capitalised_first_word_the_documents_or_question_write_in_lower_case_is_no_name():
    """A sentence's first word is capitalised whatever it is: "Creating ..." restates the question's "creating",
    and is not a name the passage must hold (XQuAD). A first word written nowhere in lower case still is one."""
    from qa.text import lower_case, names

    assert names("Creating highways led to settlement.", lower_case("What did creating highways lead to?")) == set()
    assert names("Venom is the first black metal band.", lower_case("Venom, reckoned by many to be ...")) == {"venom"}
    text = "The first two highways successfully opened up the rainforest and led to increased settlement and deforestation."
    doc = [Source(id="h", document="amazon.txt", text=text, start=0, end=len(text), score=0.6)]
    answer = "Creating highways in the rainforest led to increased settlement and deforestation."
    _, sentences, sources = cite(answer, doc, embed, verify, "What did creating highways in the rainforest lead to?")
    assert sentences[0].supported and [s.id for s in sources] == ["h"]


def test_with_the_check_the_best_sentence_cites_below_the_floor_and_weaker_ones_do_not():
    """Where the answerhood check judges the whole answer (`checked`), the floor no longer refuses it: its
    best-scored sentence cites its span, and the check decides. Its weaker sentences stay uncited; a sentence
    whose names no passage holds is never cited."""
    answer = "Grushko demanded ironclad security guarantees. Russian strikes killed at least 25 in Ukraine."
    weak = lambda pairs: [0.01 if "Grushko" in c else 0.005 for c, _ in pairs]  # noqa: E731 - below SUPPORT_MIN
    assert cite(answer, passages(), embed, weak)[2] == []
    _, sentences, sources = cite(answer, passages(), embed, weak, checked=True)
    assert [s.citations for s in sentences] == [[1], []] and [s.id for s in sources] == ["a"]
    assert sentences[0].score == 0.01 and not sentences[1].supported
    assert cite("France won the 1998 World Cup in Paris.", passages(), embed, weak, checked=True)[2] == []


def test_a_number_may_come_from_the_sentence_after_the_name():
    text = "Southern California is a region of the United States. The region is home to two extended metropolitan areas."
    two = [Source(id="d", document="x.txt", text=text, start=0, end=len(text), score=0.5)]
    _, sentences, sources = cite("Southern California has two extended metropolitan areas.", two, embed, verify)
    assert sentences[0].supported and [s.id for s in sources] == ["d"]


def test_numbers_match_in_digits_or_words_and_plurals_meet_their_singular():
    # Short answers put "3" for "three" and "30 days" for "30-day": both are the passage's facts.
    ceasefire = "Ukraine agreed to a 30-day ceasefire last week."
    extra = Source(id="c", document="seed.txt", text=ceasefire, start=5000, end=5000 + len(ceasefire), score=0.5)
    asked = "How many employees of the meat warehouse were killed?"
    for answer, cited, question in (("3", "b", asked), ("At least three", "b", asked),
                                    ("30 days", "c", "How long is the ceasefire Ukraine agreed to?")):  # fmt: skip
        _, sentences, sources = cite(answer, [*passages(), extra], embed, verify, question)
        assert sentences[0].supported and [s.id for s in sources] == [cited], answer
    _, sentences, _ = cite("4", passages(), embed, verify, asked)
    assert not sentences[0].supported


def test_a_bare_number_needs_a_span_about_what_was_asked():
    # "three" counts meat-warehouse employees, not soldiers: a bare "3" cannot answer this question.
    _, sentences, sources = cite("3", passages(), embed, verify, "How many soldiers has Russia lost in the war?")
    assert sources == [] and not sentences[0].supported
    # A year in a sentence naming what was asked about answers "when".
    text = "The European Convention on Human Rights was drafted in 1950 by the Council of Europe."
    echr = Source(id="c", document="echr.txt", text=text, start=0, end=len(text), score=0.5)
    _, sentences, sources = cite("1950", [echr], embed, verify, "When was the European Convention on Human Rights established?")
    assert sentences[0].supported and [s.id for s in sources] == ["c"]


def test_highlight_segments_cut_the_passage_at_its_highlights():
    text = "One. Two. Three. Four."
    # Document offsets of a passage starting at 100: unsorted, overlapping, touching and out of range.
    spans = [(110, 116), (105, 109), (107, 112), (116, 122), (90, 95), (130, 140)]
    pieces = highlight_segments(text, 100, spans)
    assert "".join(t for t, _ in pieces) == text
    assert pieces == [("One. ", False), ("Two. Three. Four.", True)]
    assert highlight_segments(text, 100, [(105, 109), (116, 122)]) == [
        ("One. ", False), ("Two.", True), (" Three.", False), (" Four.", True),
    ]  # fmt: skip
    assert highlight_segments(text, 100, []) == [(text, False)]
    assert highlight_segments("", 0, [(0, 5)]) == []


OFFER = (
    "Even though Britain and France have both said that they were willing to send a peacekeeping force to monitor "
    "any ceasefire in Ukraine, Grushko said that the deployment of unarmed post-conflict observers can only be "
    "discussed after a peace agreement is achieved."
)


def test_a_passage_sharing_only_a_name_with_the_claim_is_not_cited():
    """The claim is in OFFER; GRUSHKO only adds his first name. Citing it would lend the claim a passage that does not hold it."""
    ps = [Source(id="offer", document="seed.txt", text=OFFER, start=0, end=len(OFFER), score=0.4), passages()[0]]
    answer = ("Alexander Grushko said that the deployment of unarmed post-conflict observers can only be discussed "
              "after a peace agreement is achieved.")  # fmt: skip
    _, sentences, sources = cite(answer, ps, embed, verify, question="What did Britain and France offer, and what did Grushko say about it?")
    assert [s.id for s in sources] == ["offer"] and sentences[0].citations == [1]


def test_a_first_name_no_passage_holds_is_still_required():
    ps = [Source(id="offer", document="seed.txt", text=OFFER, start=0, end=len(OFFER), score=0.4)]
    answer = "Sergei Grushko said that unarmed observers can only be discussed after a peace agreement is achieved."
    _, sentences, sources = cite(answer, ps, embed, verify)
    assert sources == [] and not sentences[0].supported


def test_a_country_named_by_its_adjective_in_the_passage_is_the_same_name():
    """"Russia" in the answer, "Russian forces" in the passage: the claim is held (a right answer was refused for it)."""
    text = ("Putin expressed concerns that Ukraine seeks a ceasefire due to Russian forces gaining almost full "
            "control of the Kursk region.")  # fmt: skip
    ps = [Source(id="kursk", document="seed.txt", text=text, start=0, end=len(text), score=0.5)]
    _, sentences, sources = cite("Russia says Russian forces almost fully control the Kursk region.", ps, embed, verify)
    assert [s.id for s in sources] == ["kursk"] and sentences[0].supported
    _, sentences, sources = cite("Austria says Russian forces almost fully control the Kursk region.", ps, embed, verify)
    assert sources == []


def test_a_name_that_answers_the_question_is_held_by_the_passage_naming_it():
    answer = "Russian Deputy Foreign Minister Alexander Grushko is quoted in the article."
    text, sentences, sources = cite(answer, passages(), embed, verify, "Who is Russia's Deputy Foreign Minister quoted in the article?")
    assert [s.id for s in sources] == ["a"]


def test_hard_wrapped_lines_are_one_sentence_and_a_pronoun_carries_the_subject():
    text = (
        "# The Skerry lighthouse\n\nThe Skerry lighthouse stands on a bare rock two miles off the west coast. It was\n"
        "designed by the engineer Thomas Brennan and first lit in 1852, after four summers of building on the rock.\n"
    )
    parts = [text[s:e] for s, e in sentence_spans(text)]
    assert parts[0] == "# The Skerry lighthouse" and parts[2].startswith("It was\ndesigned") and parts[2].endswith("rock.")
    doc = [Source(id="l", document="skerry.md", text=text, start=0, end=len(text), score=0.6)]
    assert cite("The Skerry lighthouse was first lit in 1852.", doc, embed, verify, "When was the Skerry lighthouse first lit?")[2]
    assert cite("Thomas Brennan designed the Skerry lighthouse.", doc, embed, verify, "Who designed the Skerry lighthouse?")[2]


def test_a_duration_no_passage_states_is_not_cited():
    """"About 1 hour" is not held by "one fifth of its territory" in one passage nor by "hours after the call"
    in another, though both passages also name the call's parties (the question's words)."""
    a = "After the phone call, Putin said Ukraine has still lost one fifth of its territory."
    b = "Hours after the call, Trump and Putin traded accusations."
    docs = [Source(id="a", document="d.txt", text=a, start=0, end=len(a), score=0.6),
            Source(id="b", document="d.txt", text=b, start=500, end=500 + len(b), score=0.5)]  # fmt: skip
    claim = "The phone call between Trump and Putin lasted for about 1 hour."
    question = "How long did the phone call between Trump and Putin last?"
    assert cite(claim, docs, embed, verify, question)[2] == []


# Claims the verifier wrongly supports (docs/verifier.md, "Known errors"). Each was caught by a rule of the
# earlier citation check; the rules went because each was written for one example. Strict: a verifier that
# gets one right fails this test, so the list in docs/verifier.md is kept true.
KNOWN_ERRORS = [
    ("Russia has lost one fifth of its territory.", "What has Russia lost?",
     "The statement was made by Russia after the call. Ukraine has still lost one fifth of its territory."),
    ("The peace summit will take place after the ceasefire is achieved.", "When will the peace summit take place?", OFFER),
    ("On Friday, Russia and Ukraine signed the treaty in Istanbul.", "What happened in Istanbul on Friday?",
     "Russia bombed Ukraine on Friday while NATO leaders met in Istanbul."),
]  # fmt: skip


@pytest.mark.xfail(strict=True, reason="a known verifier error: docs/verifier.md")
@pytest.mark.parametrize(("claim", "question", "text"), KNOWN_ERRORS)
def test_known_verifier_errors(claim, question, text):
    doc = [Source(id="k", document="k.txt", text=text, start=0, end=len(text), score=0.5)]
    assert cite(claim, doc, embed, verify, question)[2] == []


def test_spans_are_asked_best_match_first_and_no_further_than_the_first_supported():
    """A sentence cites the best-matching span the verifier supports, so the spans after it are not asked."""
    texts = ["The Skerry lighthouse was designed by the engineer Thomas Brennan and first lit in 1852.",
             "Thomas Brennan, an engineer, designed several lighthouses, among them the Skerry lighthouse.",
             "The Skerry lighthouse, lit in 1852, was the work of Thomas Brennan."]  # fmt: skip
    docs = [Source(id=str(i), document=f"{i}.txt", text=t, start=0, end=len(t), score=0.5) for i, t in enumerate(texts)]
    answer, question = "Thomas Brennan designed the Skerry lighthouse.", "Who designed the Skerry lighthouse?"
    for rejected in (0, 1):  # the verifier refuses the first `rejected` spans it is asked about
        asked: list[str] = []

        def judge(pairs):
            asked.extend(evidence for _, evidence in pairs)
            return [0.0 if len(asked) - len(pairs) + k < rejected else 0.9 for k in range(len(pairs))]

        _, sentences, sources = cite(answer, docs, embed, judge, question)
        assert len(asked) == rejected + 1 and len(set(asked)) == len(asked)
        assert [s.text for s in sources] == [asked[-1]] and sentences[0].score == 0.9
