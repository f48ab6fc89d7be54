"""The model file is loaded only when it matches its sha256 pin."""

import os
import shutil

import pytest

from qa import model_file
from qa.model_file import FILENAME, ModelFileError, bundled_model, resolve_model
from qa.settings import Settings
from tests.stores import one_line_error, qa_main


@pytest.fixture(scope="module")
def verified_model() -> "os.PathLike":
    return bundled_model(Settings().llm.cache_dir, progress=False)


def test_bundled_model_is_assembled_and_verified(verified_model):
    assert verified_model.stat().st_size == model_file.SIZE
    assert (verified_model.parent / (FILENAME + ".verified")).exists()


def test_tampered_model_is_refused_even_after_it_was_verified(verified_model, tmp_path):
    cache = tmp_path / "models"
    cache.mkdir()
    copy = cache / FILENAME
    shutil.copyfile(verified_model, copy)
    assert bundled_model(cache, progress=False) == copy  # verified once, stamp written
    with copy.open("r+b") as f:  # flip one byte, same size
        f.seek(123_456_789)
        byte = f.read(1)
        f.seek(123_456_789)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelFileError, match="Refusing to load"):
        bundled_model(cache, progress=False)


def test_truncated_model_is_refused_by_the_cli(tmp_path, seed_settings):
    cache = tmp_path / "models"
    cache.mkdir()
    (cache / FILENAME).write_bytes(b"GGUF" + b"\0" * 1000)
    out = qa_main("ask", "What guarantees does Russia demand?", store_dir=seed_settings.store.dir,
                  collection=seed_settings.store.collection, QA_LLM_CACHE_DIR=str(cache))  # fmt: skip
    assert "Refusing to load" in one_line_error(out)


def test_own_model_file_must_be_gguf(tmp_path):
    not_gguf = tmp_path / "model.gguf"
    not_gguf.write_bytes(b"<html>not a model</html>")
    with pytest.raises(ModelFileError, match="not a GGUF"):
        resolve_model(not_gguf, tmp_path)
    with pytest.raises(ModelFileError, match="not a file"):
        resolve_model(tmp_path / "absent.gguf", tmp_path)


def test_own_model_file_is_used_with_a_warning(tmp_path, capsys):
    own = tmp_path / "mine.gguf"
    own.write_bytes(b"GGUF" + b"\0" * 16)
    assert resolve_model(own, tmp_path / "cache") == own
    assert "without a hash check" in capsys.readouterr().err
