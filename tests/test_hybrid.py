"""Hybrid retrieval: BM25 and embeddings fused, BM25 kept in step with the collection."""

import pytest

import qa
from eval.bm25 import BM25
from index import Source
from index.keyword import KeywordIndex, tokenize


def write_corpus(folder):
    folder.mkdir()
    topics = [
        "The morning ferry to the island carries cars and bicycles.",
        "Ferry tickets are cheaper for residents of the island.",
        "In winter the ferry runs twice a day because of storms.",
        "The harbour café sells coffee to ferry passengers.",
        "A new ferry with an electric engine arrives next spring.",
        "Island children take the school ferry at seven.",
    ]
    for i, text in enumerate(topics):
        (folder / f"ferry{i}.txt").write_text(text)
    (folder / "invoice.txt").write_text("Payment reference QZX7781 was settled by the accounts office in March.")


def test_keyword_part_finds_what_embeddings_miss(settings, tmp_path, fake_llm):
    write_corpus(tmp_path / "docs")
    hybrid = settings.with_(answer={"top_k": 1})
    qa.index(tmp_path / "docs", settings=hybrid, progress=False)
    # by embedding the ferries are far ahead (cosine 0.49 to 0.30, torch or int8); only the code is a keyword of any
    question = "Which boat to the isle is QZX7781?"
    dense = qa.load(hybrid.with_(store={"hybrid": False}), fake_llm).retrieve(question)
    fused = qa.load(hybrid, fake_llm).retrieve(question)
    assert "invoice.txt" not in [p.document for p in dense]
    assert "invoice.txt" in [p.document for p in fused]
    # Its score is still the cosine similarity, comparable with the others.
    assert all(-1.0 <= p.score <= 1.0 for p in fused)


def test_keyword_index_follows_every_reindex(settings, tmp_path, fake_llm):
    folder = tmp_path / "docs"
    write_corpus(folder)
    qa.index(folder, settings=settings, progress=False)
    assert KeywordIndex.saved(settings.store.dir / "bm25" / settings.store.collection)["ids"]
    (folder / "invoice.txt").unlink()
    (folder / "receipt.txt").write_text("Receipt WVK5530 covers the harbour dues.")
    qa.index(folder, settings=settings, progress=False)
    store = qa.open_store(settings)
    found = [i for i, _ in store.keywords().search("QZX7781 WVK5530", 5)]
    documents = {c.id: c.document for c in store.chunks()}
    assert [documents[i] for i in found] == ["receipt.txt"]


def test_embedding_part_finds_a_paraphrase_bm25_cannot(settings, tmp_path, fake_llm):
    write_corpus(tmp_path / "docs")
    qa.index(tmp_path / "docs", settings=settings, progress=False)
    question = "When is the battery-powered boat due?"  # no word of "A new ferry with an electric engine ..."
    store = qa.open_store(settings)
    assert "ferry4.txt" not in [store_doc(store, i) for i, _ in store.keywords().search(question, 7)]
    fused = qa.load(settings.with_(answer={"top_k": 1}), fake_llm).retrieve(question)
    assert [p.document for p in fused] == ["ferry4.txt"]


def store_doc(store, chunk_id: str) -> str:
    return {c.id: c.document for c in store.chunks()}[chunk_id]


def test_keyword_part_knows_each_chunk_by_its_document_name(settings, tmp_path, fake_llm):
    # The passage never says "lighthouse": only its file name does (as a SQuAD paragraph has its article's title).
    folder = tmp_path / "docs"
    write_corpus(folder)
    (folder / "Skerry_lighthouse.txt").write_text("Its keepers left in 1998, when the lamp was automated.")
    qa.index(folder, settings=settings, progress=False)
    store = qa.open_store(settings)
    found = [store_doc(store, i) for i, _ in store.keywords().search("What happened at the Skerry lighthouse?", 3)]
    assert found and found[0] == "Skerry_lighthouse.txt"


