"""Several `qa serve` instances on one machine over one large collection in a Chroma server: how soon each
is ready, what the shared keyword index costs each in memory, and whether an indexer's write reaches every one.

    .venv/bin/python -m bench.instances --work ~/.cache/seedqa/bench --size 1000000 --instances 4

Uses the collection `qa bench --scale --sizes SIZE` filled (kept in `--work`). Its chunk vectors are hashed
stand-ins (bench.scale); for `qa serve` to open it, the collection is labelled with the bundled model's
fingerprint while the instances run, and labelled back after. Queries are embedded by the real model, so
latency is the product's; which passage wins the vector half is not meaningful here.

The indexer (this process) builds and saves the keyword index first, as `qa index` does after a write.
Each instance is `qa serve` on a free port, sharing one cache (one keyword folder, as on one machine):
ready = from its start to its first /search answered. Memory is read from /proc: each process's resident
and proportional set sizes, and how much of the keyword index's mapped files is resident and shared. Then
the same 50 XQuAD questions are asked of one instance alone, then of all at once (one client each), and
one more document is indexed from this process, and every instance is asked one query only it answers.
"""

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

PROBE = "Quillmarsh"  # a word no generated chunk holds
QUERIES = 50  # XQuAD questions per instance


@contextlib.contextmanager
def labelled(client, name: str, embedder) -> Iterator[None]:
    """The collection carries `embedder`'s fingerprint meanwhile, then its own again."""
    from index import fingerprint

    keys = (fingerprint.NAME, fingerprint.DIM, fingerprint.VECTORS)
    unsettable = lambda meta: {k: v for k, v in (meta or {}).items() if not k.startswith("hnsw:")}  # noqa: E731
    own = unsettable(client.get_collection(name).metadata)
    client.get_collection(name).modify(metadata={**own, **fingerprint.metadata(embedder)})
    try:
        yield
    finally:
        now = unsettable(client.get_collection(name).metadata)
        client.get_collection(name).modify(metadata={**now, **{k: own[k] for k in keys if k in own}})


def memory(pid: int, keyword_dir: Path) -> dict:
    """MB: the process's RSS and PSS, and the keyword index's mapped files: resident, its proportional share
    (PSS: a page mapped by four processes counts a quarter in each) and the part the kernel reports as shared
    (pages it maps as huge pages are left out of that one: PSS is the sure measure)."""
    rollup = {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])}
    mapped = {"Rss": 0, "Pss": 0, "Shared_Clean": 0}
    inside = False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        if re.match(r"[0-9a-f]+-[0-9a-f]+ ", line):  # a mapping's header: its address range, then its file
            inside = str(keyword_dir) in line
        elif inside and line.split(":")[0] in mapped:
            mapped[line.split(":")[0]] += int(line.split()[1])
    mb = lambda kb: round(kb / 1024, 1)  # noqa: E731
    return {"rss_mb": mb(rollup["Rss"]), "pss_mb": mb(rollup["Pss"]), "keyword_mapped_mb": mb(mapped["Rss"]),
            "keyword_pss_mb": mb(mapped["Pss"]), "keyword_shared_mb": mb(mapped["Shared_Clean"])}  # fmt: skip


def server_rss_mb(url: str) -> float | None:
    """The resident memory of the `chroma run` listening at `url` (found by its command line)."""
    port = url.rsplit(":", 1)[1]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if f"--port\0{port}\0".encode() in cmdline.read_bytes():
                status = (cmdline.parent / "status").read_text()
                return round(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024, 1)
        except (OSError, AttributeError):
            continue
    return None


def search(base: str, query: str) -> tuple[list[str], float]:
    import httpx

    t0 = time.perf_counter()
    r = httpx.post(f"{base}/search", json={"query": query, "k": 4}, timeout=600)
    r.raise_for_status()
    return [hit["document"] for hit in r.json()["results"]], time.perf_counter() - t0


