"""The web chat in a real browser (Debian's headless Chromium driven by Playwright) and through gradio_client.

The app runs in this process on a free loopback port, over a store holding the seed, with the
real embedded model.
"""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import qa
from bench.servers import free_port
from qa.settings import Settings
from tests.conftest import SEEDS

pytestmark = pytest.mark.llm
CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[1] / "test-output" / "ui"


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    from ui.app import serve

    store = tmp_path_factory.mktemp("ui") / "store"
    settings = Settings(store={"dir": store, "collection": "seed"}, web={"port": free_port()})
    qa.index(SEEDS, settings=settings, progress=False)
    app = serve(settings, block=False)
    yield f"http://127.0.0.1:{settings.web.port}/"
    app.close()


@pytest.fixture(scope="module")
def page(app_url):
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: run `make browser` (Debian packages chromium, chromium-driver)")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(app_url)
        page.wait_for_selector("#question textarea")
        yield page
        page.screenshot(path=SHOTS / "last-state.png")
        browser.close()


def last_answer(page) -> str:
    return page.locator("#chat .message-row").last.inner_text()


def ask(page, question: str) -> None:
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")


def test_example_question_streams_an_answer_with_highlighted_sources(page):
    from playwright.sync_api import expect

    page.get_by_text("What guarantees does Russia demand?").first.click()
    box = page.locator("#question textarea")
    expect(box).to_have_value("What guarantees does Russia demand?")
    t0 = time.perf_counter()
    box.press("Enter")
    # Sources are on screen while the answer is still being written.
    page.wait_for_selector("#sources :text('writing the answer')", timeout=60_000)
    t_sources = time.perf_counter() - t0
    page.screenshot(path=SHOTS / "1-sources-before-answer.png")
    page.wait_for_function(
        "() => { const m = document.querySelectorAll('#chat .message-row'); return m.length >= 2 && m[m.length - 1].innerText.trim().length > 0 }",
        timeout=300_000,
    )
    t_first = time.perf_counter() - t0
    page.wait_for_selector("#sources mark", timeout=300_000)
    t_full = time.perf_counter() - t0
    page.screenshot(path=SHOTS / "2-answer-with-sources.png")
    timings = {"sources_on_screen_s": round(t_sources, 2), "first_token_s": round(t_first, 2), "full_answer_s": round(t_full, 2)}
    (SHOTS / "timings.json").write_text(json.dumps(timings))
    print("browser timings:", timings)
    assert "[1]" in last_answer(page)
    assert "neutral" in last_answer(page).lower()
    assert "being checked" not in last_answer(page)  # the draft's mark is gone: the checked answer replaced it
    sources = page.locator("#sources").inner_text()
    assert "Grushko" in sources
    assert "this answers the question" in sources and "verifier" not in sources  # the check's verdict, in words
    page.locator("#sources .qa-check summary").click()
    assert "verifier" in page.locator("#sources").inner_text()  # and its scores one click away
    assert any("neutral status" in m or "guarantees" in m for m in page.locator("#sources mark").all_inner_texts())


def test_follow_up_is_rewritten_with_the_conversation(page):
    ask(page, "And what did Britain offer?")
    # The note with the rewritten question arrives with the finished answer.
    page.wait_for_selector("#chat :text('Searched for')", timeout=300_000)
    page.screenshot(path=SHOTS / "3-follow-up.png")
    assert "peacekeeping" in page.locator("#chat").inner_text().lower()
    page.get_by_text("Searched for").click()
    page.screenshot(path=SHOTS / "3b-follow-up-rewritten-question.png")
    assert "Britain" in page.locator("#chat").inner_text()


def test_short_answers_box_gives_only_the_phrase_with_its_source(page):
    page.reload()  # a new conversation: no follow-up to rewrite
    page.wait_for_selector("#question textarea")
    short = page.locator("#short input[type=checkbox]")
    short.check()
    rows = page.locator("#chat .message-row").count()
    ask(page, "How many people were wounded in Ukraine's drone attack on Moscow?")
    page.wait_for_function(
        f"""() => {{ const m = document.querySelectorAll('#chat .message-row'), p = document.querySelector('#sources');
        return m.length >= {rows + 2} && m[m.length - 1].innerText.includes('[1]')
            && !p.innerText.includes('writing the answer') && p.querySelector('mark') !== null }}""",
        timeout=300_000,
    )
    page.screenshot(path=SHOTS / "3c-short-answer.png")
    answer = last_answer(page)
    short.uncheck()
    assert "17" in answer and "[1]" in answer
    assert len(answer.replace("[1]", "").split()) <= 4, answer
    assert any("17" in m for m in page.locator("#sources mark").all_inner_texts())


def test_uploaded_file_can_be_asked_about(page, tmp_path):
    doc = tmp_path / "lighthouse.md"
    doc.write_text("# The lighthouse\n\nThe Skerry lighthouse was built in 1874 by the engineer Ada Brennan.\n")
    page.locator("#add-documents").click()
    page.locator("#upload input[type=file]").set_input_files(str(doc))
    page.wait_for_selector("#upload-status :text('Added 1')", timeout=120_000)
    ask(page, "Who built the Skerry lighthouse?")
    page.wait_for_selector("#sources :text('lighthouse.md')", timeout=300_000)
    page.wait_for_selector("#sources :text('writing the answer')", state="detached", timeout=300_000)
    page.screenshot(path=SHOTS / "4-uploaded-file.png")
    assert "Brennan" in last_answer(page)


def test_unreadable_upload_is_named_with_the_reason(page, tmp_path):
    bad = tmp_path / "scan.txt"
    bad.write_bytes(b"\xff\xfe\x00\x00binary")
    page.locator("#upload input[type=file]").set_input_files(str(bad))
    page.wait_for_selector("#upload-status :text('Could not read')", timeout=120_000)
    assert "scan.txt" in page.locator("#upload-status").inner_text()


def test_concurrent_api_clients_each_get_their_own_answer(app_url):
    from gradio_client import Client

    questions = {
        "How many people did Russian strikes kill earlier this month?": "25",
        "Which outlet interviewed Grushko?": "izvestia",
        "Who won the 1998 football World Cup?": None,
    }

    def ask_one(question: str) -> dict:
        return Client(app_url, verbose=False).predict(question, api_name="/ask")

    with ThreadPoolExecutor(len(questions)) as pool:
        answers = dict(zip(questions, pool.map(ask_one, questions)))
    for question, key in questions.items():
        got = answers[question]
        assert got["question"] == question
        if key is None:
            assert got["refused"]
        else:
            assert not got["refused"] and key in got["answer"].lower(), got
            assert got["sources"] and all(s["n"] for s in got["sources"])


def test_refuses_to_bind_beyond_loopback_without_credentials(tmp_path):
    from qa import UserError
    from ui.app import serve

    with pytest.raises(UserError, match="credentials"):
        serve(Settings(store={"dir": tmp_path}, web={"host": "0.0.0.0"}), block=False)
