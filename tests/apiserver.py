"""The HTTP API served for real on a free loopback port: uvicorn in a thread, or the `qa serve` command."""

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from bench.servers import free_port, running, wait_until_up

ROOT = Path(__file__).resolve().parents[1]


def wait_healthy(url: str, thread: threading.Thread, seconds: float = 60) -> None:
    """Until `url` answers (the server's health route), or fail if its thread died or time ran out."""
    wait_until_up(url, lambda: None if thread.is_alive() else "the server thread exited before answering", seconds)


@contextlib.contextmanager
def serving(app) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread; yields the /v1 base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        wait_healthy(f"http://127.0.0.1:{port}/v1/health", thread)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(30)


@contextlib.contextmanager
def qa_serve(store_dir: Path, collection: str, log: Path, *args: str, **env: str) -> Iterator[str]:
    """`python -m cli serve` in a subprocess, its output in `log`; yields the /v1 base URL on loopback."""
    port = free_port()
    full = {**os.environ, "QA_STORE_DIR": str(store_dir), "QA_STORE_COLLECTION": collection, **env}
    cmd = [sys.executable, "-m", "cli", "serve", "--port", str(port), *args]
    with running(cmd, f"http://127.0.0.1:{port}/v1/health", env=full, log=log, cwd=ROOT):
        yield f"http://127.0.0.1:{port}/v1"