def test_bm25_baseline_searches_like_the_keyword_index():
    texts = ["The ferries were running late.", "Payment reference QZX7781 was settled.", "The the the."]
    chunks = [Source(id=f"c{i}", document=f"d{i}.txt", text=t, start=0, end=len(t), score=0.0) for i, t in enumerate(texts)]
    index = KeywordIndex(None)
    index.ensure([c.id for c in chunks], lambda: [([c.id for c in chunks], texts)])
    baseline = BM25(chunks)
    for question in ("Which ferry ran late?", "qzx7781", "the", "nothing shared"):
        assert [(c.id, c.score) for c in baseline.retrieve(question, 3)] == index.search(question, 3), question
    assert [c.id for c in baseline.retrieve("Which ferry ran late?", 3)] == ["c0"]  # stemmed: ferries, ferry
    assert baseline.retrieve("the", 3) == [] and tokenize(["The ferries"], ids=False) == [["ferri"]]


def test_keyword_index_scores_as_bm25s_does_built_a_page_at_a_time():
    """The index is built page by page and searched over its own arrays: the scores and rankings are bm25s's,
    for a query with few postings (summed sparsely) and one with many (summed into every chunk's score)."""
    import bm25s
    import numpy as np

    from bench.corpus import xquad_paragraphs
    from index.bm25 import build

    sentences = xquad_paragraphs()[:300]  # XQuAD's first paragraphs
    ids = [f"s{i}" for i in range(len(sentences))]
    pages = ((ids[i : i + 37], sentences[i : i + 37]) for i in range(0, len(ids), 37))
    _, ours = build(pages, lambda texts: tokenize(texts, ids=False), len(ids))
    theirs = bm25s.BM25()
    theirs.index(tokenize(sentences), show_progress=False)
    assert ours.scores["num_docs"] == theirs.scores["num_docs"] == len(sentences) > 100
    index = KeywordIndex(None)
    index.ensure(ids, lambda: [(ids, sentences)])
    for question in ("Who won Super Bowl 50?", "the team played a game in the year", "Kublai typhoon", "nothing zzz"):
        words = [w for w in tokenize([question], ids=False)[0] if w in theirs.vocab_dict]
        expected = theirs.get_scores(words) if words else np.zeros(len(ids))
        got = dict(index.search(question, len(ids)))
        assert {i: pytest.approx(float(expected[n]), rel=1e-5) for n, i in enumerate(ids) if expected[n] > 0} == got
        top = [i for i, _ in index.search(question, 3)]
        assert top == [ids[n] for n in np.argsort(-expected, kind="stable")[: len(top)]], question


def test_one_keyword_index_per_machine_taken_up_without_a_rebuild(settings, tmp_path, monkeypatch):
    """Two processes' stores over one collection and one keyword folder: what the writer indexes, the reader takes
    up at its next query from the version the writer saved, memory-mapped: no id fetched, nothing rebuilt."""
    import numpy as np

    from index import Store
    from qa import components

    client, folder = components.client(settings.store, create=True), tmp_path / "bm25"
    embed = lambda: components.embedder(settings.embed)  # noqa: E731
    writer = Store(client, "shared", embed, create=True, keyword_dir=folder)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lighthouse.md").write_text("The Skerry lighthouse was designed by Thomas Brennan in 1881.")
    writer.sync(docs, progress=False)
    reader = Store(client, "shared", embed, keyword_dir=folder)
    fetched = []
    monkeypatch.setattr(reader, "_get_all", lambda include: fetched.append(include) or Store._get_all(reader, include))
    assert reader.retrieve("Who designed the Skerry lighthouse?", 2)[0].document == "lighthouse.md"
    assert isinstance(reader.keywords()._base.scores["data"], np.memmap)  # shared through the page cache
    (docs / "ferry.md").write_text("The Quillmarsh ferry leaves the harbour at seven every morning.")
    writer.sync(docs, progress=False)
    assert reader.retrieve("When does the Quillmarsh ferry leave?", 2)[0].document == "ferry.md"
    assert [i for i, _ in reader.keywords().search("Quillmarsh", 3)] and fetched == []


