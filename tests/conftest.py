import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
# Tests that use one of these start a real server or load torch: `make check` leaves them to `make test`.
SLOW_FIXTURES = {"chroma_url", "embed_url", "torch_model"}


def pytest_collection_modifyitems(items) -> None:
    """`slow`: the language model, a real server, a browser, or seconds of work; `make check` runs the rest."""
    for item in items:
        if "llm" in item.keywords or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
SEEDS = ROOT / "seeds"
SEED_FILE = next(SEEDS.glob("*.txt"))


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED_FILE.read_text(encoding="utf-8")


@pytest.fixture
def settings(tmp_path):
    from qa.settings import Settings

    return Settings(store={"dir": tmp_path / "store", "collection": "test"})


@pytest.fixture
def docs(tmp_path) -> Path:
    """A private copy of the seed folder, free to change."""
    folder = tmp_path / "docs"
    shutil.copytree(SEEDS, folder)
    return folder


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory):
    """Settings of a store holding the indexed seed, built once for the session."""
    import qa
    from qa.settings import Settings

    settings = Settings(store={"dir": tmp_path_factory.mktemp("seed") / "store", "collection": "seed"})
    qa.index(SEEDS, settings=settings, progress=False)
    return settings


@pytest.fixture
def fake_llm():
    from tests.fakes import ExtractiveLLM

    return ExtractiveLLM(history=[])


@pytest.fixture(scope="session")
def embed_url():
    """A real OpenAI-compatible embeddings server on loopback: infinity serving the bundled MiniLM (scripts/embed-server.sh)."""
    from bench.servers import embed_server

    with embed_server() as url:
        yield url


@pytest.fixture(scope="session")
def chroma_url(tmp_path_factory):
    """One `chroma run` server for the session; each test uses its own collection."""
    from bench.servers import chroma_server

    with chroma_server(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url
