"""`qa eval`: run a reference set through the pipeline, score it, write the results file and the report.

    qa eval                                   # the seed set, every question
    qa eval --set xquad.en.json --sample 200  # a SQuAD-format file: its paragraphs are indexed first
    qa eval --gate                            # the CI subset, checked against eval/thresholds.json
    qa eval --compare A.jsonl B.jsonl         # what improved and what regressed between two runs
    qa eval --replay A.jsonl                  # A's recorded model answers through today's citation rules
"""

import argparse
import json
import sys
import time
from pathlib import Path

from eval.errors import EvalError
from qa.settings import data_home


def runs_folder() -> Path:
    """Where runs go unless --out says otherwise: the data home, never the source tree."""
    return data_home() / "runs"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", default="seed", help="'seed', a SQuAD-format .json file, or a seed-format .jsonl file")
    p.add_argument("--docs", type=Path, help="for a .jsonl set: the folder its support phrases come from")
    p.add_argument("--sample", type=int, metavar="N", help="evaluate N questions drawn at random (fixed seed)")
    p.add_argument("--seed", type=int, default=0, help="random seed of --sample (default 0)")
    p.add_argument("--balanced", action="store_true", help="--sample half answerable, half unanswerable questions")
    p.add_argument("--ids", help="comma-separated question ids to evaluate")
    p.add_argument("--gate", action="store_true", help="the CI subset of the seed set, checked against the thresholds")
    p.add_argument("--short", action="store_true", help="short answers: only the phrase that answers (QA_ANSWER_STYLE)")
    p.add_argument("--retrieval-only", action="store_true", help="score retrieval only, without the language model")
    p.add_argument("--out", type=Path, help="runs folder (default ~/.local/share/seedqa/runs)")
    p.add_argument("--rebuild", action="store_true", help="re-index the set's documents from scratch")
    p.add_argument("--json", action="store_true", help="end with one JSON line: the metrics and the file paths")
    p.add_argument("--replay", type=Path, metavar="RESULTS", help="re-score the model answers recorded in a results file, without the model")
    p.add_argument("--read-again", action="store_true",
                   help="with --replay: the bundled model reads again the answers recorded without token scores")
    p.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"), help="compare two results files and exit")
    p.add_argument("--store", type=Path, help="store folder for the set's documents (default: RUNS/store)")
    p.add_argument("--collection", help="collection for the set's documents (default: eval-SET)")


def _reader(settings):
    """The bundled model's token scores of a recorded answer (what the check reads), for answers recorded
    without them: a replay that lets such an answer reach the check then scores it as the live run would."""
    from qa.components import language_model
    from qa.prompt import REFUSAL

    model = language_model(settings.llm)
    return lambda messages, answer: model.token_scores(messages, answer, REFUSAL)


