"""Run reference questions through the pipeline and score each one; index a set's documents first."""

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from eval import metrics
from eval.corpus import write_documents
from eval.references import Reference, ReferenceSet

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

    from qa import Answer, Settings


def document_folder(refset: ReferenceSet, cache: Path) -> Path:
    """The folder to index: the set's own, or one file per document written under `cache` (kept in step)."""
    if refset.docs_dir is not None:
        return refset.docs_dir
    return write_documents(cache / refset.name, refset.documents)


def prepare(refset: ReferenceSet, settings: "Settings", cache: Path, rebuild: bool = False, progress: bool = True) -> dict:
    """Index the set's documents into `settings.collection` (incrementally); returns the index counts."""
    import qa

    folder = document_folder(refset, cache)
    report = qa.index(folder, settings=settings, rebuild=rebuild, progress=progress)
    return {"documents": report.documents, "chunks": report.chunks, "embedded": report.embedded,
            "seconds": round(report.seconds, 3)}  # fmt: skip


def _brief(chunks, ref: Reference) -> list[dict]:
    return [
        {"document": c.document, "start": c.start, "end": c.end, "score": round(c.score, 4), "gold": metrics.is_gold(c, ref)}
        for c in chunks
    ]


def _ranking(chunks, ref: Reference, k: int) -> dict | None:
    if not ref.answerable or not ref.support:
        return None
    rank = metrics.gold_rank(chunks, ref)
    return {"rank": rank, **metrics.retrieval_scores(rank, k)}


def failures(row: dict) -> list[str]:
    """Why a question counts as failed in the report (empty when it passed)."""
    why = []
    if not row["answerable"]:
        if row["refused"] is False:
            why.append("answered an unanswerable question")
        return why
    r = row["retrieval"]
    if r is not None and not r["hit_at_k"]:
        why.append("gold passage not retrieved in the top k")
    if row["refused"]:
        why.append("refused an answerable question")
    elif row["refused"] is False:
        s = row["scores"]
        if not s.get("key_present"):
            why.append("key phrase missing from the answer")
        if s.get("citation_recall") is not None and s["citation_recall"] < 1:
            why.append("gold passage not cited")
        if s.get("citation_precision") is not None and s["citation_precision"] < 1:
            why.append("a citation does not support its sentence")
    return why


def score(ref: Reference, retrieved: list, baseline: list, answer: "Answer | None", k: int) -> dict:
    """One result row: the reference, the response, its sources, every score and the timings."""
    row: dict = {
        "id": ref.id,
        "question": ref.question,
        "kind": ref.kind,
        "answerable": ref.answerable,
        "reference": {
            "answers": list(ref.answers),
            "key": ref.key,
            "support": [{"document": s.document, "start": s.start, "end": s.end, "text": s.text} for s in ref.support],
        },
        "retrieval": _ranking(retrieved, ref, k),
        "bm25": _ranking(baseline, ref, k),
        "retrieved": _brief(retrieved, ref),
        "bm25_retrieved": _brief(baseline, ref),
        "answer": None,
        "refused": None,
        "refusal": None,
        "draft": None,
        "check": None,
        "sources": [],
        "sentences": [],
        "scores": {},
        "timings": {},
    }
    if answer is not None:
        text = metrics.strip_markers(answer.text)
        pairs = metrics.citation_pairs(answer, ref)
        scores: dict = {"citations": pairs}
        if ref.answerable:
            answered = not answer.refused
            scores["exact_match"] = metrics.exact_match(text, ref.answers) if answered else 0.0
            scores["f1"] = metrics.f1(text, ref.answers) if answered else 0.0
            scores["key_present"] = float(answered and metrics.key_present(text, ref.key))
        scores["citation_precision"] = sum(p["precise"] for p in pairs) / len(pairs) if pairs else None
        scores["citation_precision_overlap"] = sum(p["overlap"] for p in pairs) / len(pairs) if pairs else None
        scores["citation_recall"] = metrics.citation_recall(answer, ref)
        data = answer.to_json()
        for src, source in zip(data["sources"], answer.sources):
            src["gold"] = metrics.is_gold(source, ref)
        row.update(
            answer=answer.text,
            refused=answer.refused,
            refusal=answer.refusal,
            draft=answer.draft,
            check=data["check"],
            sources=data["sources"],
            sentences=data["sentences"],
            scores=scores,
            timings={t: round(v, 4) for t, v in answer.timings.items()},
        )
    row["failures"] = failures(row)
    return row


def run(
    refs: list[Reference],
    settings: "Settings",
    llm: "LLM | None" = None,
    answers: bool = True,
    progress: bool = True,
    on_row: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Ask every question of the indexed collection; `answers=False` scores retrieval only (no model).

    Retrieval is scored on `Answer.passages`, the passages the model was given (after the injection
    guard), so each question is retrieved once and the score is of what the answer came from. Rank
    metrics are therefore at depth `top_k` (MRR@k), for the pipeline and the BM25 baseline alike.
    """
    from tqdm import tqdm

    import qa
    from eval.bm25 import BM25

    pipeline = qa.load(settings, llm=llm)
    baseline = BM25(qa.open_store(settings).chunks())
    k = settings.answer.top_k
    if answers and llm is None:
        pipeline.warm()  # the model is loaded before the clock starts
    rows = []
    bar = tqdm(refs, desc="questions", unit="q", file=sys.stderr, disable=not progress)
    for ref in bar:
        answer = pipeline.ask(ref.question) if answers else None
        retrieved = answer.passages if answer is not None else pipeline.retrieve(ref.question)
        row = score(ref, retrieved, baseline.retrieve(ref.question, k), answer, k)
        rows.append(row)
        if on_row:
            on_row(row)
        bar.set_postfix(failed=sum(bool(r["failures"]) for r in rows))
    bar.close()
    return rows
