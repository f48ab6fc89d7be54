"""The ONNX backend of the embedding model: the same vectors as torch, exported once, and a store built with it."""

import json
import subprocess
import sys

import numpy as np
import pytest

from index import onnx_embedding
from index.client import connect
from index.embedding import load_embedder, token_counter
from index.minilm import model_folder
from index.store import Store
from tests.conftest import SEED_FILE, SEEDS
from tests.int8 import saturated_products
from tests.stores import ROOT


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One export for the module, in a private cache."""
    return tmp_path_factory.mktemp("embed-cache")


@pytest.fixture(scope="module")
def onnx(cache):
    return load_embedder(2, backend="onnx", cache_dir=cache, progress=False)


@pytest.fixture(scope="module")
def int8(cache, onnx):
    return load_embedder(2, backend="onnx-int8", cache_dir=cache, progress=False)


@pytest.fixture(scope="module")
def torch_model():
    return load_embedder(2, backend="torch")


def _texts() -> list[str]:
    text = SEED_FILE.read_text(encoding="utf-8")
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    return [*paragraphs, "Kursk", "word " * 400, " ".join(paragraphs)]  # a word, and texts the model truncates


def _cosines(a, b) -> np.ndarray:
    a, b = np.asarray(a), np.asarray(b)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_onnx_vectors_agree_with_torch(onnx, int8, torch_model):
    texts = _texts()
    reference = torch_model.get_text_embedding_batch(texts)
    assert _cosines(onnx.get_text_embedding_batch(texts), reference).min() >= 0.999
    queries = ["What guarantees does Russia demand?", "Kursk"]
    got = [onnx.get_query_embedding(q) for q in queries]
    assert _cosines(got, [torch_model.get_query_embedding(q) for q in queries]).min() >= 0.999
    close = _cosines(int8.get_text_embedding_batch(texts), reference)
    assert close.mean() >= 0.99 and close.min() >= 0.97, close
    # order and batching do not change a text's vector (float32 sorts by length and pads per batch;
    # int8 embeds one text per run, its activation scale is the text's own)
    for model in (onnx, int8):
        n = len(texts)
        together = np.asarray(model.get_text_embedding_batch(texts))
        alone = np.asarray([model.get_text_embedding(t) for t in texts])
        others = np.asarray(model.get_text_embedding_batch(texts[::-1] + ["Ferries run in winter."] * 9))[:n][::-1]
        assert np.abs(alone - together).max() < 1e-5 and np.abs(others - together).max() < 1e-5


def test_int8_vectors_are_the_same_on_every_cpu(cache, int8):
    """A CPU without VNNI sums int8 products in pairs into a saturating int16: with 8-bit weights 0.6% of a
    paragraph's products overflowed there, so retrieval could differ by machine (16 of the seed's 66 questions)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_folder() / "tokenizer.json"))
    tok.no_padding()
    e = tok.encode(_texts()[0])
    feed = {"input_ids": e.ids, "attention_mask": e.attention_mask, "token_type_ids": e.type_ids}
    wrong, total = saturated_products(onnx_embedding.ensure_exported(cache, int8=True, progress=False), feed)
    assert total > 100_000 and wrong == 0


def test_onnx_counts_word_pieces_as_torch_does(onnx, torch_model):
    ours, theirs = token_counter(onnx), token_counter(torch_model)
    for text in _texts():
        assert ours(text) == theirs(text)
    assert len(ours("word " * 400)) == 402  # never truncated: the chunker needs the true length


def test_export_is_made_once_and_reused(cache, onnx, monkeypatch, capsys):
    folder = model_folder()
    made = onnx_embedding.export_dir(cache, folder)
    files = {name: (made / name).stat().st_mtime_ns for name in onnx_embedding.FILES.values()}

    def no_export(*args):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_embedding, "export", no_export)
    again = load_embedder(1, backend="onnx", cache_dir=cache)
    assert again.get_query_embedding("x") and "exporting" not in capsys.readouterr().err
    assert {name: (made / name).stat().st_mtime_ns for name in files} == files
    assert sorted(p.name for p in made.iterdir()) == sorted(files)  # no temporary file left behind


def test_a_changed_model_is_exported_again(tmp_path, cache):
    folder = tmp_path / "model"
    folder.mkdir()
    source = model_folder()
    for f in source.iterdir():
        if f.is_file():
            (folder / f.name).symlink_to(f)
    before = onnx_embedding.export_dir(cache, folder)
    (folder / "config.json").unlink()
    (folder / "config.json").write_text((source / "config.json").read_text().replace("}", ', "note": 1}', 1))
    assert onnx_embedding.export_dir(cache, folder) != before


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_store_indexes_and_retrieves_with_onnx(tmp_path, backend, onnx, int8):
    model = onnx if backend == "onnx" else int8
    store = Store(connect(tmp_path / "store", create=True), "onnx", lambda: model, create=True, keyword_dir=tmp_path / "bm25")
    report = store.sync(SEEDS, progress=False)
    assert report.embedded == report.chunks > 0
    found = store.retrieve("What guarantees does Russia demand?", 4)
    assert any("Grushko" in s.text for s in found)
    assert found[0].score > 0.4


def test_a_torch_store_answers_onnx_queries_alike(tmp_path, onnx, int8, torch_model):
    """Vectors stored by torch (a store built before the ONNX backends), questions embedded by ONNX: the same passages."""
    client = connect(tmp_path / "store", create=True)
    built = Store(client, "mixed", lambda: torch_model, create=True, hybrid=False)
    built.sync(SEEDS, progress=False)
    for model in (onnx, int8):
        queried = Store(client, "mixed", lambda: model, hybrid=False)
        for q in ["What guarantees does Russia demand?", "How many people did Russian strikes kill earlier this month?"]:
            theirs, ours = built.retrieve(q, 4), queried.retrieve(q, 4)
            assert ours[0].id == theirs[0].id and len({s.id for s in ours} & {s.id for s in theirs}) >= 3
            assert abs(ours[0].score - theirs[0].score) < 0.02


def _cli_in_a_fresh_process(args: list[str], env: dict) -> tuple[list[str], str]:
    """Run `qa ARGS` in a new interpreter; its output lines, then whether torch was imported."""
    import os

    code = "import sys; from cli import main; code = main(sys.argv[1:]); print('torch' in sys.modules); sys.exit(code)"
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, timeout=600,
                         env={**os.environ, **env})  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "exporting" not in out.stderr  # the export in the cache is reused
    return out.stdout.strip().splitlines(), out.stderr


@pytest.mark.slow
def test_qa_index_and_ask_run_without_torch(tmp_path, cache, int8):
    """`qa index` and `qa ask` in fresh processes on the default backend (onnx-int8) never import torch."""
    env = {"QA_EMBED_CACHE_DIR": str(cache), "QA_STORE_DIR": str(tmp_path / "store"), "QA_STORE_COLLECTION": "notorch"}
    lines, _ = _cli_in_a_fresh_process(["index", str(SEEDS), "--json"], env)
    assert json.loads(lines[-2])["embedded"] > 0 and lines[-1] == "False"
    # a question the documents do not answer is refused before any language model is loaded
    lines, _ = _cli_in_a_fresh_process(["ask", "Who won the 1998 football World Cup?", "--json"], env)
    answer = json.loads(lines[-2])
    assert answer["refused"] and answer["sources"] == [] and lines[-1] == "False"
