"""Replay the model's recorded answers of an earlier run: re-score citations and refusals in seconds.

The language model is the slow part of an eval run (minutes) and, at temperature 0, says the same
thing again for the same prompt. Citation and refusal rules act only on what it said, so a run's
recorded texts can be put through changed rules without it: `qa eval --replay RESULTS.jsonl`.
Retrieval, citations, refusals and scores are all computed afresh; only the model's words are replayed.
A question whose recorded run had other passages (retrieval changed since) is still answered with
the recorded words: compare retrieval with a full run.
"""

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback

from eval.compare import read_rows
from eval.errors import EvalError
from eval.metrics import strip_markers

_QUESTION = re.compile(r"Question: (.*)")


def recorded_texts(rows: Sequence[dict]) -> dict[str, str]:
    """question -> what the model wrote for it: the answer without its [n] markers, or a refusal's draft."""
    texts = {}
    for row in rows:
        if row.get("refused") is False and row.get("answer"):
            texts[_key(row["question"])] = strip_markers(row["answer"])
        elif row.get("draft"):
            texts[_key(row["question"])] = row["draft"]
    return texts


_TOKEN_SCORES = ("answer_mean_logprob", "refusal_first_logprob")


def recorded_scores(rows: Sequence[dict]) -> dict[str, dict]:
    """question -> the model's token scores recorded by the answerhood check (everything else is recomputed)."""
    found = {}
    for row in rows:
        scores = (row.get("check") or {}).get("scores") or {}
        kept = {k: scores[k] for k in _TOKEN_SCORES if k in scores}
        if kept:
            found[_key(row["question"])] = kept
    return found


def _key(question: str) -> str:
    """The question as the prompt holds it: the pipeline collapses its whitespace."""
    return " ".join(question.split())


class RecordedLLM(CustomLLM):
    """Answers each question with the text recorded for it; a question it has no record of is an error."""

    texts: dict[str, str]
    scores: dict[str, dict] = {}
    read_again: Any = None  # (messages, answer) -> token scores, for an answer recorded without them

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="recorded", context_window=32768, num_output=256, is_chat_model=False)

    def _text(self, prompt: str) -> str:
        asked = _QUESTION.findall(prompt)
        if not asked or _key(asked[-1]) not in self.texts:
            raise EvalError(f"no recorded answer for the question {asked[-1] if asked else prompt[-80:]!r}")
        return self.texts[_key(asked[-1])]

    def token_scores(self, messages: Sequence, answer: str) -> dict:
        """The token scores recorded for the question (the `qa.llm.LanguageModel`'s token_scores asks for them);
        for an answer recorded without them (refused before the check), `read_again`'s, where given."""
        asked = _QUESTION.findall(messages[-1].content)
        found = self.scores.get(_key(asked[-1]), {}) if asked else {}
        return found or (self.read_again(messages, answer) if self.read_again else {})

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self._text(prompt))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any):
        text = self._text(prompt)
        yield CompletionResponse(text=text, delta=text)


def load(path: Path) -> RecordedLLM:
    rows = read_rows(path)
    if rows[0].get("answer") is None and rows[0].get("refusal") != "retrieval":
        raise EvalError(f"{path} holds no model answers (a --retrieval-only run?)")
    return RecordedLLM(texts=recorded_texts(rows), scores=recorded_scores(rows))
