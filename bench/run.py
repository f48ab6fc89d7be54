"""`qa bench`: speed figures beside a plain llama-index pipeline, written to a results file and printed.

    qa bench                                   # every phase, default sizes
    qa bench --only ingest --ingest seed,xquad # one phase; figures are merged into the results file
    qa bench --quick --no-llm --out /tmp/b.json

Phases: ingest (ours vs plain, and re-index of the unchanged corpus), retrieval (latency at each
corpus size), answers (seed questions through the real model, and raw llama.cpp on the same
prompts), cold (`qa ask` in a fresh process), serve (peak memory of the web chat).
"""

import argparse
import json
import sys
import time
from pathlib import Path

from qa.settings import cache_home, data_home

PHASES = ("ingest", "retrieval", "answers", "cold", "serve", "scale")
DEFAULT_PHASES = PHASES[:-1]  # scale: only asked for (--scale), it starts servers and writes up to 1M chunks
LLM_PHASES = ("answers", "cold", "serve")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", help=f"comma-separated phases to run (default: {','.join(DEFAULT_PHASES)})")
    p.add_argument("--scale", action="store_true", help="the scale phase alone (bench/scale.py): ingest in the "
                   "process vs through an embeddings server, latency and keyword-index memory at --sizes against a Chroma server")
    p.add_argument("--scale-ingest", type=int, default=1000, help="chunks of the scale phase's ingest corpus")
    p.add_argument("--no-ingest", action="store_true", help="scale phase: skip the ingest comparison")
    p.add_argument("--keyword-sizes", default="", help="scale phase: sizes (chunks) at which to build the keyword index "
                   "alone, in this process, without Chroma (e.g. 1000000)")
    p.add_argument("--ingest", default="seed,xquad,10000", help="corpora of the ingest phase: seed, xquad, xquad4, a chunk count")
    p.add_argument("--process", default="xquad4",
                   help="corpora also indexed in whole processes, imports included: `qa index` vs the plain pipeline (chars/s)")
    p.add_argument("--sizes", default="10000,100000", help="generated corpus sizes (chunks) for retrieval latency")
    p.add_argument("--scale-vectors", choices=["hashed", "model"], default="hashed",
                   help="vectors of the generated latency corpora: hashed words (fast) or the embedding model")
    p.add_argument("--questions", type=int, default=8, help="seed questions of the answers phase")
    p.add_argument("--queries", type=int, default=50, help="queries per corpus for retrieval latency")
    p.add_argument("--no-plain", action="store_true", help="skip the plain llama-index pipeline")
    p.add_argument("--no-llm", action="store_true", help="skip the phases that run the language model")
    p.add_argument("--quick", action="store_true", help="tiny corpora, few questions: checks that the benchmark runs")
    p.add_argument("--out", type=Path, default=None, help="results file, merged into (default ~/.local/share/seedqa/bench/results.json)")
    p.add_argument("--work", type=Path, default=None, help="corpora and stores, reused between runs (default ~/.cache/seedqa/bench)")


