"""Real servers on loopback, for the scale-out benchmark and tests: `chroma run`, llama.cpp's OpenAI-compatible
server, and infinity's OpenAI-compatible embeddings server."""

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, log: Path, seconds: float) -> None:
    """Until the server process answers at `url`; fails with its log when it exits first."""

    def died() -> str | None:
        return None if proc.poll() is None else f"server exited with {proc.returncode}: {log.read_text()[-2000:]}"

    wait_until_up(url, died, seconds)


def wait_until_up(url: str, died: Callable[[], str | None], seconds: float) -> None:
    """Until `url` answers; `died()` says why the server is gone (None while it runs). Polls the URL itself."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (why := died()) is not None:
            raise RuntimeError(why)
        with contextlib.suppress(OSError):
            urllib.request.urlopen(url, timeout=2)
            return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {seconds} s")


@contextlib.contextmanager
def running(
    cmd: list[str], health_url: str, seconds: float = 120, env: dict[str, str] | None = None,
    log: Path | None = None, cwd: Path | None = None,
) -> Iterator[subprocess.Popen]:
    """Start a server, its output in a log file (a pipe nobody reads would fill up and stall it)."""
    if log is None:
        with tempfile.NamedTemporaryFile(prefix="server-", suffix=".log", delete=False) as f:
            log = Path(f.name)
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    try:
        wait_for(health_url, proc, log, seconds)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def chroma_server(path: Path) -> Iterator[str]:
    port = free_port()
    cmd = [str(BIN / "chroma"), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    with running(cmd, f"http://127.0.0.1:{port}/api/v2/heartbeat"):
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def llama_server(model: Path, threads: int = 2) -> Iterator[str]:
    port = free_port()
    cmd = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
        "--port", str(port), "--n_threads", str(threads), "--n_ctx", "2048", "--model_alias", "qwen",
    ]  # fmt: skip
    with running(cmd, f"http://127.0.0.1:{port}/v1/models", seconds=180):
        yield f"http://127.0.0.1:{port}/v1"


@contextlib.contextmanager
def embed_server(batch_size: int = 32) -> Iterator[str]:
    """infinity-emb serving the bundled all-MiniLM-L6-v2 (scripts/embed-server.sh installs it in .venv-embed first).

    Yields the base URL, http://127.0.0.1:PORT/v1 (`{url}/embeddings`); the model is served as "all-MiniLM-L6-v2".
    """
    port = free_port()
    cmd = ["bash", str(ROOT / "scripts" / "embed-server.sh"), "serve", str(port)]
    env = {**os.environ, "APP_PYTHON": sys.executable, "QA_EMBED_SERVER_BATCH": str(batch_size)}
    with running(cmd, f"http://127.0.0.1:{port}/v1/models", seconds=600, env=env, cwd=ROOT):
        yield f"http://127.0.0.1:{port}/v1"
