"""A running `qa ui` / `qa serve` announces itself, so that `qa ask` can ask it instead of loading the models again.

At start the server writes `<cache>/servers/<pid>.json`: its API's address, its process id, and the
settings an answer depends on (the store, the collection, the answer and language model settings).
`find` gives the address of a live server whose settings are the asker's; `ask` streams its answer
through the OpenAI-compatible API (docs/api.md) and rebuilds the `Answer` the command prints.
"""

import atexit
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from qa import Answer, Check, Sentence, Settings, Source
from qa.settings import cache_home


def folder() -> Path:
    return cache_home() / "servers"


def _key(settings: Settings) -> dict:
    """What must be equal for the server's answer to be the one `qa ask` would give."""
    store = settings.store
    return {
        "store_dir": None if store.chroma_url else str(Path(store.dir).resolve()),
        "chroma_url": store.chroma_url,
        "collection": store.collection,
        "answer": settings.answer.model_dump(mode="json"),
        "llm": settings.llm.model_dump(mode="json", exclude={"api_key", "timeout", "cache_dir", "threads"}),
    }


def register(settings: Settings, port: int | None = None) -> Path | None:
    """Announce this process's API; the file is removed at exit (None: nothing announced)."""
    web = settings.web
    host = "127.0.0.1" if web.host in ("0.0.0.0", "::", "localhost") else web.host
    port = port or web.port
    if not port:  # an ephemeral port is not known here
        return None
    path = folder() / f"{os.getpid()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"pid": os.getpid(), "url": f"http://{host}:{port}/v1", **_key(settings)}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(entry), encoding="utf-8")
    os.replace(tmp, path)
    atexit.register(lambda: path.unlink(missing_ok=True))
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find(settings: Settings, timeout: float = 1.0) -> str | None:
    """The /v1 address of a live server answering as `settings` would, or None. Stale files are removed."""
    want, candidates = _key(settings), []
    for path in sorted(folder().glob("*.json")) if folder().is_dir() else []:
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("pid"), int):
            continue
        if not _alive(entry["pid"]):
            path.unlink(missing_ok=True)
        elif {k: entry.get(k) for k in want} == want:
            candidates.append(entry["url"])
    for url in candidates:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=timeout) as r:
                if r.status == 200:
                    return url
        except (OSError, urllib.error.URLError):
            continue
    return None


def ask(url: str, question: str, settings: Settings, timeout: float = 600) -> Iterator[str | Answer]:
    """The server's answer to `question`: the model's draft as it is written (strings), then the `Answer`."""
    body = json.dumps({"messages": [{"role": "user", "content": question}], "stream": True}).encode()
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if settings.web.api_key is not None:
        headers["Authorization"] = f"Bearer {settings.web.api_key.get_secret_value()}"
    request = urllib.request.Request(f"{url}/chat/completions", data=body, headers=headers, method="POST")
    text = ""
    with urllib.request.urlopen(request, timeout=timeout) as response:
        for raw in response:
            line = raw.decode("utf-8").strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[len("data: ") :])
            if "error" in chunk:
                yield Answer(question=question, text=chunk["error"]["message"], refused=False, sources=[], passages=[],
                             error=chunk["error"]["message"])  # fmt: skip
                return
            delta = (chunk.get("choices") or [{}])[0].get("delta") or {}
            if delta.get("reasoning_content"):
                yield delta["reasoning_content"]
            if delta.get("content"):
                text += delta["content"]
            if "search_results" in chunk:
                yield _answer(question, text, chunk)
                return


def _answer(question: str, text: str, extras: dict) -> Answer:
    passages = [
        Source(id=r["citation"], document=r["document"], text=r["text"], start=r["start"], end=r["end"],
               score=r["score"], page=r.get("page"), n=r.get("n"), highlights=[tuple(h) for h in r.get("highlights", [])])
        for r in extras["search_results"]
    ]  # fmt: skip
    return Answer(
        question=question, query=extras.get("query") or question, text=text, refused=extras["refused"],
        refusal=extras.get("refusal"), sources=[p for p, r in zip(passages, extras["search_results"]) if r["supported"]],
        passages=passages, sentences=[Sentence(**s) for s in extras.get("sentences", [])],
        timings=extras.get("timings", {}), check=Check.model_validate(extras["check"]) if extras.get("check") else None,
    )  # fmt: skip
