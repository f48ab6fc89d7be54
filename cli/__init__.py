"""The `qa` command: index a folder, ask a question, serve the web chat or the API, evaluate, benchmark.

The composition root: it wires `ui`, `api`, `eval` and `qa` together and sits above them all. Each
subcommand owns its options; every command's settings come from `qa.get_settings`.
"""

import argparse
import json
import sys
import time
from pathlib import Path


def store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", type=Path, help="store folder (env QA_STORE_DIR)")
    p.add_argument("--collection", help="collection name (env QA_STORE_COLLECTION)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="index a folder of .txt, .md, .pdf, .html and .docx files (incremental)")
    p.add_argument("path", nargs="?", type=Path, default=Path("seeds"), help="folder or file (default: seeds)")
    p.add_argument("--rebuild", action="store_true", help="drop the collection and index from scratch")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    p.add_argument("--watch", action="store_true", help="keep the collection in step with the folder until Ctrl-C")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between checks with --watch")
    store_options(p)

    p = sub.add_parser("collections", help="list the collections, or delete one")
    p.add_argument("--delete", metavar="NAME", help="delete this collection and its chunks")
    store_options(p)

    p = sub.add_parser("ask", help="ask a question of the indexed documents")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the answer and its sources as JSON")
    p.add_argument("--short", action="store_true", help="answer with only the phrase that answers (env QA_ANSWER_STYLE=short)")
    p.add_argument("--local", action="store_true",
                   help="load the models here even when a running qa ui / qa serve of the same store could answer")
    store_options(p)

    p = sub.add_parser("ui", help="serve the web chat (and the OpenAI-compatible API under /v1)")
    p.add_argument("--host", help="address to bind (env QA_WEB_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (env QA_WEB_PORT, default 7860)")
    store_options(p)

    p = sub.add_parser("serve", help="serve the OpenAI-compatible HTTP API under /v1 (no web chat)")
    p.add_argument("--host", help="address to bind (env QA_WEB_HOST, default 127.0.0.1; others need QA_WEB_API_KEY)")
    p.add_argument("--port", type=int, help="port (env QA_WEB_PORT, default 7860)")
    store_options(p)

    p = sub.add_parser("mcp", help="serve the documents to an MCP client over stdio")
    store_options(p)

    sub.add_parser("model", help="check the CPU, assemble and verify the bundled language model, export the embedding model to ONNX; print the path")

    p = sub.add_parser("eval", help="run the eval suite against reference answers")
    from eval.cli import add_arguments

    add_arguments(p)

    p = sub.add_parser("bench", help="speed figures beside a plain llama-index pipeline (see bench/run.py)")
    from bench.run import add_arguments as bench_arguments

    bench_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from pydantic import ValidationError

    from qa import UserError, get_settings

    try:
        settings = get_settings(
            store={"dir": getattr(args, "store", None), "collection": getattr(args, "collection", None)},
            web={"host": getattr(args, "host", None), "port": getattr(args, "port", None)},
            answer={"style": "short" if getattr(args, "short", False) else None},
        )
        commands = {"index": _index, "ask": _ask, "ui": _ui, "model": _model, "eval": _eval, "collections": _collections,
                    "bench": _bench, "serve": _serve, "mcp": _mcp}
        return commands[args.command](args, settings)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ValidationError as e:  # a QA_ variable with a bad value; its value is not echoed (it may be a secret)
        wrong = "; ".join(
            (f"QA_{'_'.join(map(str, err['loc'])).upper()}: " if err["loc"] else "") + err["msg"] for err in e.errors()
        )
        print(f"error: invalid setting: {wrong}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _index(args, settings) -> int:
    from index.documents import fingerprint

    seen = fingerprint(args.path)  # taken before the folder is read: a change made meanwhile is seen next time
    code = _index_once(args, settings, rebuild=args.rebuild)
    if not args.watch:
        return code
    print(f"watching {args.path} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    while True:
        time.sleep(args.interval)
        now = fingerprint(args.path)
        if now != seen:
            seen = now
            _index_once(args, settings, rebuild=False)


def _collections(args, settings) -> int:
    import qa

    if args.delete:
        if not qa.delete_collection(args.delete, settings):
            print(f"error: no collection '{args.delete}'", file=sys.stderr)
            return 2
        print(f"deleted collection '{args.delete}'")
        return 0
    for name in qa.collections(settings):
        print(name)
    return 0


def _index_once(args, settings, rebuild: bool) -> int:
    import qa

    report = qa.index(args.path, settings=settings, rebuild=rebuild)
    for s in report.skipped:
        print(f"skipped {s.name}: {s.reason}", file=sys.stderr)
    counts = {k: getattr(report, k) for k in ("documents", "chunks", "added", "updated", "removed", "unchanged", "embedded")}
    if args.json:
        counts["seconds"] = round(report.seconds, 3)
        counts["skipped"] = [{"document": s.name, "reason": s.reason} for s in report.skipped]
        print(json.dumps(counts))
    else:
        print(", ".join(f"{v} {k}" for k, v in counts.items()) + f" in {report.seconds:.1f} s")
        print(f"collection '{settings.store.collection}' in {settings.store.chroma_url or settings.store.dir}")
    sys.stdout.flush()  # with --watch, each line tells a reader that the folder's state is now stored
    if report.documents == 0:
        print(f"error: no readable documents in {args.path}", file=sys.stderr)
        return 1
    if report.skipped:
        print(f"error: {len(report.skipped)} file(s) skipped (named above); the others were indexed", file=sys.stderr)
        return 1
    return 0


def _ask(args, settings) -> int:
    import qa

    live = sys.stdout.isatty() and not args.json
    answer = None
    server = None if args.local else _running_server(settings)
    events = qa.stream(args.question, settings=settings) if server is None else _ask_server(server, args.question, settings)
    if server and not args.json:
        print(f"(answered by the running server at {server}; --local to load the models here instead)", flush=True)
    for event in events:
        if isinstance(event, str) and live:
            print(event, end="", flush=True)
        elif isinstance(event, qa.Answer):
            answer = event
    if args.json:
        print(json.dumps({**answer.to_json(), **({"server": server} if server else {})}, ensure_ascii=False))
        return 1 if answer.error else 0
    if live:
        print("\n")
    if answer.error:
        print(f"error: {answer.error}", file=sys.stderr)
        for p in answer.passages:
            print(f"found: {p.document}, characters {p.start}-{p.end}, score {p.score:.2f}", file=sys.stderr)
        return 1
    print(answer.text)
    if answer.check is not None:
        print(f"\n(check: {answer.check.reason})")
    if answer.refused:
        searched = ", ".join(sorted({p.document for p in answer.passages})) or "nothing (the collection is empty)"
        print(f"\n(searched {len(answer.passages)} passages of: {searched})")
    for s in answer.sources:
        page = f", p. {s.page}" if s.page else ""
        print(f"\n[{s.n}] {s.document}{page}, characters {s.start}-{s.end}, score {s.score:.2f}")
        for a, b in s.highlights:
            quote = s.text[a - s.start : b - s.start]
            print(f"    > {quote}")
    return 0


def _running_server(settings) -> str | None:
    """The /v1 address of a live `qa ui` or `qa serve` over the same store with the same settings, if any."""
    from api.discovery import find

    return find(settings)


def _ask_server(url: str, question: str, settings):
    import qa
    from api.discovery import ask

    try:
        yield from ask(url, question, settings)
    except (OSError, ValueError) as e:  # urllib's errors are OSErrors; ValueError: a body that is not the API's JSON
        error = f"the running server at {url} did not answer ({e}); ask with --local to load the models here"
        yield qa.Answer(question=question, text=error, refused=False, sources=[], passages=[], error=error)


def _ui(args, settings) -> int:
    from ui.app import serve

    routes = api_routes(settings)
    if routes:
        from api.discovery import register

        register(settings)  # `qa ask` on the same store asks this server rather than load the models again
    serve(settings, routes=routes, on_start=lambda: _warm_up(settings))
    return 0


def _warm_up(settings) -> None:
    """While the server starts, load the language model and have it read its instructions (a thread).

    The first question then waits for neither. A failure here is only a note: the first question
    reports it as usual.
    """
    import threading

    import qa

    pipeline = qa.load(settings)  # a missing index is an error now, not in the thread

    def warm() -> None:
        try:
            pipeline.warm()
        except Exception as e:  # noqa: BLE001 - reported again, in full, by the first question
            print(f"note: the language model was not loaded ahead: {e}", file=sys.stderr)

    threading.Thread(target=warm, name="warm-up", daemon=True).start()


def api_routes(settings) -> list:
    """The HTTP API, to mount in the web chat's server; none beyond loopback without QA_WEB_API_KEY."""
    from api.server import mount

    if not settings.web.loopback and settings.web.api_key is None:
        print(f"note: the HTTP API (/v1) is off on {settings.web.host}: set QA_WEB_API_KEY to serve it", file=sys.stderr)
        return []
    return [mount(settings)]


def _serve(args, settings) -> int:
    from api.discovery import register
    from api.server import check_bind, serve

    check_bind(settings)
    _warm_up(settings)
    register(settings)  # `qa ask` on the same store asks this server rather than load the models again
    serve(settings)
    return 0


def _mcp(args, settings) -> int:
    from api.mcp_server import run

    run(settings)
    return 0


def _eval(args, settings) -> int:
    from eval.cli import run

    return run(args, settings)


def _bench(args, settings) -> int:
    from bench.run import run

    return run(args, settings)


def _model(args, settings) -> int:
    from qa import components
    from qa.cpu import check_cpu
    from qa.model_file import resolve_model

    check_cpu()
    print(resolve_model(settings.llm.model_path, settings.llm.cache_dir))
    components.embedder(settings.embed)  # the ONNX backends export the model once, here rather than at first use
    return 0


if __name__ == "__main__":
    sys.exit(main())
