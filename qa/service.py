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
from qa.answer import Answer
from qa.citations import Verify, cite
from qa.errors import QuestionError
from qa.excerpts import select
from qa.guard import drop_instructions
from qa.llm import Generator, LLMUnavailable
from qa.prompt import REFUSAL, build_messages, condense_messages, instructions
from qa.settings import AnswerSettings
from qa.text import content_words, sentence_spans

REFUSED = "I could not find the answer to this in the documents."
MAX_QUESTION_CHARS = 2000

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
        generator: Callable[[], Generator],
        embed: Embed,
        verify: Verify,
        settings: AnswerSettings,
        postprocessors: Sequence[Postprocessor] = (drop_instructions,),
    ) -> None:
        """`generator` is called only when a question gets past retrieval, so sources come first.

        `embed` embeds sentences for excerpts and citations (the store's embedding model); `verify`
        scores (claim, evidence) pairs for citations and the answerhood check (qa.verifier).
        """
        self.retriever = retriever
        self._generator = generator
        self._embed = embed
        self._verify = verify
        self.settings = settings
        self.postprocessors = list(postprocessors)

    def warm(self) -> Generator:
        """Load the language model and have it read the instructions now, not at the first question."""
        generator = self._generator()
        generator.prefill(instructions(self.settings.style))
        return generator

    def retrieve(self, question: str) -> list[Source]:
        """The best passages after post-processing (by default: less any that give orders to the model)."""
        passages = self.retriever.retrieve(question, self.settings.top_k)
        for step in self.postprocessors:
            passages = step(question, passages)
        return passages

    def condense(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        """Rewrite a follow-up ("And what did Britain offer?") as a question that stands alone."""
        if not history:
            return question
        try:
            text = "".join(self._generator().aside(condense_messages(question, history))).strip()
        except LLMUnavailable:
            return question  # the answer step reports the outage
        line = text.splitlines()[0].removeprefix("Rewritten:").strip().strip('"“”') if text else ""
        return line if 3 <= len(line) <= 2 * len(question) + 200 else question

    def stream(self, question: str, history: Sequence[tuple[str, str]] = ()) -> Iterator[Event]:
        """Yields the retrieved passages, then the answer's text as it is generated, then the `Answer`.

        `history` is the conversation so far as (question, answer) pairs; with it, the question is
        first rewritten to stand alone, and that rewrite is what is searched and answered.
        """
        t0 = time.perf_counter()
        question = clean_question(question)
        query = self.condense(question, history)
        timings = {"condense": time.perf_counter() - t0} if history else {}
        passages = self.retrieve(query)
        timings["sources"] = time.perf_counter() - t0
        yield passages
        if not passages or max(p.score for p in passages) < self.settings.min_score:
            timings["total"] = time.perf_counter() - t0
            yield self._refused(question, query, passages, timings, "retrieval")
            return
        embed = Remembered(self._embed)  # excerpts embed the passages' sentences; citations reuse them
        excerpts = select(query, passages, embed, self.settings.context_tokens)
        timings["excerpts"] = time.perf_counter() - t0
        text = ""
        messages = build_messages(query, excerpts, self.settings.style)
        try:
            for delta in self._generator().stream(messages):
                timings.setdefault("first_token", time.perf_counter() - t0)
                text += delta
                yield delta
        except LLMUnavailable as e:
            timings["total"] = time.perf_counter() - t0
            yield Answer(question=question, query=query, text=str(e), refused=False, error=str(e),
                         sources=[], passages=passages, timings=timings)  # fmt: skip
            return
        written = time.perf_counter()
        answer = self.finish(question, text.strip(), passages, query, embed)
        if not answer.refused and self.settings.check:
            answer = self.check(answer, messages, text.strip())
        timings["check"] = time.perf_counter() - written  # after the last token: citations and the check
        timings["total"] = time.perf_counter() - t0
        answer.timings = timings
        answer.context = [e.text for e in excerpts]
        yield answer

    def ask(self, question: str, history: Sequence[tuple[str, str]] = ()) -> Answer:
        *_, answer = self.stream(question, history)
        return answer

    def finish(
        self, question: str, text: str, passages: list[Source], query: str | None = None, embed: Embed | None = None
    ) -> Answer:
        """Attach citations to the model's text; refuse when it refused or nothing supports it."""
        query = query or question
        if not text or _MODEL_REFUSAL.search(text):
            return self._refused(question, query, passages, {}, "model", text)
        marked, sentences, sources = cite(text, passages, embed or self._embed, self._verify, query)
        if not sources:
            return self._refused(question, query, passages, {}, "unsupported", text)
        return Answer(
            question=question,
            query=query,
            text=marked,
            refused=False,
            sources=sources,
            passages=passages,
            sentences=sentences,
        )

    def check(self, answer: Answer, messages: Sequence, draft: str) -> Answer:
        """Decide whether `answer` answers its question (qa.answerhood): the verifier's scores of its sentences,
        read by the citations, and the model's token scores of what it wrote; withdraw it when it does not."""
        try:
            model = self._generator().token_scores(messages, draft, REFUSAL)
        except LLMUnavailable:
            model = {}
        top = max((p.score for p in answer.passages), default=0.0)
        scores = answerhood.features(answer.sentences, top, model)
        threshold = self.settings.check_threshold
        check = answerhood.decide(scores, answerhood.THRESHOLD if threshold is None else threshold)
        if check.passed:
            return answer.model_copy(update={"check": check})
        refused = self._refused(answer.question, answer.query, answer.passages, {}, "check", draft)
        return refused.model_copy(update={"check": check})

    @staticmethod
    def _refused(
        question: str, query: str, passages: list[Source], timings: dict[str, float], why: str, draft: str | None = None
    ) -> Answer:
        text = REFUSED if why == "retrieval" or not passages else f"{REFUSED} {nearby(query, passages[0])}"
        return Answer(
            question=question, query=query, text=text, refused=True, sources=[], passages=passages,
            timings=timings, refusal=why, draft=draft or None,
        )  # fmt: skip


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


def nearby(query: str, passage: Source) -> str:
    """What the closest passage does say, marked as not an answer: its sentence nearest the question."""
    wanted = content_words(query)
    spans = sentence_spans(passage.text) or [(0, len(passage.text))]
    worded = [sp for sp in spans if len(content_words(passage.text[sp[0] : sp[1]])) >= 2] or spans  # not a lone "."
    s, e = max(worded, key=lambda span: (len(wanted & content_words(passage.text[span[0] : span[1]])), -span[0]))
    sentence = passage.text[s:e].strip()
    if len(sentence) > 300:
        sentence = sentence[:300].rsplit(" ", 1)[0] + " …"
    return f"Not an answer, but the closest passage searched ({passage.document}) says: “{sentence}”"
