"""Small helpers of the benchmark: percentiles, the machine it ran on, the targets of issue 7, the table."""

import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

from eval.metrics import percentile
from eval.provenance import revision

PACKAGES = ("torch", "sentence-transformers", "transformers", "llama-index-core", "chromadb", "llama-cpp-python",
            "bm25s", "gradio", "onnxruntime", "onnx")  # fmt: skip


def percentiles(values: list[float | None]) -> dict:
    """p50 and p95 (`eval.metrics.percentile`) of a list of figures, rounded; None values are left out."""
    values = [v for v in values if v is not None]
    if not values:
        return {"p50": None, "p95": None, "n": 0}
    return {"p50": round(percentile(values, 50), 4), "p95": round(percentile(values, 95), 4), "n": len(values)}


def latency(store, queries: list[str], top_k: int) -> dict:
    """Retrieval latency of `store` over `queries` (the first three run once before, to warm it), and
    each step's share (`Store.retrieve`'s `steps`: check, embed, vector, keyword, fetch) at p50 / p95."""
    for q in queries[:3]:
        store.retrieve(q, top_k)  # warm: BM25 loaded, caches filled
    times, steps = [], {}
    for q in queries:
        split: dict[str, float] = {}
        t0 = time.perf_counter()
        store.retrieve(q, top_k, split)
        times.append((time.perf_counter() - t0) * 1000)
        for name, seconds in split.items():
            steps.setdefault(name, []).append(seconds * 1000)
    p = percentiles(times)
    split_ms = {name: {k: round(v, 2) for k, v in percentiles(ms).items() if k != "n"} for name, ms in steps.items()}
    return {"p50_ms": round(p["p50"], 2), "p95_ms": round(p["p95"], 2), "queries": p["n"], "steps_ms": split_ms}


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = None
    try:
        ram = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu": cpu, "cores": os.cpu_count(), "ram_gib": ram, "os": platform.platform(),
        "python": sys.version.split()[0], "packages": versions, "revision": revision(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load_average": load,
    }  # fmt: skip


def _get(results: dict, *path):
    for key in path:
        if not isinstance(results, dict) or key not in results:
            return None
        results = results[key]
    return results


def targets(results: dict) -> list[dict]:
    """Each target of issue 7 with the measured value (None when that phase was not run)."""
    ingest = results.get("ingest", {})
    ratios = [v["ratio"] for v in ingest.values() if v.get("ratio") and v.get("ours", {}).get("chunks", 0) >= 100]
    reindex = [v for v in results.get("reindex", {}).values()]
    whole = [v["ratio"] for v in results.get("ingest_process", {}).values() if v.get("ratio") and v["characters"] >= 100_000]
    retrieval = results.get("retrieval", {})

    def p50_at(size: int):
        got = [v["p50_ms"] for v in retrieval.values() if v.get("chunks") and 0.7 * size <= v["chunks"] <= 1.3 * size]
        return max(got) if got else None

    rows = [
        ("ingest throughput vs plain pipeline", ">= 2x", min(ratios) if ratios else None, lambda v: v >= 2),
        ("ingest, whole process, chars/s vs plain pipeline", ">= 2x", min(whole) if whole else None, lambda v: v >= 2),
        ("unchanged re-index: chunks embedded", "0", max((r["embedded"] for r in reindex), default=None), lambda v: v == 0),
        ("unchanged re-index: share of full index time", "<= 2%",
         max((r["share"] for r in reindex), default=None), lambda v: v <= 0.02),
        ("hybrid retrieval p50 at 10,000 chunks", "<= 15 ms", p50_at(10_000), lambda v: v <= 15),
        ("hybrid retrieval p50 at 100,000 chunks", "<= 30 ms", p50_at(100_000), lambda v: v <= 30),
        ("time to sources p50", "<= 0.3 s", _get(results, "answers", "sources_s", "p50"), lambda v: v <= 0.3),
        ("time to first token p50", "<= 2.5 s", _get(results, "answers", "first_token_s", "p50"), lambda v: v <= 2.5),
        ("time to first token p95", "<= 4 s", _get(results, "answers", "first_token_s", "p95"), lambda v: v <= 4),
        ("first question's first token after start-up", "<= 2.5 s",
         _get(results, "answers", "first_question_first_token_s"), lambda v: v <= 2.5),
        ("generation vs raw llama.cpp", ">= 90%", _get(results, "answers", "tokens_ratio"), lambda v: v >= 0.9),
        ("qa ask cold start before generation", "<= 5 s", _get(results, "cold_start", "startup_s"), lambda v: v <= 5),
        ("qa ask imports gradio", "no", _get(results, "cold_start", "imports_gradio"), lambda v: v is False),
        ("web chat peak RSS", "<= 3 GB", _get(results, "serve", "peak_rss_mb"), lambda v: v <= 3072),
    ]  # fmt: skip
    return [{"target": n, "wanted": w, "value": v, "met": None if v is None else bool(ok(v))} for n, w, v, ok in rows]


