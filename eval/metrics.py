"""Metrics computable offline, without a judge model: retrieval ranks, SQuAD answer scores, citation checks.

Definitions (also in docs/evaluation.md):

- A chunk is a *gold passage* of a support span when it holds at least half of the span's
  characters (seed set: the support phrase), or, for a span without offsets, when it belongs to
  the span's document (SQuAD: the question's paragraph).
- *Retrieval*: the rank of the first gold passage among the retrieved chunks; hit@1, hit@k
  (k = top_k, the passages the model sees) and reciprocal rank (MRR over the retrieval depth).
- *Answer*: exact match and token F1 after SQuAD normalisation (lower case, punctuation and the
  articles a/an/the removed, whitespace collapsed), on the answer text without its [n] markers,
  best over the reference answers; key-phrase-present is whether the normalised key phrase occurs
  in the normalised answer. A refused answerable question scores 0 on all three.
- *Citation precision*: over every (answer sentence, passage it cites) pair, the share where the
  passage supports the sentence: its highlighted text holds at least half of the sentence's content
  words and all of its numbers, or the sentence states the key phrase and the passage is gold.
- *Citation recall*: for an answered answerable question, the share of its support spans that a
  cited passage covers (1 or 0 for SQuAD).
"""

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

from eval.references import Reference, Span
from qa.answer import highlight_segments

GOLD_OVERLAP = 0.5
CITATION_WORDS = 0.5

_MARKER = re.compile(r"\s*\[\d+\]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def strip_markers(text: str) -> str:
    return _MARKER.sub("", text)


def _is_punct(ch: str) -> bool:
    return ch in string.punctuation or unicodedata.category(ch).startswith("P")


def normalize(text: str) -> str:
    """SQuAD's answer normalisation; Unicode punctuation (curly quotes, dashes) is dropped too."""
    text = "".join(ch for ch in text.lower() if not _is_punct(ch))
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, references: Iterable[str]) -> float:
    p = normalize(prediction)
    return float(any(p == normalize(r) for r in references))


