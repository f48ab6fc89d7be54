"""The llama.cpp model as a scorer of its own answer: log-probabilities read, nothing sampled.
Part of the llama.cpp backend (qa.llm.llamacpp): with it, the only code that reads llama.cpp's internals.

How sure the model was of each answer token, and how likely the refusal was at the first one,
feed the answerhood check beside the verifier (qa.answerhood): on the validation article the
refusal's first-token score raised the check's cross-validated AUC from 0.69 (verifier alone) to
0.81 (docs/answerhood.md).
They are kept while the model writes (`Written`, a logits processor), so nothing is read again;
only when what it wrote is not the answer given is the answer read again after its prompt.
An OpenAI-compatible server gives none: the check then reads the verifier alone.
"""

import numpy as np


def _log_softmax(rows: np.ndarray) -> np.ndarray:
    top = rows.max(axis=-1, keepdims=True)
    return rows - top - np.log(np.exp(rows - top).sum(axis=-1, keepdims=True))


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


def token_scores(model, prompt: str, answer: str, refusal: str, written: Written | None = None) -> dict[str, float]:
    """How sure the llama.cpp `model` was of `answer` to the chat `prompt` (ending where the assistant
    speaks): its tokens' mean log-probability, and the refusal's log-probability at the first token.
    `written`: what was kept while the answer was written; read again only when that is not this answer."""
    prompt_ids = model.tokenize(prompt.encode(), add_bos=False, special=True)
    refusal_ids = model.tokenize(refusal.encode(), add_bos=False, special=False)[:1]
    kept = written.scores(model, prompt_ids, answer, refusal_ids[0] if refusal_ids else None) if written else None
    token_lp, refusal_lp = kept if kept else _read_again(model, prompt_ids, answer, refusal_ids)
    scores = {"answer_mean_logprob": float(token_lp.mean())}
    # An answer that begins with the refusal's first token ("Izvestia" and "I don't know." both begin
    # with "I") makes that token's probability the answer's own: it says nothing of a refusal then.
    if model.tokenize(answer.strip().encode(), add_bos=False, special=False)[:1] != refusal_ids:
        scores["refusal_first_logprob"] = refusal_lp
    return scores


def _read_again(model, prompt_ids: list[int], answer: str, refusal_ids: list[int]) -> tuple[np.ndarray, float]:
    """The answer read again after its prompt (cached), logits of every position kept."""
    answer_ids = model.tokenize(answer.strip().encode(), add_bos=False, special=False) or prompt_ids[-1:]
    tokens = prompt_ids + answer_ids
    start = _held(model, tokens, len(prompt_ids) - 1)
    rows = _decode(model, tokens, start, len(prompt_ids) - 1)  # rows[i] predicts tokens[len(prompt_ids) + i]
    answer_rows = _log_softmax(rows[: len(answer_ids)])
    refusal_lp = float(answer_rows[0, refusal_ids[0]]) if refusal_ids else 0.0
    return answer_rows[np.arange(len(answer_ids)), answer_ids], refusal_lp


def _decode(model, tokens: list[int], start: int, keep: int) -> np.ndarray:
    """Decode `tokens[start:]` after the first `start` held ones; the logits of the positions from `keep`
    on are returned. The prompt before `keep` is decoded without them: a row is the whole vocabulary
    (151k), and computing it for every prompt token took most of the time. The context then holds
    `tokens`, as llama-cpp-python expects."""
    model._ctx.kv_cache_seq_rm(-1, start, -1)
    n_vocab = model.n_vocab()
    out = []
    at = start
    while at < len(tokens):
        end = min(at + model.n_batch, keep) if at < keep else at + model.n_batch
        batch = tokens[at:end]
        model._batch.set_batch(batch=batch, n_past=at, logits_all=at >= keep)
        model._ctx.decode(model._batch)
        if at >= keep:
            rows = len(batch)
            logits = np.ctypeslib.as_array(model._ctx.get_logits(), shape=(rows * n_vocab,))
            out.append(logits.reshape(rows, n_vocab).copy())
        model.input_ids[at : at + len(batch)] = batch
        at += len(batch)
        model.n_tokens = at
    return np.concatenate(out)