def test_a_large_index_missing_from_its_folder_is_rebuilt_saying_so(tmp_path, monkeypatch, capsys):
    """Another machine, or a shared volume not mounted: no saved version. The rebuild says why and shows progress."""
    import index.keyword

    monkeypatch.setattr(index.keyword, "LOUD", 3)
    ids, texts = ["a", "b", "c"], ["The ferry runs late.", "Payment reference QZX7781.", "Storms close the harbour."]
    index.keyword.KeywordIndex(tmp_path / "bm25").ensure(ids, lambda: [(ids, texts)])
    err = capsys.readouterr().err
    assert "no saved version for these 3 chunks" in err and "keyword index: 100%" in err
    reader = index.keyword.KeywordIndex(tmp_path / "bm25")
    reader.ensure(ids, lambda: pytest.fail("a saved version is loaded, not rebuilt"))
    assert capsys.readouterr().err == "" and [i for i, _ in reader.search("QZX7781", 2)] == ["b"]


def test_a_small_write_extends_the_saved_index_instead_of_building_it_whole(tmp_path):
    """A few chunks added and removed: the new version links the whole build's files (same inodes, nothing
    copied), adds a delta of the new chunks scored with the whole build's statistics, drops the removed rows;
    another process loads it and finds what a whole build finds. Past MAX_DELTA it is built whole again."""
    import index.keyword
    from bench.corpus import xquad_paragraphs

    texts = {f"p{i}": t for i, t in enumerate(xquad_paragraphs()[:200])}
    folder = tmp_path / "bm25"
    writer = KeywordIndex(folder)
    writer.ensure(list(texts), lambda: [(list(texts), list(texts.values()))])
    first = KeywordIndex.saved(folder)["digest"]
    texts["ferry"] = "The Quillmarsh ferry leaves the harbour at seven every morning."
    removed = texts.pop("p3")
    texts_of = lambda ids: [(ids, [texts[i] for i in ids])]  # noqa: E731
    writer.ensure(list(texts), lambda: pytest.fail("built whole for a small change"), texts_of)
    saved = KeywordIndex.saved(folder)
    assert sorted(saved["ids"]) == sorted(texts) and saved["digest"] != first
    old, new = folder / first[:24], folder / saved["digest"][:24]
    assert (old / "data.csc.index.npy").stat().st_ino == (new / "data.csc.index.npy").stat().st_ino

    reader, whole = KeywordIndex(folder), KeywordIndex(None)
    assert reader.follow() and reader.size == len(texts)
    whole.ensure(list(texts), lambda: [(list(texts), list(texts.values()))])
    assert [i for i, _ in reader.search("When does the Quillmarsh ferry leave?", 3)][0] == "ferry"
    gone = " ".join(removed.split()[:12])
    assert "p3" not in [i for i, _ in reader.search(gone, 10)]
    for question in ("When does the Quillmarsh ferry leave?", "Who won Super Bowl 50?", gone):
        got, expected = reader.search(question, 5), whole.search(question, 5)
        assert [i for i, _ in got][:3] == [i for i, _ in expected][:3], question
        # The whole build's idf is kept until the next whole build: one chunk in 200 moves it a few percent.
        assert [s for _, s in got] == pytest.approx([s for _, s in expected], rel=0.1), question

    many = {f"new{i}": t for i, t in enumerate(xquad_paragraphs()[200 : 200 + int(index.keyword.MAX_DELTA * 200) + 2])}
    texts.update(many)
    built = []
    writer.ensure(list(texts), lambda: built.append(1) or [(list(texts), list(texts.values()))], texts_of)
    assert built and not (folder / KeywordIndex.saved(folder)["digest"][:24] / "delta").exists()
