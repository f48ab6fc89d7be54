"""Several app instances on one machine over one large collection in a Chroma server: how soon each is
ready, what the shared keyword index costs each in memory, and whether a write reaches every one.

    .venv/bin/python -m bench.instances --work ~/.cache/seedqa/bench --size 1000000 --instances 4

Uses the collection `qa bench --scale --sizes SIZE` filled (kept in `--work`), and its keyword folder.
Each instance is a process that opens the store, answers a first query (ready), then waits. Memory
is read from /proc: each process's resident and proportional set sizes, and how much of the keyword
index's mapped files is resident and shared. Then one more document is indexed from this process (the
indexer), and every instance is asked one query that only that document answers.
"""

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

PROBE = "Quillmarsh"  # a word no generated chunk holds


def store(work: Path, chroma: str, size: int):
    from bench.corpus import HashedEmbedder
    from index import Store
    from index.client import connect
    from qa import components
    from qa.settings import EmbedSettings

    embedder = HashedEmbedder(components.embedder(EmbedSettings()))
    name = f"scale-{size}"
    return Store(connect(work, chroma), name, lambda: embedder, keyword_dir=work / "bm25-scale" / name)


def worker(work: Path, chroma: str, size: int) -> None:
    """One instance: ready line, then one answer line per query line read."""
    t0 = time.perf_counter()
    s = store(work, chroma, size)
    s.retrieve("Which river flows through the city?", 4)
    print(json.dumps({"ready_s": round(time.perf_counter() - t0, 2)}), flush=True)
    for line in sys.stdin:
        t0 = time.perf_counter()
        found = s.retrieve(line.strip(), 4)
        print(json.dumps({"documents": [p.document for p in found], "seconds": round(time.perf_counter() - t0, 3)}), flush=True)


def memory(pid: int, keyword_dir: Path) -> dict:
    """MB: the process's RSS and PSS, and the keyword index's mapped files: resident, and of that shared."""
    rollup = {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])}
    mapped = {"Rss": 0, "Shared_Clean": 0}
    inside = False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        if re.match(r"[0-9a-f]+-[0-9a-f]+ ", line):  # a mapping's header: its address range, then its file
            inside = str(keyword_dir) in line
        elif inside and line.split(":")[0] in mapped:
            mapped[line.split(":")[0]] += int(line.split()[1])
    mb = lambda kb: round(kb / 1024, 1)  # noqa: E731
    return {"rss_mb": mb(rollup["Rss"]), "pss_mb": mb(rollup["Pss"]), "keyword_mapped_mb": mb(mapped["Rss"]),
            "keyword_shared_mb": mb(mapped["Shared_Clean"])}  # fmt: skip


def measure(work: Path, size: int, n: int) -> dict:
    from bench.servers import chroma_server

    with chroma_server(work / "chroma-server") as chroma:
        writer = store(work, chroma, size)
        t0 = time.perf_counter()
        writer.keywords(refresh=True)  # the indexer's build and save, if none is saved for these ids
        build_s = time.perf_counter() - t0
        cmd = [sys.executable, "-m", "bench.instances", "--worker", "--work", str(work), "--size", str(size), "--chroma", chroma]
        procs = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(n)]
        try:
            ready = [json.loads(p.stdout.readline())["ready_s"] for p in procs]
            folder = work / "bm25-scale" / f"scale-{size}"
            mem = [memory(p.pid, folder) for p in procs]
            doc = work / "probe" / "probe.md"
            doc.parent.mkdir(parents=True, exist_ok=True)
            doc.write_text(f"The {PROBE} ferry leaves the harbour at seven every morning.\n", encoding="utf-8")
            t0 = time.perf_counter()
            writer.add_files([doc], progress=False)
            write_s = time.perf_counter() - t0
            answers = []
            for p in procs:
                p.stdin.write(f"When does the {PROBE} ferry leave?\n")
                p.stdin.flush()
                answers.append(json.loads(p.stdout.readline()))
        finally:
            for p in procs:
                p.kill()
    return {"chunks": size, "instances": n, "indexer_keyword_s": round(build_s, 1), "ready_s": ready, "memory": mem,
            "write_s": round(write_s, 1), "first_query_after_write_s": [a["seconds"] for a in answers],
            "write_seen_by": sum("probe.md" in a["documents"] for a in answers)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.instances", description=__doc__)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--size", type=int, default=1_000_000)
    p.add_argument("--instances", type=int, default=4)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--chroma", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.work, args.chroma, args.size)
        return 0
    print(json.dumps(measure(args.work, args.size, args.instances), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
