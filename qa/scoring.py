"""The language model as a scorer, not a writer: log-probabilities read from forward passes, nothing sampled.

After an answer is written (`judge_llama`):

1. How sure the model was of each answer token, and how likely the refusal was at the first one:
   kept while it wrote (`Written`, a logits processor), so nothing is read again. Only when what it
   wrote is not the answer given is the answer read again after its prompt, logits kept.
2. The judgement: the answering prompt word for word up to its question (so still cached), then
   "Proposed answer: ..." and whether the passage states this answer to this question; the score is
   log P(yes) - log P(no) at the next token. Only the few dozen tokens after the question are read.
   Asked instead as a turn after the model's own answer ("is your answer correct?"), the model
   agreed with itself: on SQuAD 2.0 that separated answerable from unanswerable questions at an AUC
   of 0.60-0.65, against 0.67-0.77 for the answer shown as a proposal (docs/answerhood.md).

`judge_openai` asks an OpenAI-compatible server the same judgement; it reads `logprobs` when the
server returns them and falls back to the generated word when not, saying which in `method`.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from llama_index.core.llms import ChatMessage

_YES, _NO = ("yes", "Yes", "YES", " yes", " Yes"), ("no", "No", "NO", " no", " No")


def _log_softmax(rows: np.ndarray) -> np.ndarray:
    top = rows.max(axis=-1, keepdims=True)
    return rows - top - np.log(np.exp(rows - top).sum(axis=-1, keepdims=True))


def _ids(model, words: Sequence[str]) -> list[int]:
    """Token ids of the words that are one token each."""
    ids = [model.tokenize(w.encode(), add_bos=False, special=False) for w in words]
    return sorted({t[0] for t in ids if len(t) == 1})


def _logsumexp(values: np.ndarray) -> float:
    top = float(values.max())
    return top + float(np.log(np.exp(values - top).sum()))


def _held(model, tokens: list[int], limit: int) -> int:
    """How many of `tokens` (at most `limit`) the context already holds."""
    same, limit = 0, min(model.n_tokens, limit)
    while same < limit and model.input_ids[same] == tokens[same]:
        same += 1
    return same


class Written:
    """A llama-cpp-python logits processor that keeps, as the model writes, the log-probability of each
    token it chose, and the first position's distribution (for the refusal's first token).

    It changes no logit. llama.cpp hands the processor every token's logit in token-id order, and the
    tokens written so far; the chosen token is known at the next call.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.prompt_tokens = -1
        self.tokens: list[int] = []
        self.logprobs: list[float] = []
        self.first: np.ndarray | None = None
        self._row: np.ndarray | None = None
        self._norm = 0.0

    def __call__(self, input_ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        n = len(input_ids)
        if self._row is None or n != self.prompt_tokens + len(self.tokens) + 1:
            self.reset()
            self.prompt_tokens, self.first = n, np.array(logits, dtype=np.float32)
        else:
            token = int(input_ids[-1])
            self.tokens.append(token)
            self.logprobs.append(float(self._row[token]) - self._norm)
        self._row = np.array(logits, dtype=np.float32)
        self._norm = _logsumexp(self._row)
        return logits

    def scores(self, model, prompt_ids: list[int], answer: str, refusal_id: int | None) -> tuple[np.ndarray, float] | None:
        """The answer tokens' log-probabilities and the refusal's at the first position, when what was
        written after `prompt_ids` is `answer`; None otherwise."""
        if self.first is None or self.prompt_tokens != len(prompt_ids) or not self.tokens:
            return None
        text = [model.detokenize([t]).decode("utf-8", errors="replace") for t in self.tokens]
        if "".join(text).strip() != answer.strip():
            return None
        keep = [i for i, piece in enumerate(text) if piece.strip()]  # as the answer's own tokens: no blank ends
        kept = self.logprobs[keep[0] : keep[-1] + 1] if keep else self.logprobs
        first = float(self.first[refusal_id] - _logsumexp(self.first)) if refusal_id is not None else 0.0
        return np.array(kept), first


def judge_llama(
    model, prompt: str, answer: str, refusal: str, judgement: str, written: Written | None = None
) -> dict[str, float]:
    """Scores of `answer` to the chat `prompt` (ending where the assistant speaks) by the llama.cpp `model`;
    `judgement` is the judging chat prompt (`qa.prompt.judge_messages`, as ChatML); `written`, what was
    kept while the answer was written."""
    prompt_ids = model.tokenize(prompt.encode(), add_bos=False, special=True)
    refusal_ids = model.tokenize(refusal.encode(), add_bos=False, special=False)[:1]
    kept = written.scores(model, prompt_ids, answer, refusal_ids[0] if refusal_ids else None) if written else None
    token_lp, refusal_lp = kept if kept else _read_again(model, prompt_ids, answer, refusal_ids)

    judge_ids = model.tokenize(judgement.encode(), add_bos=False, special=True)
    last = _log_softmax(_decode(model, judge_ids, _held(model, judge_ids, len(judge_ids) - 1), last_only=True))[-1]
    yes, no = _logsumexp(last[_ids(model, _YES)]), _logsumexp(last[_ids(model, _NO)])
    return {
        "judge": yes - no,
        "answer_mean_logprob": float(token_lp.mean()),
        "refusal_first_logprob": refusal_lp,
    }


def _read_again(model, prompt_ids: list[int], answer: str, refusal_ids: list[int]) -> tuple[np.ndarray, float]:
    """The answer read again after its prompt (cached), logits of every position kept."""
    answer_ids = model.tokenize(answer.strip().encode(), add_bos=False, special=False) or prompt_ids[-1:]
    tokens = prompt_ids + answer_ids
    start = _held(model, tokens, len(prompt_ids) - 1)
    rows = _decode(model, tokens, start)  # rows[i] predicts tokens[start + i + 1]
    first = len(prompt_ids) - 1 - start
    answer_rows = _log_softmax(rows[first : first + len(answer_ids)])
    refusal_lp = float(answer_rows[0, refusal_ids[0]]) if refusal_ids else 0.0
    return answer_rows[np.arange(len(answer_ids)), answer_ids], refusal_lp


def _decode(model, tokens: list[int], start: int, last_only: bool = False) -> np.ndarray:
    """Decode `tokens[start:]` after the first `start` held ones, keeping the logits of every position
    (or, `last_only`, of the last). The context then holds `tokens`, as llama-cpp-python expects."""
    model._ctx.kv_cache_seq_rm(-1, start, -1)
    n_vocab = model.n_vocab()
    out = []
    at = start
    while at < len(tokens):
        batch = tokens[at : at + model.n_batch]
        model._batch.set_batch(batch=batch, n_past=at, logits_all=not last_only)
        model._ctx.decode(model._batch)
        rows = 1 if last_only else len(batch)
        logits = np.ctypeslib.as_array(model._ctx.get_logits(), shape=(rows * n_vocab,))
        out.append(logits.reshape(rows, n_vocab).copy())
        model.input_ids[at : at + len(batch)] = batch
        at += len(batch)
        model.n_tokens = at
    return out[-1] if last_only else np.concatenate(out)


def judge_openai(client, model: str, judgement: "Sequence[ChatMessage]") -> dict[str, float | str]:
    """The judgement from an OpenAI-compatible server: `logprobs` when it gives them, else its word.

    A server that refuses the `logprobs` request (llama.cpp's Python server without logits_all does)
    is asked again without it.
    """
    chat = [{"role": m.role.value, "content": m.content} for m in judgement]
    try:
        reply = client.chat.completions.create(
            model=model, messages=chat, max_tokens=1, temperature=0.0, logprobs=True, top_logprobs=10
        )
    except Exception:  # the client's error types differ by server; the retry below reports a real outage
        reply = client.chat.completions.create(model=model, messages=chat, max_tokens=2, temperature=0.0)
    choice = reply.choices[0]
    content = getattr(choice.logprobs, "content", None) if choice.logprobs else None
    if content and content[0].top_logprobs:
        top = {t.token: t.logprob for t in content[0].top_logprobs}
        yes = [v for k, v in top.items() if k.strip() in _YES]
        no = [v for k, v in top.items() if k.strip() in _NO]
        floor = min(top.values()) - 1.0  # a word outside the top list is less likely than the least in it
        y = _logsumexp(np.array(yes)) if yes else floor
        n = _logsumexp(np.array(no)) if no else floor
        return {"judge": y - n, "method": "logprobs"}
    said = (choice.message.content or "").strip().lower()
    return {"judge": 4.0 if said.startswith("yes") else -4.0, "method": "generated"}
