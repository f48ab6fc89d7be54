"""The eval suite's metrics, reference loading, gate, comparison and report, on tiny inputs (no model)."""

import json
import shutil

import pytest

from eval import gate, metrics, provenance, references, report
from bench.stats import percentiles
from eval.compare import compare, format_text
from eval.corpus import write_documents
from eval.errors import EvalError
from eval.provenance import revision
from eval.references import Reference, Span
from index import Source
from qa import Answer, Sentence


def ref(**kw) -> Reference:
    base = dict(id="q1", question="Which region?", answers=("the Kursk region",), key="Kursk",
                support=(Span("doc.txt", 100, 140, "x" * 40),), kind="fact", answerable=True)  # fmt: skip
    return Reference(**{**base, **kw})


def src(start: int, end: int, text: str = "", document: str = "doc.txt", **kw) -> Source:
    text = text or "x" * (end - start)
    return Source(id=f"{document}:{start}", document=document, text=text, start=start, end=end, score=0.5, **kw)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The Kursk Region!", "kursk region"),
        ("an apple, a pear and the plum", "apple pear and plum"),
        ("“ironclad”  security—guarantees", "ironclad securityguarantees"),
        ("Theatre", "theatre"),
    ],
)
def test_normalize_follows_squad(text, expected):
    assert metrics.normalize(text) == expected


def test_exact_match_and_f1():
    assert metrics.exact_match("The Kursk region.", ["Kursk region"]) == 1.0
    assert metrics.exact_match("Kursk", ["Kursk region"]) == 0.0
    # precision 1/1, recall 1/2
    assert metrics.f1("Kursk", ["Kursk region"]) == pytest.approx(2 / 3)
    assert metrics.f1("Moscow", ["Kursk region"]) == 0.0
    assert metrics.f1("Kursk", ["Moscow", "Kursk"]) == 1.0  # best over the references
    assert metrics.f1("", ["Kursk"]) == 0.0


def test_key_phrase_matches_whole_words_only():
    assert metrics.key_present("Russian forces control the Kursk region [1].", "Kursk")
    assert metrics.key_present("at least 25 people", "25")
    assert not metrics.key_present("at least 250 people", "25")
    assert not metrics.key_present("anything", "")


def test_markers_are_stripped():
    assert metrics.strip_markers("Kursk [1][2]. And Moscow [3].") == "Kursk. And Moscow."


def test_gold_passage_needs_half_the_support_phrase():
    span = Span("doc.txt", 100, 140)
    assert metrics.covers(src(90, 130), span)  # 30 of 40 characters
    assert not metrics.covers(src(125, 200), span)  # 15 of 40
    assert not metrics.covers(src(100, 140, document="other.txt"), span)
    assert metrics.covers(src(0, 10, document="para.txt"), Span("para.txt"))  # a SQuAD paragraph: any chunk of it


def test_ranks_hits_and_reciprocal_rank():
    r = ref()
    ranked = [src(0, 50), src(300, 400), src(95, 150)]
    assert metrics.gold_rank(ranked, r) == 3
    assert metrics.retrieval_scores(3, k=4) == {"hit_at_1": 0.0, "hit_at_k": 1.0, "mrr": pytest.approx(1 / 3)}
    assert metrics.retrieval_scores(None, k=4) == {"hit_at_1": 0.0, "hit_at_k": 0.0, "mrr": 0.0}
    assert metrics.gold_rank([], r) is None


DOC = "Putin met Trump. Russian forces almost control the Kursk region. Prices rose by 12 percent in May."


def _answer(sentences: list[tuple[str, list[int]]], sources: list[Source], refused: bool = False) -> Answer:
    return Answer(
        question="q", text=" ".join(s for s, _ in sentences), refused=refused, sources=sources, passages=sources,
        sentences=[Sentence(text=s, citations=c, supported=bool(c)) for s, c in sentences],
    )  # fmt: skip


def test_citation_precision_is_graded_against_the_reference_not_by_word_overlap():
    kursk = DOC.index("Russian")
    gold = src(0, len(DOC), DOC, n=1, highlights=[(kursk, kursk + 48)])
    other = Source(id="o", document="other.txt", text=DOC, start=0, end=len(DOC), score=0.4, n=2, highlights=[(kursk, kursk + 48)])
    r = ref(support=(Span("doc.txt", kursk, kursk + 48),))
    answer = _answer(
        [
            ("Russian forces almost control the Kursk region.", [1]),  # the passage holding the reference: precise
            ("Russian forces almost control the Kursk region.", [2]),  # same words, a passage without the reference
            ("It is Kursk.", [1]),  # few shared words, but the gold passage: precise
        ],
        [gold, other],
    )
    pairs = metrics.citation_pairs(answer, r)
    assert [p["precise"] for p in pairs] == [True, False, True]
    assert [p["overlap"] for p in pairs] == [True, True, True]  # the old self-grading measure passes all three
    assert metrics.citation_recall(answer, r) == 1.0
    unanswerable = ref(support=(), answerable=False)
    assert [p["precise"] for p in metrics.citation_pairs(answer, unanswerable)] == [False, False, False]


