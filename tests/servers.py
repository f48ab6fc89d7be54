"""Broken servers on loopback: a language model endpoint that hangs, and one that answers garbage."""

import contextlib
import socket
from collections.abc import Iterator


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers: a hung endpoint."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield f"http://127.0.0.1:{s.getsockname()[1]}/v1"


@contextlib.contextmanager
def garbage_server() -> Iterator[str]:
    """Answers every request with 200 and bytes that are not the API's JSON."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"<html>surprise</html>")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()


@contextlib.contextmanager
def scripted_server(answer) -> Iterator[tuple[str, list]]:
    """Answers each POST with `answer(request_json, n)` -> (status, JSON body), n counting requests from 0.

    Yields the base URL and the list of request bodies received (for the test to count).
    """
    import http.server
    import json
    import threading

    seen: list = []
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"null")
            with lock:
                n = len(seen)
                seen.append(body)
            status, reply = answer(body, n)
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    finally:
        server.shutdown()


def embeddings(texts: list[str], dim: int = 384) -> dict:
    """An OpenAI embeddings answer with made-up vectors of `dim` numbers."""
    return {"object": "list", "data": [{"object": "embedding", "index": i, "embedding": [1.0 + i] + [0.5] * (dim - 1)}
                                       for i, _ in enumerate(texts)]}  # fmt: skip
