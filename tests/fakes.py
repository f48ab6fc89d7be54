"""A deterministic stand-in for the language model, for tests where the model is not under test."""

import re
from typing import Any

from llama_index.core.llms import CompletionResponse, CompletionResponseGen, CustomLLM, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback

from qa.text import content_words, sentence_spans


class ExtractiveLLM(CustomLLM):
    """Answers with the passage sentence that shares most content words with the question.

    Says "I don't know." when no sentence shares at least two; rewrites a follow-up by appending the
    conversation's first question. Every prompt is kept in `history`,
    and `invent` replaces the answer with a fixed sentence (to test unsupported answers).
    """

    history: list[str] = []
    invent: str | None = None

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="extractive-fake", context_window=4096, num_output=256)

    def _answer(self, prompt: str) -> str:
        self.history.append(prompt)
        if self.invent is not None:
            return self.invent
        if "Last question:" in prompt:  # a follow-up to make standalone
            conversation = prompt[prompt.rfind("Conversation:") :]
            last = re.findall(r"Last question: (.*)", conversation)[-1]
            first = re.findall(r"User: (.*)", conversation)[0]
            return f"{last.rstrip('?')} regarding: {first}"
        question = re.findall(r"Question: (.*)", prompt)[-1]
        context = prompt[: prompt.rfind("Question: ")]
        wanted = content_words(question)
        best, best_overlap = "I don't know.", 1
        for s, e in sentence_spans(context):
            sentence = context[s:e]
            if sentence.startswith("Passage from"):
                continue
            overlap = len(wanted & content_words(sentence))
            if overlap > best_overlap:
                best, best_overlap = sentence, overlap
        return best

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self._answer(prompt))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        text = self._answer(prompt)
        so_far = ""
        for word in re.findall(r"\S+\s*", text):
            so_far += word
            yield CompletionResponse(text=so_far, delta=word)


class ScoredLLM(ExtractiveLLM):
    """An `ExtractiveLLM` that also gives its token scores, as `qa.llm.scores` reads them from llama.cpp:
    `refusal_first` is the log-probability it gave the refusal at the first token (near 0: it nearly
    said it does not know). Each call is kept in `scored` as (question line of the prompt, answer)."""

    refusal_first: float = -9.0
    scored: list[tuple[str, str]] = []

    def token_scores(self, messages, answer: str) -> dict:
        self.scored.append((messages[-1].content.rsplit("Question: ", 1)[-1], answer))
        return {"answer_mean_logprob": -0.2, "refusal_first_logprob": self.refusal_first}