def at_once(bases: list[str], questions: list[str]) -> list[float]:
    """Every instance asked the same questions at the same time, one client each: the seconds of each search."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(bases)) as pool:
        runs = pool.map(lambda base: [search(base, q)[1] for q in questions], bases)
        return [s for run in runs for s in run]


def ms(seconds: list[float]) -> dict:
    from bench.stats import percentiles

    return {k: round(v * 1000, 1) if k != "n" else v for k, v in percentiles(seconds).items()}


def measure(work: Path, size: int, n: int) -> dict:
    from bench.servers import chroma_server, free_port, wait_for
    from qa import components
    from qa.settings import Settings

    from bench.corpus import xquad_questions

    questions = xquad_questions()[:QUERIES]
    cache = work / "instances-cache"
    os.environ["XDG_CACHE_HOME"] = str(cache)  # this process is the indexer of that machine
    with chroma_server(work / "chroma-server") as chroma:
        env = {**os.environ, "QA_STORE_CHROMA_URL": chroma, "QA_STORE_COLLECTION": f"scale-{size}",
               "QA_LLM_BASE_URL": "http://127.0.0.1:9/v1"}  # fmt: skip  (searches only: no model)
        settings = Settings().with_(store={"chroma_url": chroma, "collection": f"scale-{size}"})
        with labelled(components.client(settings.store), f"scale-{size}", components.embedder(settings.embed)):
            writer = components.store(settings)
            writer.embedder  # the fingerprint check, before the clock starts
            t0 = time.perf_counter()
            writer.keywords(refresh=True)  # the indexer's build and save, if none is saved for these ids
            build_s = time.perf_counter() - t0
            folder = components.keyword_dir(settings.store)
            procs, bases, ready = [], [], []
            try:
                for k in range(n):
                    port, log = free_port(), work / f"serve-{k}.log"
                    t0 = time.perf_counter()
                    with open(log, "wb") as out:
                        procs.append(subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port)],
                                                      env=env, stdout=out, stderr=subprocess.STDOUT))  # fmt: skip
                    bases.append(f"http://127.0.0.1:{port}/v1")
                    wait_for(f"{bases[-1]}/health", procs[-1], log, 300)
                    search(bases[-1], "Which river flows through the city?")
                    ready.append(round(time.perf_counter() - t0, 2))
                mem = [memory(p.pid, folder) for p in procs]
                server_mb = server_rss_mb(chroma)
                alone = [search(bases[0], q)[1] for q in questions]
                together = at_once(bases, questions)
                doc = work / "probe" / "probe.md"
                doc.parent.mkdir(parents=True, exist_ok=True)
                doc.write_text(f"The {PROBE} ferry leaves the harbour at seven every morning.\n", encoding="utf-8")
                t0 = time.perf_counter()
                writer.add_files([doc], progress=False)
                write_s = time.perf_counter() - t0
                answers = [search(b, f"When does the {PROBE} ferry leave?") for b in bases]
                writer._collection.delete(where={"document": "probe.md"})  # the collection as it was, for the next run
                writer.keywords(refresh=True)
                writer._publish_keywords()
            finally:
                for p in procs:
                    p.terminate()
                for p in procs:
                    p.wait(30)
    return {"chunks": size, "instances": n, "chroma_server_rss_mb": server_mb, "indexer_keyword_s": round(build_s, 1), "ready_s": ready, "memory": mem,
            "search_ms": {"one_instance": ms(alone), f"{n}_at_once": ms(together)}, "write_s": round(write_s, 1),
            "first_query_after_write_s": [round(s, 3) for _, s in answers],
            "write_seen_by": sum("probe.md" in docs for docs, _ in answers)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.instances", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--size", type=int, default=1_000_000)
    p.add_argument("--instances", type=int, default=4)
    args = p.parse_args(argv)
    print(json.dumps(measure(args.work, args.size, args.instances), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