def _f1(prediction: str, reference: str) -> float:
    pred, ref = normalize(prediction).split(), normalize(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def f1(prediction: str, references: Iterable[str]) -> float:
    return max((_f1(prediction, r) for r in references), default=0.0)


def key_present(text: str, key: str) -> bool:
    k = normalize(key)
    return bool(k) and f" {k} " in f" {normalize(text)} "


def covers(chunk, span: Span) -> bool:
    """Whether `chunk` (anything with document, start, end) is a gold passage of `span`."""
    if chunk.document != span.document:
        return False
    if span.start is None:
        return True
    overlap = min(chunk.end, span.end) - max(chunk.start, span.start)
    return overlap >= GOLD_OVERLAP * max(1, span.end - span.start)


def is_gold(chunk, ref: Reference) -> bool:
    return any(covers(chunk, s) for s in ref.support)


def gold_rank(ranked: Sequence, ref: Reference) -> int | None:
    """1-based rank of the first gold passage in `ranked`, None when none is there."""
    for i, chunk in enumerate(ranked, 1):
        if is_gold(chunk, ref):
            return i
    return None


def retrieval_scores(rank: int | None, k: int) -> dict[str, float]:
    return {
        "hit_at_1": float(rank == 1),
        "hit_at_k": float(rank is not None and rank <= k),
        "mrr": 1.0 / rank if rank else 0.0,
    }


def _highlighted(source) -> str:
    """What the reader is shown as the support: the highlighted pieces, or the whole passage without highlights."""
    marked = [t for t, on in highlight_segments(source.text, source.start, source.highlights) if on]
    return " ".join(marked) if marked else source.text


def citation_pairs(answer, ref: Reference) -> list[dict]:
    """Each (sentence, cited passage) pair of `answer`, graded against the reference, not by qa's own rules.

    `precise`: the cited passage holds a reference support span (on SQuAD-style sets, the span of a
    reference answer; on the seed set, the passage holding the reference phrase). A citation given
    to an answer of an unanswerable question is never precise. `overlap`: the earlier, self-grading
    measure, kept to compare (the sentence's words in the highlighted span, its numbers in the passage).
    """
    from qa.text import content_words, numbers

    by_n = {s.n: s for s in answer.sources}
    pairs = []
    for sentence in answer.sentences:
        words, nums = content_words(sentence.text), numbers(sentence.text)
        for n in sentence.citations:
            source = by_n.get(n)
            if source is None:
                pairs.append({"sentence": sentence.text, "n": n, "precise": False, "overlap": False})
                continue
            lexical = bool(words) and len(words & content_words(_highlighted(source))) / len(words) >= CITATION_WORDS
            lexical = lexical and nums <= numbers(source.text)
            gold = is_gold(source, ref)
            pairs.append({"sentence": sentence.text, "n": n, "precise": bool(ref.answerable and gold),
                          "overlap": bool(lexical or (gold and key_present(sentence.text, ref.key)))})  # fmt: skip
    return pairs


def citation_recall(answer, ref: Reference) -> float | None:
    if answer.refused or not ref.answerable or not ref.support:
        return None
    covered = sum(any(covers(s, span) for s in answer.sources) for span in ref.support)
    return covered / len(ref.support)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The `q`th percentile (q in 0..100) by linear interpolation between the closest ranks, as numpy's default.

    The project's one percentile: the eval report, its charts, the benchmark and the load test all use it,
    so a p95 means the same wherever it is printed. None for no values.
    """
    v = sorted(values)
    if not v:
        return None
    pos = (len(v) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def _mean(values: Iterable[float | None]) -> float | None:
    v = [x for x in values if x is not None]
    return sum(v) / len(v) if v else None


# name -> (label, True when higher is better); the order of the terminal table and the report.
METRICS: dict[str, tuple[str, bool]] = {
    "hit_at_1": ("retrieval hit@1", True),
    "hit_at_k": ("retrieval hit@k", True),
    "mrr": ("retrieval MRR", True),
    "exact_match": ("answer exact match", True),
    "f1": ("answer token F1", True),
    "key_present": ("key phrase present", True),
    "citation_precision": ("citation precision (reference)", True),
    "citation_precision_overlap": ("citation precision (word overlap)", True),
    "citation_recall": ("citation recall", True),
    "refusal_accuracy": ("refusal accuracy (unanswerable)", True),
    "false_refusal_rate": ("false refusals (answerable)", False),
    "sources_p50": ("time to sources p50 (s)", False),
    "sources_p95": ("time to sources p95 (s)", False),
    "first_token_p50": ("time to first token p50 (s)", False),
    "first_token_p95": ("time to first token p95 (s)", False),
    "check_p50": ("after the last token p50 (s): citations + check", False),
    "check_p95": ("after the last token p95 (s): citations + check", False),
    "total_p50": ("total time p50 (s)", False),
    "total_p95": ("total time p95 (s)", False),
}
BASELINE = ("hit_at_1", "hit_at_k", "mrr")


def aggregate(rows: list[dict]) -> dict:
    """Aggregated metrics of per-question result rows (see `eval.runner.score`); None when not applicable."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    with_gold = [r for r in answerable if r["retrieval"] is not None]
    out: dict = {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "answered": sum(not r["refused"] for r in rows if r["refused"] is not None),
    }
    for m in BASELINE:
        out[m] = _mean(r["retrieval"][m] for r in with_gold)
    for m in ("exact_match", "f1", "key_present"):
        out[m] = _mean(r["scores"].get(m) for r in answerable)
    out["citation_precision"] = _mean(r["scores"].get("citation_precision") for r in rows)
    out["citation_precision_overlap"] = _mean(r["scores"].get("citation_precision_overlap") for r in rows)
    out["citation_recall"] = _mean(r["scores"].get("citation_recall") for r in answerable)
    out["refusal_accuracy"] = _mean(float(r["refused"]) for r in unanswerable if r["refused"] is not None)
    out["false_refusal_rate"] = _mean(float(r["refused"]) for r in answerable if r["refused"] is not None)
    for t in ("sources", "first_token", "check", "total"):
        values = [r["timings"][t] for r in rows if t in (r.get("timings") or {})]
        out[f"{t}_p50"] = percentile(values, 50)
        out[f"{t}_p95"] = percentile(values, 95)
    out["baseline"] = {m: _mean(r["bm25"][m] for r in with_gold) for m in BASELINE}
    return out


def refusal_curve(rows: list[dict], step: float = 0.01) -> list[tuple[float, float, float]]:
    """(threshold, unanswerable refused, answerable refused) of a run as the answerhood threshold moves.

    An answer refused before the check (retrieval, the model, no support) stays refused at every
    threshold; a checked one is refused below it; one answered unchecked is never refused.
    """
    asked = [r for r in rows if r["refused"] is not None]

    def refused(r: dict, t: float) -> bool:
        check = r.get("check") or {}
        if check.get("probability") is not None:
            return check["probability"] < t
        return bool(r["refused"])

    points = []
    for i in range(int(round(1 / step)) + 1):
        t = round(i * step, 4)
        share = [_mean(float(refused(r, t)) for r in asked if r["answerable"] is a) for a in (False, True)]
        points.append((t, float("nan") if share[0] is None else share[0], float("nan") if share[1] is None else share[1]))
    return points


def check_threshold(rows: list[dict]) -> float | None:
    """The answerhood threshold a run used (None when nothing was checked)."""
    return next((r["check"]["threshold"] for r in rows if (r.get("check") or {}).get("probability") is not None), None)
