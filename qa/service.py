"""Question in, cited answer out: retrieve, then generate, then attach citations from evidence.

Each step is its own method so that the eval suite can score retrieval and answers apart.
"""

import re
import time
from collections.abc import Callable, Iterator, Sequence

from index import Source, Store, StoreError
from qa.answer import Answer, Sentence
from qa.citations import cite
from qa.guard import addresses_the_model
from qa.llm import Generator, LLMUnavailable
from qa.prompt import build_messages, condense_messages
from qa.settings import AnswerStyle

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


class QuestionError(StoreError):
    """The question cannot be asked as given (empty, too long, ...)."""


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
        store: Store,
        generator: Callable[[], Generator],
        top_k: int,
        min_score: float,
        style: AnswerStyle = "sentence",
    ) -> None:
        """`generator` is called only when a question gets past retrieval, so sources come first."""
        self.store = store
        self._generator = generator
        self.top_k = top_k
        self.min_score = min_score
        self.style = style

    def retrieve(self, question: str) -> list[Source]:
        """The best passages, less any that give orders to the model (prompt injection, see `qa.guard`)."""
        return [p for p in self.store.retrieve(question, self.top_k) if not addresses_the_model(p.text)]

    def condense(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        """Rewrite a follow-up ("And what did Britain offer?") as a question that stands alone."""
        if not history:
            return question
        try:
            text = "".join(self._generator().stream(condense_messages(question, history))).strip()
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
        if not passages or max(p.score for p in passages) < self.min_score:
            timings["total"] = time.perf_counter() - t0
            yield self._refused(question, query, passages, timings, "retrieval")
            return
        text = ""
        try:
            for delta in self._generator().stream(build_messages(query, passages, self.style)):
                timings.setdefault("first_token", time.perf_counter() - t0)
                text += delta
                yield delta
        except LLMUnavailable as e:
            timings["total"] = time.perf_counter() - t0
            yield Answer(question=question, query=query, text=str(e), refused=False, error=str(e),
                         sources=[], passages=passages, timings=timings)  # fmt: skip
            return
        answer = self.finish(question, text.strip(), passages, query)
        timings["total"] = time.perf_counter() - t0
        answer.timings = timings
        yield answer

    def ask(self, question: str, history: Sequence[tuple[str, str]] = ()) -> Answer:
        *_, answer = self.stream(question, history)
        return answer

    def finish(self, question: str, text: str, passages: list[Source], query: str | None = None) -> Answer:
        """Attach citations to the model's text; refuse when it refused or nothing supports it."""
        query = query or question
        if not text or _MODEL_REFUSAL.search(text):
            return self._refused(question, query, passages, {}, "model", text)
        marked, claims, sources = cite(text, passages, self.store.embedder.get_text_embedding_batch, query)
        if not sources:
            return self._refused(question, query, passages, {}, "unsupported", text)
        return Answer(
            question=question,
            query=query,
            text=marked,
            refused=False,
            sources=sources,
            passages=passages,
            sentences=[Sentence(text=c.text, citations=list(c.citations), supported=c.supported) for c in claims],
        )

    @staticmethod
    def _refused(
        question: str, query: str, passages: list[Source], timings: dict[str, float], why: str, draft: str | None = None
    ) -> Answer:
        return Answer(
            question=question, query=query, text=REFUSED, refused=True, sources=[], passages=passages,
            timings=timings, refusal=why, draft=draft or None,
        )  # fmt: skip
