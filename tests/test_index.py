"""Indexing: chunks with exact offsets, incremental by content hash, checked in Chroma itself."""

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

import qa
from index import StoreError
from index.embedding import token_counter
from index.minilm import MAX_TOKENS
from qa.components import embedder


def collection_rows(settings) -> dict[str, dict]:
    client = chromadb.PersistentClient(str(settings.store.dir), settings=ChromaSettings(anonymized_telemetry=False))
    got = client.get_collection(settings.store.collection).get(include=["metadatas", "documents", "embeddings"])
    return {id_: {"meta": m, "text": t} for id_, m, t in zip(got["ids"], got["metadatas"], got["documents"])}


def test_chunks_fit_the_model_and_keep_exact_offsets(settings, docs, seed_text):
    report = qa.index(docs, settings=settings, progress=False)
    rows = collection_rows(settings)
    assert report.documents == 1 and report.added == 1 and report.chunks == len(rows) > 1
    count = token_counter(embedder(settings.embed))
    for row in rows.values():
        m = row["meta"]
        assert seed_text[m["start"] : m["end"]] == row["text"]
        assert len(count(row["text"])) <= MAX_TOKENS
    # Together the chunks cover every character of the article but the blanks between them.
    covered = set()
    for row in rows.values():
        covered.update(range(row["meta"]["start"], row["meta"]["end"]))
    assert all(i in covered for i, ch in enumerate(seed_text) if not ch.isspace())


def test_unchanged_folder_embeds_nothing(settings, docs):
    qa.index(docs, settings=settings, progress=False)
    before = collection_rows(settings)
    again = qa.index(docs, settings=settings, progress=False)
    assert (again.embedded, again.unchanged, again.added, again.updated) == (0, 1, 0, 0)
    assert collection_rows(settings).keys() == before.keys()


def test_changed_file_has_its_chunks_replaced(settings, docs, seed_text):
    qa.index(docs, settings=settings, progress=False)
    before = set(collection_rows(settings))
    (docs / "000_794d345c1f52b2db.txt").write_text(seed_text + "\nThe talks resume in Riyadh on Monday.\n")
    report = qa.index(docs, settings=settings, progress=False)
    rows = collection_rows(settings)
    assert report.updated == 1 and report.embedded >= 1
    assert any("Riyadh" in r["text"] for r in rows.values())
    # No chunk of the old version is left; no duplicate text.
    assert all(r["meta"]["doc_sha256"] == rows[next(iter(rows))]["meta"]["doc_sha256"] for r in rows.values())
    assert len({r["text"] for r in rows.values()}) == len(rows)
    assert before != set(rows)


def test_deleted_file_has_its_chunks_removed(settings, docs):
    (docs / "notes.md").write_text("# Notes\n\nThe observers would be unarmed.\n")
    first = qa.index(docs, settings=settings, progress=False)
    assert first.documents == 2
    (docs / "notes.md").unlink()
    report = qa.index(docs, settings=settings, progress=False)
    assert report.removed == 1 and report.unchanged == 1
    assert {r["meta"]["document"] for r in collection_rows(settings).values()} == {"000_794d345c1f52b2db.txt"}


def test_unreadable_files_are_skipped_by_name(settings, docs):
    (docs / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (docs / "blob.txt").write_bytes(b"\x00\x01\x02binary")
    (docs / "empty.md").write_text("   \n")
    (docs / "image.png").write_bytes(b"\x89PNG")
    report = qa.index(docs, settings=settings, progress=False)
    reasons = {s.name: s.reason for s in report.skipped}
    assert reasons.keys() == {"latin1.txt", "blob.txt", "empty.md", "image.png"}
    assert "UTF-8" in reasons["latin1.txt"] and report.documents == 1


def test_other_chunk_settings_are_refused_not_mixed(settings, docs):
    qa.index(docs, settings=settings, progress=False)
    count = len(collection_rows(settings))
    other = settings.with_(store={"chunk_size": 200})
    with pytest.raises(StoreError, match="--rebuild"):
        qa.index(docs, settings=other, progress=False)
    assert len(collection_rows(settings)) == count
    rebuilt = qa.index(docs, settings=other, rebuild=True, progress=False)
    assert rebuilt.added == 1 and len(collection_rows(other)) == rebuilt.chunks < count


def test_missing_store_says_how_to_build_it(settings):
    with pytest.raises(StoreError, match="qa index"):
        qa.ask("anything", settings=settings)
