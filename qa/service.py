"""Question in, cited answer out: retrieve, post-process, generate, then attach citations from evidence.

Retrieval, post-processing and synthesis are separate objects, so each can be scored alone;
the eval scores `Answer.passages`, the very list the model saw.
"""

import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from index import Source
from qa import answerhood
from qa.answer import Answer, Check
from qa.citations import Verify, cite
from qa.errors import QuestionError
from qa.excerpts import Excerpt, select
from qa.guard import drop_instructions
from qa.llm import LanguageModel, LLMUnavailable
from qa.prompt import REFUSAL, build_messages, condense_messages, instructions
from qa.settings import AnswerSettings, AnswerStyle
from qa.text import content_words, sentence_spans

REFUSED = "I could not find the answer to this in the documents."
MAX_QUESTION_CHARS = 2000
NEAR_WORDS = 2  # content words a refusal's quote shares with the question, at least

# What the model says when the passages do not hold the answer, in the words seen from it.
_MODEL_REFUSAL = re.compile(
    r"\bI (?:do not|don['’]t) know\b|\b(?:passages?|documents?|text|context) (?:does|do) not "
    r"(?:contain|mention|say|provide|specify|state)|\bno information\b|\bnot (?:mentioned|specified|stated) in\b|"
    r"\bcannot (?:answer|find|determine)\b",
    re.IGNORECASE,
)

Event = list[Source] | str | Answer
Postprocessor = Callable[[str, list[Source]], list[Source]]  # (query, passages) -> the passages kept
Embed = Callable[[list[str]], list[list[float]]]


class Retriever(Protocol):
    def retrieve(self, query: str, k: int) -> list[Source]:
        """Up to `k` passages for `query`, best first."""


_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")  # terminal colour and cursor codes, as pasted


def clean_question(question: str) -> str:
    text = _ANSI.sub(" ", question or "")
    text = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in text)
    text = " ".join(text.split())
    if not any(ch.isalnum() for ch in text):
        raise QuestionError("The question is empty: ask something in words.")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(f"The question is {len(text):,} characters long; the limit is {MAX_QUESTION_CHARS:,}.")
    return text