def table(results: dict) -> str:
    """The figures as Markdown tables: ingest ours vs plain, then everything else."""
    lines = ["| corpus | chunks | ours chunks/s | plain chunks/s | ratio |", "|---|---|---|---|---|"]
    for name, v in results.get("ingest", {}).items():
        ours, plain = v.get("ours", {}), v.get("plain") or {}
        lines.append(f"| {name} | {ours.get('chunks')} | {ours.get('chunks_per_s')} | {plain.get('chunks_per_s', '-')} "
                     f"| {v.get('ratio') or '-'} |")  # fmt: skip
    lines += ["", "| whole process | characters | ours chars/s (s) | plain chars/s (s) | ratio |", "|---|---|---|---|---|"]
    for name, v in results.get("ingest_process", {}).items():
        ours, plain = v["ours"], v.get("plain") or {}
        lines.append(f"| {name} | {v['characters']} | {ours['chars_per_s']} ({ours['seconds']} s) "
                     f"| {plain.get('chars_per_s', '-')} ({plain.get('seconds', '-')} s) | {v.get('ratio') or '-'} |")  # fmt: skip
    lines += ["", "| corpus | chunks | retrieval p50 | p95 | vectors | built in |", "|---|---|---|---|---|---|"]
    for name, v in results.get("retrieval", {}).items():
        lines.append(f"| {name} | {v['chunks']} | {v['p50_ms']} ms | {v['p95_ms']} ms | {v['vectors']} | {v['build_s']} s |")
    scale = results.get("scale") or {}
    for where, v in (scale.get("ingest") or {}).items():
        lines.append(f"| ingest {where} (Chroma server) | {v['chunks']} | {v['chunks_per_s']} chunks/s | | | {v['seconds']} s |")
    for name, v in scale.items():
        if name.startswith("keyword-"):
            lines.append(f"| scale {name} (BM25 alone) | {v['chunks']} | {v['search_p50_ms']} ms | {v['search_p95_ms']} ms | "
                         f"BM25 {v['arrays_mb']} MB, RSS +{v['rss_growth_mb']} MB | {v['build_s']} s |")  # fmt: skip
        elif name != "ingest":
            k = v["keyword"]
            lines.append(f"| scale {name} (Chroma server) | {v['chunks']} | {v['p50_ms']} ms | {v['p95_ms']} ms | "
                         f"{v['vectors']}; BM25 {k['arrays_mb']} MB, built in {k['build_s']} s | {v['fill_s']} s |")  # fmt: skip
    lines += ["", "| target | wanted | measured | met |", "|---|---|---|---|"]
    for t in targets(results):
        met = "-" if t["met"] is None else ("yes" if t["met"] else "no")
        lines.append(f"| {t['target']} | {t['wanted']} | {'-' if t['value'] is None else t['value']} | {met} |")
    return "\n".join(lines)
