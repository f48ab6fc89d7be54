"""The language model as a scorer, not a writer: log-probabilities read from forward passes.

After an answer is written, the context already holds the instructions, the passages, the question
and most of the answer. `judge_llama` re-reads only the answer and a short question to the model
("does the passage state this answer?"), with logits kept for every position, so one pass gives:
how sure the model was of each answer token, how likely a refusal was at the first token, and the
probability of "yes" against "no" for the judgement; a second short pass asks the doubting question
(`DOUBT`) after the same answer. Nothing is sampled. About 100-150 new tokens, 0.5-1 s here.

`judge_openai` asks an OpenAI-compatible server the same question as a continuation of the
conversation (servers cache the shared start); it reads `logprobs` when the server returns them
and falls back to the generated word when not, saying which in `method`.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from llama_index.core.llms import ChatMessage

# Two questions to the model, one framed so that "yes" backs the answer and one so that "yes" doubts it:
# a small model leans to "yes", and the two leanings partly cancel in the fitted decision.
JUDGE = "Is your answer correct according to the passages above? Reply yes or no."
DOUBT = (
    "Is your answer only a guess from a related fact, because the passages above do not state the answer "
    "to this exact question? Reply yes or no."
)
_TURN = "<|im_end|>\n<|im_start|>user\n{judge}<|im_end|>\n<|im_start|>assistant\n"
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


def judge_llama(model, prompt: str, answer: str, refusal: str) -> dict[str, float]:
    """Scores of `answer` to the chat `prompt` (ending where the assistant speaks) by the llama.cpp `model`.

    Leaves the model's context holding prompt + answer + judge question, so a later prompt that shares
    the start still reuses it.
    """
    prompt_ids = model.tokenize(prompt.encode(), add_bos=False, special=True)
    answer_ids = model.tokenize(answer.strip().encode(), add_bos=False, special=False) or prompt_ids[-1:]
    judge_ids = model.tokenize(_TURN.format(judge=JUDGE).encode(), add_bos=False, special=True)
    doubt_ids = model.tokenize(_TURN.format(judge=DOUBT).encode(), add_bos=False, special=True)
    tokens = prompt_ids + answer_ids + judge_ids
    held = model.n_tokens
    same = 0
    limit = min(held, len(prompt_ids) - 1)
    while same < limit and model.input_ids[same] == tokens[same]:
        same += 1
    rows = _decode_all(model, tokens, same)  # rows[i] predicts tokens[same + i + 1]
    first = len(prompt_ids) - 1 - same
    answer_rows = _log_softmax(rows[first : first + len(answer_ids)])
    token_lp = answer_rows[np.arange(len(answer_ids)), answer_ids]
    refusal_ids = model.tokenize(refusal.encode(), add_bos=False, special=False)[:1]
    last = _log_softmax(rows[-1:])[0]
    yes_ids, no_ids = _ids(model, _YES), _ids(model, _NO)
    yes, no = _logsumexp(last[yes_ids]), _logsumexp(last[no_ids])
    answered = len(prompt_ids) + len(answer_ids)
    doubt = _log_softmax(_decode_all(model, prompt_ids + answer_ids + doubt_ids, answered, last_only=True))[-1]
    return {
        "judge": yes - no,
        "doubt": _logsumexp(doubt[yes_ids]) - _logsumexp(doubt[no_ids]),
        "judge_mass": float(np.exp(np.logaddexp(yes, no))),
        "answer_mean_logprob": float(token_lp.mean()),
        "answer_min_logprob": float(token_lp.min()),
        "refusal_first_logprob": float(answer_rows[0, refusal_ids[0]]) if refusal_ids else 0.0,
    }


def _decode_all(model, tokens: list[int], start: int, last_only: bool = False) -> np.ndarray:
    """Decode `tokens[start:]` after the first `start` held ones, keeping the logits of every position
    (or, `last_only`, of the last)."""
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


def judge_openai(client, model: str, messages: "Sequence[ChatMessage]", answer: str) -> dict[str, float | str]:
    """The judgement from an OpenAI-compatible server: `logprobs` when it gives them, else its word."""
    chat = [{"role": m.role.value, "content": m.content} for m in messages]
    chat += [{"role": "assistant", "content": answer}, {"role": "user", "content": JUDGE}]
    reply = client.chat.completions.create(
        model=model, messages=chat, max_tokens=1, temperature=0.0, logprobs=True, top_logprobs=10
    )
    choice = reply.choices[0]
    content = getattr(choice.logprobs, "content", None) if choice.logprobs else None
    if content and content[0].top_logprobs:
        top = {t.token: t.logprob for t in content[0].top_logprobs}
        yes = [v for k, v in top.items() if k in _YES]
        no = [v for k, v in top.items() if k in _NO]
        floor = min(top.values()) - 1.0  # a word outside the top list is less likely than the least in it
        y = _logsumexp(np.array(yes)) if yes else floor
        n = _logsumexp(np.array(no)) if no else floor
        return {"judge": y - n, "method": "logprobs"}
    said = (choice.message.content or "").strip().lower()
    return {"judge": 4.0 if said.startswith("yes") else -4.0, "method": "generated"}
