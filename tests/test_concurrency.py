"""Indexing while answering, in one process: neither corrupts the other.

One thread keeps changing a folder (new, changed and deleted files) and re-indexing it; another
keeps asking seed questions of the same collection. The model is not under test (fake LLM); the
store, the embedder and the BM25 index are the real ones, shared by both threads.
"""

import os
import shutil
import subprocess
import threading
import time

import pytest

import qa
from bench.servers import BIN
from qa import components
from qa.settings import Settings
from tests.conftest import SEEDS

pytestmark = pytest.mark.timeout(900)
ROUNDS = 12
QUESTIONS = {
    "What guarantees does Russia demand?": "neutral status",
    "Which media outlet interviewed Alexander Grushko?": "Izvestia",
    "How much of its territory has Ukraine lost?": "one fifth",
}


def logbook(i: int, version: int) -> str:
    """A document of several chunks, about something the seed questions never touch."""
    lines = [f"# Lighthouse logbook {i}, edition {version}\n"]
    for day in range(1, 25):
        lines.append(
            f"Day {day}: the keeper of lighthouse {i} trimmed the lamp wick, polished the lens and logged "
            f"{(day * 7 + i + version) % 40} knots of wind from the {'north' if day % 2 else 'west'}; "
            f"the tender brought {day + i} barrels of oil and a crate of candles.\n"
        )
    return "".join(lines)


def change_folder(folder, r: int) -> None:
    (folder / f"log-{r}.md").write_text(logbook(r, 0))
    if r >= 1:
        (folder / f"log-{r - 1}.md").write_text(logbook(r - 1, 1))  # changed
    if r >= 3:
        (folder / f"log-{r - 3}.md").unlink()  # deleted


def chunk_rows(settings: Settings) -> list[tuple]:
    store = components.store(settings)
    return sorted((c.id, c.document, c.start, c.end, c.text) for c in store.chunks())


def run_concurrently(index_once, ask_once) -> tuple[list, list, int]:
    """Index in one thread while asking in another until indexing ends; returns (answers, errors, rounds)."""
    errors, answers = [], []
    done = threading.Event()

    def indexer():
        try:
            for r in range(ROUNDS):
                index_once(r)
        except Exception as e:
            errors.append(("index", repr(e)))
        finally:
            done.set()

    def asker():
        while not done.is_set():
            for question, key in QUESTIONS.items():
                try:
                    answers.append((question, key, ask_once(question)))
                except Exception as e:
                    errors.append(("ask", repr(e)))

    threads = [threading.Thread(target=indexer), threading.Thread(target=asker)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return answers, errors, ROUNDS


def check_answers(answers: list) -> None:
    assert len(answers) >= 2 * len(QUESTIONS), f"only {len(answers)} answers while indexing"
    for question, key, got in answers:
        assert not got["refused"] and key.lower() in got["answer"].lower(), (question, got["answer"])
        assert got["sources"] and all(s["document"] == "000_794d345c1f52b2db.txt" for s in got["sources"]), got


def check_matches_clean_index(settings: Settings, folder, tmp_path) -> None:
    clean = Settings(store={"dir": tmp_path / "clean", "collection": "clean"})
    qa.index(folder, settings=clean, progress=False)
    got, want = chunk_rows(settings), chunk_rows(clean)
    assert [r[0] for r in got] == [r[0] for r in want]  # same chunk ids
    assert got == want  # same documents, offsets and texts
    assert len({(r[1], r[2]) for r in got}) == len(got)  # no chunk twice
    store = components.store(settings)
    assert sorted(store.keywords().ids()) == [r[0] for r in got]  # BM25 covers exactly the collection


@pytest.mark.slow
def test_indexing_a_folder_while_answering(tmp_path, fake_llm):
    folder = tmp_path / "docs"
    shutil.copytree(SEEDS, folder)
    settings = Settings(store={"dir": tmp_path / "store", "collection": "live"})
    qa.index(folder, settings=settings, progress=False)
    reports = []

    def index_once(r: int) -> None:
        change_folder(folder, r)
        reports.append(qa.index(folder, settings=settings, progress=False))

    def ask_once(question: str) -> dict:
        return qa.ask(question, settings=settings, llm=fake_llm).to_json()

    t0 = time.perf_counter()
    answers, errors, _ = run_concurrently(index_once, ask_once)
    print(f"{len(answers)} answers during {len(reports)} index runs in {time.perf_counter() - t0:.1f} s")
    assert not errors, errors
    assert all(not r.skipped for r in reports) and sum(r.embedded for r in reports) > 0
    check_answers(answers)
    check_matches_clean_index(settings, folder, tmp_path)


@pytest.mark.slow
def test_uploading_through_the_web_app_while_answering(tmp_path, fake_llm):
    from ui.app import Chat

    folder = tmp_path / "uploads"
    folder.mkdir()
    settings = Settings(store={"dir": tmp_path / "store", "collection": "web"})
    qa.index(SEEDS, settings=settings, progress=False)
    chat = Chat(settings, fake_llm)
    statuses = []

    def index_once(r: int) -> None:
        change_folder(folder, r)
        statuses.append(chat.upload([str(p) for p in sorted(folder.iterdir())], "web")[0])

    answers, errors, _ = run_concurrently(index_once, lambda q: chat.ask(q, "web"))
    assert not errors, errors
    assert all(s.startswith("Added") and "Could not read" not in s for s in statuses), statuses
    check_answers(answers)
    # Uploads add and update but never delete: the collection holds the seed and every log ever uploaded.
    for r in range(ROUNDS):
        if not (folder / f"log-{r}.md").exists():
            (folder / f"log-{r}.md").write_text(logbook(r, 1 if r < ROUNDS - 1 else 0))
    shutil.copy(next(SEEDS.glob("*.txt")), folder)
    check_matches_clean_index(settings, folder, tmp_path)


@pytest.mark.slow
def test_reindex_by_another_process_is_reported_not_a_crash(tmp_path, fake_llm):
    """`qa ui` keeps running while `qa index` (another process) changes its embedded store under it.

    Chroma's embedded store keeps its vector index in the process that opened it, so the answering
    process cannot see the other's new chunks: it must say so and how to avoid it, not fail with
    a traceback or answer from deleted chunks.
    """
    folder = tmp_path / "docs"
    shutil.copytree(SEEDS, folder)
    settings = Settings(store={"dir": tmp_path / "store", "collection": "shared"})
    qa.index(folder, settings=settings, progress=False)
    pipeline = qa.load(settings, fake_llm)
    assert "neutral status" in pipeline.ask("What guarantees does Russia demand?").text

    seed = next(folder.glob("*.txt"))
    seed.write_text(seed.read_text().replace("neutral status", "non-aligned status"))
    env = {**os.environ, "QA_STORE_DIR": str(settings.store.dir), "QA_STORE_COLLECTION": "shared"}
    subprocess.run([str(BIN / "qa"), "index", str(folder), "--json"], env=env, check=True, capture_output=True)

    try:
        answer = pipeline.ask("What guarantees does Russia demand?")
    except qa.StoreError as e:
        assert "another process" in str(e) and "restart" in str(e)
    else:  # a Chroma that sees the other process's writes
        assert "non-aligned status" in answer.text