class Pipeline:
    def __init__(
        self,
        retriever: Retriever,
        model: Callable[[], LanguageModel],
        embed: Embed,
        verify: Verify,
        settings: AnswerSettings,
        postprocessors: Sequence[Postprocessor] = (drop_instructions,),
    ) -> None:
        """`model` is called only when a question gets past retrieval, so sources come first.

        `embed` embeds sentences for excerpts and citations (the store's embedding model); `verify`
        scores (claim, evidence) pairs for citations and the answerhood check (qa.verifier).
        `settings` are the defaults; `top_k` and `style` may be given per question.
        """
        self.retriever = retriever
        self._model = model
        self._embed = embed
        self._verify = verify
        self.settings = settings
        self.postprocessors = list(postprocessors)

    def warm(self, style: AnswerStyle | None = None) -> LanguageModel:
        """Load the language model and have it read the instructions now, not at the first question."""
        model = self._model()
        model.prefill(instructions(style or self.settings.style))
        return model

    def retrieve(self, question: str, top_k: int | None = None) -> list[Source]:
        """The best passages after post-processing (by default: less any that give orders to the model)."""
        passages = self.retriever.retrieve(question, top_k or self.settings.top_k)
        for step in self.postprocessors:
            passages = step(question, passages)
        return passages

    def excerpts(self, query: str, passages: list[Source], budget: int | None = None, embed: Embed | None = None) -> list[Excerpt]:
        """What the model reads of `passages` (qa.excerpts), at most `budget` tokens (default: the settings')."""
        budget = self.settings.context_tokens if budget is None else budget
        return select(query, passages, embed or self._embed, budget)

    def condense(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        """Rewrite a follow-up ("And what did Britain offer?") as a question that stands alone."""
        if not history:
            return question
        try:
            text = "".join(self._model().aside(condense_messages(question, history))).strip()
        except LLMUnavailable:
            return question  # the answer step reports the outage
        line = text.splitlines()[0].removeprefix("Rewritten:").strip().strip('"“”') if text else ""
        return line if 3 <= len(line) <= 2 * len(question) + 200 else question

    def stream(
        self,
        question: str,
        history: Sequence[tuple[str, str]] = (),
        *,
        top_k: int | None = None,
        style: AnswerStyle | None = None,
    ) -> Iterator[Event]:
        """Yields the retrieved passages, then the answer's text as it is generated, then the `Answer`.

        `history` is the conversation so far as (question, answer) pairs; with it, the question is
        first rewritten to stand alone, and that rewrite is what is searched and answered.
        """
        t0 = time.perf_counter()
        question = clean_question(question)
        query = self.condense(question, history)
        timings = {"condense": time.perf_counter() - t0} if history else {}
        passages = self.retrieve(query, top_k)
        timings["sources"] = time.perf_counter() - t0
        yield passages
        asked = Answer(question=question, query=query, text="", refused=False, sources=[], passages=passages)
        if not passages or max(p.score for p in passages) < self.settings.min_score:
            timings["total"] = time.perf_counter() - t0
            yield _refused(asked, "retrieval").model_copy(update={"timings": timings})
            return
        embed = Remembered(self._embed)  # excerpts embed the passages' sentences; citations reuse them
        excerpts = self.excerpts(query, passages, embed=embed)
        timings["excerpts"] = time.perf_counter() - t0
        text = ""
        messages = build_messages(query, excerpts, style or self.settings.style)
        try:
            for delta in self._model().stream(messages):
                timings.setdefault("first_token", time.perf_counter() - t0)
                text += delta
                yield delta
        except LLMUnavailable as e:
            timings["total"] = time.perf_counter() - t0
            yield asked.model_copy(update={"text": str(e), "error": str(e), "timings": timings})
            return
        written = time.perf_counter()
        answer = self.finish(asked, text.strip(), embed, messages if self.settings.check else None)
        timings["check"] = time.perf_counter() - written  # after the last token: citations and the check
        timings["total"] = time.perf_counter() - t0
        tokens = self._model().tokens(messages, text)
        yield answer.model_copy(update={"timings": timings, "context": [e.text for e in excerpts], "tokens": tokens})

    def ask(self, question: str, history: Sequence[tuple[str, str]] = (), **per_question) -> Answer:
        *_, answer = self.stream(question, history, **per_question)
        return answer

    def finish(self, asked: Answer, text: str, embed: Embed | None = None, messages: Sequence | None = None) -> Answer:
        """The model's `text` to `asked` (its question and passages) with citations attached; refused when the
        model refused, when no passage holds it (its names and numbers), or, given the `messages` it answered,
        when the answerhood check finds it does not answer the question. Without `messages` (the check
        off) an answer no passage supports beyond the verifier's floor is refused (qa.citations)."""
        if not text or _MODEL_REFUSAL.search(text):
            return _refused(asked, "model", text)
        checked = messages is not None
        marked, sentences, sources = cite(text, asked.passages, embed or self._embed, self._verify, asked.query, checked)
        if not sources:
            return _refused(asked, "unsupported", text)
        cited = asked.model_copy(update={"text": marked, "sources": sources, "sentences": sentences})
        if not checked:
            return cited
        check = self.check(cited, messages, text)
        return cited.model_copy(update={"check": check}) if check.passed else _refused(cited, "check", text, check)

    def check(self, answer: Answer, messages: Sequence, draft: str) -> Check:
        """Whether `answer` answers its question (qa.answerhood): the verifier's scores of its sentences,
        read by the citations, and the model's token scores of what it wrote."""
        try:
            model = self._model().token_scores(messages, draft, REFUSAL)
        except LLMUnavailable:
            model = {}
        top = max((p.score for p in answer.passages), default=0.0)
        scores = answerhood.features(answer.sentences, top, model)
        threshold = self.settings.check_threshold
        return answerhood.decide(scores, answerhood.THRESHOLD if threshold is None else threshold)


def _refused(asked: Answer, why: str, draft: str | None = None, check: Check | None = None) -> Answer:
    """`asked` refused: the refusal, and what the closest passage does say when it bears on the question."""
    quote = nearby(asked.query, asked.passages[0]) if why != "retrieval" and asked.passages else None
    text = f"{REFUSED} {quote}" if quote else REFUSED
    return asked.model_copy(update={"text": text, "refused": True, "sources": [], "sentences": [], "refusal": why,
                                    "draft": draft or None, "check": check,
                                    "quoted": asked.passages[0] if quote else None})  # fmt: skip


class Remembered:
    """An embedding function that embeds each text once per question: what excerpts embedded, citations reuse."""

    def __init__(self, embed: Embed) -> None:
        self._embed = embed
        self._seen: dict[str, list[float]] = {}

    def __call__(self, texts: list[str]) -> list[list[float]]:
        new = list(dict.fromkeys(t for t in texts if t not in self._seen))
        if new:
            self._seen.update(zip(new, self._embed(new)))
        return [self._seen[t] for t in texts]


def nearby(query: str, passage: Source) -> str | None:
    """What the closest passage does say, marked as not an answer: its sentence nearest the question;
    None when no sentence shares `NEAR_WORDS` content words with the question (a quote that does not
    bear on the question is noise: an off-topic question gets the refusal alone)."""
    wanted = content_words(query)
    spans = sentence_spans(passage.text) or [(0, len(passage.text))]
    shared = [(len(wanted & content_words(passage.text[a:b])), -a, (a, b)) for a, b in spans]
    best, _, (s, e) = max(shared)
    if best < min(NEAR_WORDS, len(wanted)) or best == 0:
        return None
    sentence = passage.text[s:e].strip()
    if len(sentence) > 300:
        sentence = sentence[:300].rsplit(" ", 1)[0] + " …"
    return f"Not an answer, but the closest passage searched ({passage.document}) says: “{sentence}”"
