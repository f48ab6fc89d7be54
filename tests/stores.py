"""Helpers for tests that check what a store holds and what the `qa` command says."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def snapshot(store_dir: Path, collection: str) -> dict[str, tuple[str, dict, np.ndarray]]:
    """Every chunk of the collection as Chroma holds it: id -> (text, metadata, embedding).

    Read in a fresh process: this one may hold the store open with caches another process made stale.
    """
    cmd = [sys.executable, "-m", "tests.stores", str(store_dir), collection]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300, check=True)
    got = json.loads(out.stdout)
    rows = {i: (t, m, np.asarray(e)) for i, t, m, e in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"])}
    assert len(rows) == len(got["ids"]), "duplicate chunk ids"
    return rows


def _dump(store_dir: str, collection: str) -> None:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(store_dir, settings=ChromaSettings(anonymized_telemetry=False))
    got = client.get_collection(collection).get(include=["documents", "metadatas", "embeddings"])
    got["embeddings"] = [list(map(float, e)) for e in got["embeddings"]]
    print(json.dumps({k: got[k] for k in ("ids", "documents", "metadatas", "embeddings")}))


def same(a: dict, b: dict) -> bool:
    """Two snapshots hold the same chunks: ids, texts, metadata and (nearly) the same vectors."""
    return a.keys() == b.keys() and all(
        a[i][0] == b[i][0] and a[i][1] == b[i][1] and np.allclose(a[i][2], b[i][2], atol=1e-4) for i in a
    )


def run_qa(*args: str, store_dir: Path, collection: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    """The real `qa` command in a subprocess, on the given store; `env` adds QA_ variables."""
    full = {**os.environ, "QA_STORE_DIR": str(store_dir), "QA_STORE_COLLECTION": collection, **env}
    cmd = [sys.executable, "-m", "cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=full, cwd=cwd, timeout=600)


def qa_main(*args: str, store_dir: Path, collection: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    """The `qa` command run in this process through `cli.main(argv)`, where the process boundary is not under test.

    Same result shape as `run_qa`; the QA_ variables are set for the call and restored after it.
    """
    import contextlib
    import io

    from cli import main

    wanted = {"QA_STORE_DIR": str(store_dir), "QA_STORE_COLLECTION": collection, **env}
    saved = {k: os.environ.get(k) for k in wanted}
    out, err = io.StringIO(), io.StringIO()
    with contextlib.ExitStack() as stack:
        if cwd is not None:
            stack.enter_context(contextlib.chdir(cwd))
        os.environ.update(wanted)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(list(args))
                except SystemExit as e:  # argparse's usage errors
                    code = e.code if isinstance(e.code, int) else 2
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return subprocess.CompletedProcess(["qa", *args], code, out.getvalue(), err.getvalue())


def one_line_error(out: subprocess.CompletedProcess, code: int = 2) -> str:
    """The single `error:` line of a failed command that printed no traceback."""
    assert out.returncode == code, (out.returncode, out.stderr[-2000:])
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout, out.stderr[-2000:]
    lines = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, out.stderr
    return lines[0]


if __name__ == "__main__":
    _dump(*sys.argv[1:3])