def run(args: argparse.Namespace, settings, llm=None) -> int:
    """`llm` replaces the configured language model (tests pass a fake one)."""
    if args.compare:
        return _compare(args)
    from eval import gate, references, report, runner
    from eval.metrics import aggregate
    from eval.provenance import revision

    if args.replay:
        from eval.replay import load as recorded

        llm = recorded(args.replay)
        if args.read_again:
            llm.read_again = _reader(settings)
    elif args.read_again:
        raise EvalError("--read-again reads the answers of a --replay: name the results file")

    t0, started = time.perf_counter(), time.strftime("%Y-%m-%d %H:%M:%S")
    refset = references.load("seed" if args.gate else args.set, args.docs)
    refs = refset.references
    thresholds = gate.load() if args.gate else None
    if thresholds:
        refs = references.select(refs, thresholds["questions"])
    elif args.ids:
        refs = references.select(refs, [i.strip() for i in args.ids.split(",") if i.strip()])
    if args.sample is not None:
        if args.sample < 1:
            raise EvalError("--sample must be at least 1")
        refs = references.sample(refs, args.sample, args.seed, args.balanced)
    name = f"{refset.name}-gate" if args.gate else refset.name
    runs = args.out or runs_folder()
    settings = settings.with_(store={"dir": args.store or runs / "store", "collection": args.collection or f"eval-{refset.name}"})
    indexed = runner.prepare(refset, settings, runs / "cache", rebuild=args.rebuild)
    if indexed["chunks"] == 0:
        raise EvalError(f"nothing was indexed from {refset.source}")

    folder = _new_folder(runs, name)
    results = folder / "results.jsonl"
    with results.open("w", encoding="utf-8") as out:

        def write(row: dict) -> None:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()

        rows = runner.run(refs, settings, llm=llm, answers=not args.retrieval_only, on_row=write)
    summary = {
        "set": name,
        "source": refset.source,
        "started": started,
        "seconds": round(time.perf_counter() - t0, 1),
        "sample": args.sample,
        "seed": args.seed,
        "balanced": args.balanced,
        "retrieval_only": args.retrieval_only,
        "replay": str(args.replay) if args.replay else None,
        "selection": _selection(refs),
        "revision": revision(),
        "settings": settings.model_dump(mode="json", include={"store", "answer", "llm"}, exclude={"llm": {"api_key"}}),
        "index": indexed,
        "metrics": aggregate(rows),
        "results": str(results),
        "report": str(folder / "report.html"),
    }
    previous = find_previous(runs, summary, folder)
    summary["previous"] = previous and previous["results"]
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    report.write(folder / "report.html", summary, rows, previous)

    print(format_table(summary, rows))
    failed = gate.check(summary["metrics"], thresholds) if thresholds else []
    for message in failed:
        print(f"gate: {message}", file=sys.stderr)
    if args.json:
        flat = {"set": name, **summary["metrics"], "seconds": summary["seconds"], "results": summary["results"],
                "report": summary["report"]}  # fmt: skip
        if thresholds:
            flat["gate_failures"] = failed
        print(json.dumps(flat, default=str))
    return 1 if failed else 0


def _new_folder(runs: Path, name: str) -> Path:
    """A new folder per run, named in the order runs were made (a sequence number, then the time)."""
    runs.mkdir(parents=True, exist_ok=True)
    number = max((_number(p) for p in runs.iterdir()), default=0) + 1
    while True:
        folder = runs / f"{number:04d}-{time.strftime('%Y%m%d-%H%M%S')}-{name}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:  # another run took this number meanwhile
            number += 1


def _number(path: Path) -> int:
    head = path.name.split("-", 1)[0]
    return int(head) if head.isdigit() and len(head) == 4 else 0


def _selection(refs) -> str:
    """A fingerprint of the questions asked: only runs over the same questions are compared."""
    import hashlib

    return hashlib.sha256("\n".join(r.id for r in refs).encode()).hexdigest()[:16]


def find_previous(runs: Path, current_summary: dict, current: Path) -> dict | None:
    """The summary of the latest earlier comparable run in `runs`: same set, questions and mode."""
    same = ("set", "selection", "retrieval_only")
    for path in sorted(runs.glob("*/summary.json"), key=lambda p: _number(p.parent), reverse=True):
        if _number(path.parent) >= _number(current):
            continue
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if all(summary.get(k) == current_summary[k] for k in same):
            return summary
    return None


def format_table(summary: dict, rows: list[dict]) -> str:
    from eval.metrics import BASELINE, METRICS

    m = summary["metrics"]
    lines = [
        f"{summary['set']}: {m['questions']} questions ({m['answerable']} answerable, {m['unanswerable']} unanswerable) "
        f"in {summary['seconds']:.0f} s",
        "",
        f"{'metric':34} {'answer':>8} {'BM25':>8}",
    ]
    for name, (label, _) in METRICS.items():
        value = m.get(name)
        if value is None and name not in BASELINE:
            continue
        base = m["baseline"].get(name) if name in BASELINE else None
        lines.append(f"{label:34} {_num(value):>8} {_num(base) if name in BASELINE else '':>8}")
    failed = sum(bool(r["failures"]) for r in rows)
    lines += ["", f"failed questions: {failed} of {len(rows)}", f"results: {summary['results']}", f"report:  {summary['report']}"]
    return "\n".join(lines)


def _num(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def _compare(args: argparse.Namespace) -> int:
    from eval.compare import compare, format_text

    result = compare(*args.compare)
    print(format_text(result))
    if args.json:
        print(json.dumps(result, default=str))
    return 0
