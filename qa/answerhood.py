"""Does the answer answer the question? A calibrated decision over the verifier's score, after citations.

Citations say which passage holds each sentence; they cannot alone stop a neighbouring fact given
as the answer to a question the documents do not answer. The verifier (qa.verifier) is trained for
exactly that case (SQuAD 2.0's unanswerable questions, written around a decoy in the paragraph), and
citations already asked it about every sentence: `verifier` is the log-odds of the best-supported
sentence, read from the answer's sentences. Beside it, `refusal_first_logprob`: how likely the model
was to say "I don't know." at its first token, kept while it wrote (qa.llm.scores). The check itself
costs no model pass.

`WEIGHTS` and `BIAS` are a logistic regression fitted by `train/answerhood.py` on the validation
article's recorded runs, short and sentence style (never on the held-apart sets); `THRESHOLD` is the
operating point chosen there. Other scores were tried beside the verifier and kept only where they
added (docs/answerhood.md).
"""

import math
from collections.abc import Sequence

from qa.answer import Check, Sentence

FEATURES = ("verifier", "refusal_first_logprob")
WEIGHTS = {"verifier": 0.1801, "refusal_first_logprob": -0.3735}
BIAS = -2.2434
MEANS = {"verifier": -0.8095, "refusal_first_logprob": -6.4649}
THRESHOLD = 0.37


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def features(sentences: Sequence[Sentence], retrieval: float, model: dict | None = None) -> dict[str, float]:
    """The scores the decision reads (and shows): the verifier's best sentence, the model's token scores
    (qa.llm.scores; none from a server) and the best passage's retrieval score."""
    best = max((s.score for s in sentences if s.supported and s.score is not None), default=None)
    scores = {k: round(float(v), 4) for k, v in (model or {}).items() if isinstance(v, int | float)}
    scores["retrieval"] = round(float(retrieval), 4)
    if best is not None:
        scores["verifier"] = round(logit(best), 4)
    return scores


def probability(scores: dict[str, float]) -> float:
    z = BIAS + sum(w * scores.get(k, MEANS[k]) for k, w in WEIGHTS.items())
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))


def decide(scores: dict[str, float], threshold: float = THRESHOLD) -> Check:
    """The check of an answer from its scores; an answer no sentence of which was verified passes unchecked."""
    if "verifier" not in scores:
        return Check(passed=True, method="none", scores=scores, threshold=threshold)
    p = probability(scores)
    return Check(passed=p >= threshold, probability=round(p, 4), method="verifier", scores=scores, threshold=threshold)