def test_citation_recall_is_the_share_of_support_spans_cited():
    r = ref(support=(Span("doc.txt", 0, 40), Span("doc.txt", 500, 540)))
    answer = _answer([("Something.", [1])], [src(0, 100, n=1)])
    assert metrics.citation_recall(answer, r) == 0.5
    assert metrics.citation_recall(_answer([], [], refused=True), r) is None
    assert metrics.citation_recall(answer, ref(answerable=False, support=())) is None


def test_citation_metric_reads_the_highlighted_pieces_or_the_whole_passage():
    kursk, prices = DOC.index("Russian"), DOC.index("Prices")
    spans = [(prices, len(DOC)), (kursk, kursk + 30), (kursk + 20, prices - 1)]
    assert metrics._highlighted(src(0, len(DOC), DOC, highlights=spans)) == (
        "Russian forces almost control the Kursk region. Prices rose by 12 percent in May."
    )
    assert metrics._highlighted(src(0, len(DOC), DOC)) == DOC


def test_percentile_interpolates():
    assert metrics.percentile([1, 2, 3, 4, 5], 50) == 3
    assert metrics.percentile([1, 2, 3, 4, 5], 95) == pytest.approx(4.8)
    assert metrics.percentile([], 50) is None


def test_benchmark_percentiles_are_the_eval_percentile():
    figures = [5.0, 1.0, None, 3.0, 2.0, 4.0]
    assert percentiles(figures) == {"p50": 3.0, "p95": pytest.approx(4.8), "n": 5}
    assert percentiles([None]) == {"p50": None, "p95": None, "n": 0}


def test_written_corpus_keeps_unchanged_files_and_drops_stale_ones(tmp_path):
    folder = write_documents(tmp_path / "docs", {"a.txt": "one\r\n", "b.txt": "two"})
    (folder / "notes.md").write_text("kept")
    before = (folder / "a.txt").stat().st_mtime_ns
    write_documents(folder, {"a.txt": "one\r\n", "c.txt": "three"})
    assert sorted(p.name for p in folder.iterdir()) == ["a.txt", "c.txt", "notes.md"]
    assert (folder / "a.txt").stat().st_mtime_ns == before and (folder / "a.txt").read_bytes() == b"one\r\n"


def test_revision_names_this_checkout_and_nothing_elsewhere(tmp_path):
    assert revision(tmp_path) is None
    if shutil.which("git") and (provenance.ROOT / ".git").exists():
        assert revision()


def row(id_: str, answerable: bool = True, rank: int | None = 1, refused: bool = False, key: float = 1.0,
        bm25_rank: int | None = 1, total: float = 2.0, precision: float | None = 1.0) -> dict:  # fmt: skip
    r = {
        "id": id_, "question": f"question {id_}?", "kind": "fact" if answerable else "unanswerable",
        "answerable": answerable, "reference": {"answers": ["a"], "key": "a", "support": []},
        "retrieval": {"rank": rank, **metrics.retrieval_scores(rank, 4)} if answerable else None,
        "bm25": {"rank": bm25_rank, **metrics.retrieval_scores(bm25_rank, 4)} if answerable else None,
        "retrieved": [], "bm25_retrieved": [], "answer": "I could not find it." if refused else "a [1].",
        "refused": refused, "sources": [], "sentences": [],
        "scores": {"citation_precision": None if refused else precision, "citation_recall": None if refused or not answerable else 1.0},
        "timings": {"sources": 0.01, "total": total} if refused else {"sources": 0.01, "first_token": 1.0, "total": total},
    }  # fmt: skip
    if answerable:
        r["scores"].update(exact_match=0.0, f1=0.5 * key, key_present=0.0 if refused else key)
    from eval.runner import failures

    r["failures"] = failures(r)
    return r


def test_aggregate_separates_answerable_and_unanswerable():
    rows = [row("a", rank=1), row("b", rank=2, key=0.0), row("c", refused=True, rank=None, bm25_rank=None),
            row("u1", answerable=False, refused=True), row("u2", answerable=False, refused=False)]  # fmt: skip
    m = metrics.aggregate(rows)
    assert (m["questions"], m["answerable"], m["unanswerable"], m["answered"]) == (5, 3, 2, 3)
    assert m["hit_at_1"] == pytest.approx(1 / 3) and m["hit_at_k"] == pytest.approx(2 / 3)
    assert m["mrr"] == pytest.approx((1 + 0.5) / 3)
    assert m["key_present"] == pytest.approx(1 / 3)
    assert m["refusal_accuracy"] == 0.5 and m["false_refusal_rate"] == pytest.approx(1 / 3)
    assert m["baseline"]["hit_at_1"] == pytest.approx(2 / 3)
    assert m["total_p50"] == 2.0 and m["first_token_p50"] == 1.0
    assert [r["id"] for r in rows if r["failures"]] == ["b", "c", "u2"]


def test_seed_set_support_phrases_are_in_the_seed():
    s = references.load("seed")
    assert len(s.references) >= 40 and sum(not r.answerable for r in s.references) >= 8
    doc = next(iter(s.documents.values()))
    for r in s.references:
        assert r.answerable == bool(r.support)
        for span in r.support:
            assert doc[span.start : span.end] == span.text