def run(args: argparse.Namespace, settings) -> int:
    from bench.stats import machine, table, targets

    args.out = args.out or data_home() / "bench" / "results.json"  # `make bench`: the committed docs/bench/results.json
    args.work = args.work or cache_home() / "bench"
    if args.quick:
        args.ingest, args.sizes, args.questions, args.queries, args.process = "seed,200", "200", 2, 10, "seed"
        args.scale_ingest = 40
    if args.scale:
        args.only = "scale"
    phases = [p.strip() for p in (args.only or ",".join(DEFAULT_PHASES)).split(",") if p.strip()]
    unknown = set(phases) - set(PHASES)
    if unknown:
        print(f"error: unknown phase(s) {', '.join(sorted(unknown))}; choose from {', '.join(PHASES)}", file=sys.stderr)
        return 2
    if args.no_llm:
        phases = [p for p in phases if p not in LLM_PHASES]
    results = _load(args.out)
    results["machine"] = machine()
    results["settings"] = settings.model_dump(mode="json", include={"store", "embed", "answer", "llm"},
                                              exclude={"store": {"dir"}, "embed": {"cache_dir"}, "llm": {"api_key", "cache_dir"}})  # fmt: skip
    bench = Bench(args, settings)
    for phase in phases:
        print(f"bench: {phase}", file=sys.stderr)
        t0 = time.perf_counter()
        getattr(bench, phase)(results)
        results.setdefault("phases", {})[phase] = {
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "seconds": round(time.perf_counter() - t0, 1),
            "revision": results["machine"]["revision"], "load_average": results["machine"]["load_average"],
            "peak_rss_mb": _peak_rss_mb(),
        }  # fmt: skip
        results["targets"] = targets(results)
        _save(args.out, results)
    print(table(results))
    if "answers" in phases:
        from bench.llm import breakdown

        print("\n" + breakdown(results["answers"]))
    print(f"\nresults: {args.out}")
    return 0


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _save(path: Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")


def _peak_rss_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Bench:
    def __init__(self, args: argparse.Namespace, settings) -> None:
        self.args = args
        self.settings = settings
        self.work = Path(args.work)

    def _settings(self, collection: str, store: str = "ours"):
        return self.settings.with_(store={"dir": self.work / "stores" / store, "collection": collection},
                                   llm={"base_url": None, "mode": "llamacpp"})

    def corpus(self, name: str) -> Path | None:
        from bench import corpus as c

        folder = self.work / "corpora" / name
        if name == "seed":
            return c.copy_seed(folder)
        if name == "xquad":
            return c.write_xquad(folder)
        if name == "xquad4":
            return c.write_xquad_copies(folder)
        return c.write_generated(folder, int(name))

    def embedder(self):
        """The configured embedding model, loaded once."""
        from qa import components

        return components.embedder(self.settings.embed)

    def ingest(self, results: dict) -> None:
        """Ours vs the plain pipeline on the same corpus, models loaded first; then the unchanged re-index."""
        import qa
        from bench.corpus import plain_ingest
        from qa import components

        self.embedder()  # loaded (and torch's threads capped) before any clock starts
        model_path = _model_path()
        out, reindex = results.setdefault("ingest", {}), results.setdefault("reindex", {})
        for name in [n.strip() for n in self.args.ingest.split(",") if n.strip()]:
            folder = self.corpus(name)
            if folder is None:
                print(f"bench: no {name} corpus (../shared/data/xquad missing); skipped", file=sys.stderr)
                continue
            plain = None
            if not self.args.no_plain:
                print(f"bench: plain pipeline on {name}", file=sys.stderr)
                plain = plain_ingest(folder, self.work / "stores" / f"plain-{name}", model_path,
                                     self.settings.store.chunk_size, self.settings.store.chunk_overlap)  # fmt: skip
            print(f"bench: ours on {name}", file=sys.stderr)
            s = self._settings(f"bench-{name}")
            t0 = time.perf_counter()
            report = qa.index(folder, settings=s, rebuild=True)
            full = time.perf_counter() - t0
            ours = {"chunks": report.chunks, "seconds": round(full, 3), "chunks_per_s": round(report.chunks / full, 2)}
            components.forget_stores()  # re-index as a new process would: reopen the store
            t0 = time.perf_counter()
            again = qa.index(folder, settings=s, progress=False)
            second = time.perf_counter() - t0
            ratio = round(ours["chunks_per_s"] / plain["chunks_per_s"], 3) if plain else None
            out[name] = {"documents": report.documents, "ours": ours, "plain": plain, "ratio": ratio}
            reindex[name] = {"chunks": again.chunks, "embedded": again.embedded, "seconds": round(second, 4),
                             "full_seconds": round(full, 3), "share": round(second / full, 4)}  # fmt: skip
        whole = results.setdefault("ingest_process", {})
        for name in [n.strip() for n in (self.args.process or "").split(",") if n.strip()]:
            folder = self.corpus(name)
            if folder is not None:
                whole[name] = self._whole_process(name, folder)

    def _whole_process(self, name: str, folder: Path) -> dict:
        """`qa index` and the plain pipeline (bench.plain) each in a fresh process, imports included.

        Documents' characters per second of wall time, as a user meets it. The ONNX export is made
        before (`qa model` at set-up does it; here the embedder loaded by `ingest`).
        """
        import os
        import shutil
        import subprocess

        chars = sum(len(f.read_text(encoding="utf-8")) for f in folder.rglob("*.txt"))
        root = Path(__file__).resolve().parents[1]
        row: dict = {"documents": sum(1 for _ in folder.rglob("*.txt")), "characters": chars}
        sides = {"ours": [sys.executable, "-m", "cli", "index", str(folder), "--json"]}
        if not self.args.no_plain:
            sides["plain"] = [sys.executable, "-m", "bench.plain", str(folder), str(self.work / "stores" / f"process-plain-{name}")]
        for side, cmd in sides.items():
            store = self.work / "stores" / f"process-{side}-{name}"
            shutil.rmtree(store, ignore_errors=True)
            env = {**os.environ, "QA_STORE_DIR": str(store), "QA_STORE_COLLECTION": f"bench-{name}"}
            print(f"bench: {side}, whole process, on {name}", file=sys.stderr)
            t0 = time.perf_counter()
            done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - t0
            if done.returncode != 0:
                raise RuntimeError(f"{side} ingest failed: {done.stderr[-1500:]}")
            chunks = json.loads(done.stdout.strip().splitlines()[-1])["chunks"]
            row[side] = {"chunks": chunks, "seconds": round(seconds, 3), "chars_per_s": round(chars / seconds, 1)}
        row["ratio"] = round(row["ours"]["chars_per_s"] / row["plain"]["chars_per_s"], 3) if "plain" in row else None
        return row

    def retrieval(self, results: dict) -> None:
        """Hybrid retrieval latency (query embedding, Chroma, BM25, fusion) at each corpus size."""
        import qa
        from bench.stats import latency
        from bench.corpus import xquad_questions
        from bench.llm import seed_questions

        queries = (xquad_questions() or seed_questions(66))[: self.args.queries]
        out = results.setdefault("retrieval", {})
        for name in ["seed"] if self.args.quick else ["seed", "xquad"]:
            folder = self.corpus(name)
            if folder is None:
                continue
            s = self._settings(f"bench-{name}")
            t0 = time.perf_counter()
            report = qa.index(folder, settings=s)
            build = time.perf_counter() - t0
            store = qa.open_store(s)
            out[name] = {"chunks": report.chunks, "vectors": "model", "build_s": round(build, 2),
                         **latency(store, queries, s.answer.top_k)}  # fmt: skip
        for size in [int(x) for x in self.args.sizes.split(",") if x.strip()]:
            vectors = self.args.scale_vectors
            store, build, chunks = self._scale_store(size, vectors)
            out[f"gen-{size}"] = {"chunks": chunks, "vectors": vectors, "build_s": round(build, 2),
                                  **latency(store, queries, self.settings.answer.top_k)}  # fmt: skip

    def _scale_store(self, size: int, vectors: str):
        """A generated corpus indexed by the product's own Store (chunking, Chroma, BM25); built once, reused."""
        from bench.corpus import HashedEmbedder
        from index import Store
        from index.client import connect

        folder = self.corpus(str(size))
        store_dir = self.work / "stores" / f"scale-{vectors}"
        name = f"bench-gen-{size}"
        real = self.embedder()
        embedder = real if vectors == "model" else HashedEmbedder(real)
        store = Store(connect(store_dir, create=True), name, lambda: embedder, self.settings.store.chunk_size,
                      self.settings.store.chunk_overlap, create=True, hybrid=True, keyword_dir=store_dir / "bm25" / name)  # fmt: skip
        t0 = time.perf_counter()
        report = store.sync(folder)
        return store, time.perf_counter() - t0, report.chunks

    def scale(self, results: dict) -> None:
        from bench.scale import scale

        scale(self, results)

    def answers(self, results: dict) -> None:
        from bench.llm import answers, seed_questions

        s = self._seed_store()
        results["answers"] = answers(s, seed_questions(self.args.questions))

    def cold(self, results: dict) -> None:
        from bench.llm import cold_start, seed_questions

        cold = cold_start(self._seed_store(), seed_questions(1)[0])
        warm = (results.get("answers") or {}).get("first_question_first_token_s")
        answers_now = "answers" in (self.args.only or ",".join(PHASES)) and not self.args.no_llm
        if warm and cold["to_first_token_s"] and answers_now:  # an answers figure of another run would not compare
            # the same question's first token in a process whose models were already loaded: the rest is start-up
            cold["startup_s"] = round(cold["to_first_token_s"] - warm, 3)
        results["cold_start"] = cold

    def serve(self, results: dict) -> None:
        from bench.llm import seed_questions, serve_memory

        results["serve"] = serve_memory(self._seed_store(), seed_questions(1)[0])

    def _seed_store(self):
        import qa

        s = self._settings("bench-seed")
        qa.index(self.corpus("seed"), settings=s, progress=False)
        return s


def _model_path() -> str:
    from index.minilm import model_folder

    return str(model_folder())


def main(argv: list[str] | None = None) -> int:
    from qa.settings import get_settings

    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv), get_settings())


if __name__ == "__main__":
    sys.exit(main())