def test_squad_file_becomes_one_document_a_paragraph(tmp_path):
    data = {"version": "1.1", "data": [{"title": "Kursk Oblast", "paragraphs": [
        {"context": "Kursk is a city.", "qas": [{"id": "x1", "question": "What is Kursk?", "answers": [{"text": "a city", "answer_start": 9}]}]},
        {"context": "Moscow is big.", "qas": [{"id": "x2", "question": "Is it big?", "answers": [], "is_impossible": True}]},
    ]}]}  # fmt: skip
    path = tmp_path / "tiny-squad.json"
    path.write_text(json.dumps(data))
    s = references.load(str(path))
    assert s.name == "tiny-squad"
    assert s.documents == {"000-000-kursk-oblast.txt": "Kursk is a city.", "000-001-kursk-oblast.txt": "Moscow is big."}
    x1, x2 = s.references
    assert x1.answers == ("a city",) and x1.support == (Span("000-000-kursk-oblast.txt"),) and x1.answerable
    assert not x2.answerable and x2.support == ()


@pytest.mark.parametrize("content", ["not json", '{"data": 3}', '{"data": [{"title": "t"}]}', "[1, 2]"])
def test_bad_squad_files_are_refused_in_one_line(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(EvalError, match="not a SQuAD-format JSON file"):
        references.load(str(path))


def test_missing_reference_set_is_a_clear_error(tmp_path):
    with pytest.raises(EvalError, match="No such reference set"):
        references.load(str(tmp_path / "nope.json"))


def test_sample_is_fixed_and_keeps_file_order():
    refs = references.load("seed").references
    a, b = references.sample(refs, 10, seed=0), references.sample(refs, 10, seed=0)
    assert a == b and len(a) == 10
    assert [refs.index(r) for r in a] == sorted(refs.index(r) for r in a)
    assert references.sample(refs, 10, seed=1) != a
    assert references.sample(refs, 1000) == refs


def test_gate_checks_floors_and_ceilings():
    t = {"at_least": {"hit_at_1": 0.8, "key_present": 0.5}, "at_most": {"false_refusal_rate": 0.1}}
    assert gate.check({"hit_at_1": 0.8, "key_present": 0.9, "false_refusal_rate": 0.1}, t) == []
    failed = gate.check({"hit_at_1": 0.79, "key_present": None, "false_refusal_rate": 0.2}, t)
    assert len(failed) == 3 and "below its threshold 0.8" in failed[0] and "above" in failed[2]


def test_checked_in_thresholds_name_known_metrics_and_seed_questions():
    t = gate.load()
    ids = {r.id for r in references.load("seed").references}
    assert set(t["questions"]) <= ids and 12 <= len(t["questions"]) <= 16
    assert t["at_least"] and all(0 <= v <= 1 for v in t["at_least"].values())


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_compare_reports_improvements_and_regressions_per_question(tmp_path):
    a = _write(tmp_path / "a.jsonl", [row("1", rank=3), row("2"), row("3", answerable=False, refused=False), row("4")])
    b = _write(tmp_path / "b.jsonl", [row("1", rank=1), row("2", refused=True, rank=1), row("3", answerable=False, refused=True), row("5")])
    result = compare(a, b)
    assert result["questions"] == 3 and result["only_in_a"] == ["4"] and result["only_in_b"] == ["5"]
    assert [q["id"] for q in result["improved"]] == ["1", "3"]
    assert [q["id"] for q in result["regressed"]] == ["2"]
    assert "gold rank 3 -> 1" in result["improved"][0]["changes"]
    text = format_text(result)
    assert "improved (2):" in text and "regressed (1):" in text


def test_compare_refuses_a_file_that_is_not_results(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"x": 1}\n')
    with pytest.raises(EvalError, match="not a results file"):
        compare(bad, bad)


def test_report_is_self_contained_and_lists_failures():
    rows = [row("a", key=0.0), row("b", refused=True, rank=2), row("u", answerable=False, refused=False)]
    rows[0]["sources"] = [{"n": 1, "document": "doc.txt", "text": "Kursk <b> region", "start": 10, "end": 26,
                           "score": 0.61, "highlights": [(10, 15)], "gold": True}]  # fmt: skip
    summary = {"set": "tiny", "started": "2025-01-01 00:00:00", "seconds": 12.0, "source": "tiny.jsonl",
               "settings": {"top_k": 4}, "metrics": metrics.aggregate(rows), "results": "r.jsonl"}  # fmt: skip
    previous = {**summary, "started": "2024-12-31 00:00:00", "metrics": {**summary["metrics"], "hit_at_1": 1.0}}
    html = report.render(summary, rows, previous)
    assert html.count("<svg") == 2 and "previous run" in html and "BM25 baseline" in html
    assert "Failed questions (3 of 3)" in html and "refused an answerable question" in html
    assert "answered an unanswerable question" in html
    assert "<mark>Kursk</mark> &lt;b&gt; region" in html  # highlights marked, text escaped
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html
    assert "<script" not in html
