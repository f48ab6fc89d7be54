"""Embedded vs server figures on one corpus: Chroma embedded vs `chroma run`, llama.cpp in-process vs its server.

    .venv/bin/python -m bench.scale_out [--corpus FOLDER]

Prints one JSON object. Starts and stops the servers itself, on free loopback ports.
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import qa
from qa import Settings
from qa.model_file import bundled_model

QUESTIONS = [
    "What guarantees does Russia demand?",
    "How many people did Russian strikes kill earlier this month?",
    "Which outlet interviewed Grushko?",
    "What did Britain and France offer?",
]


def _ingest_and_query(settings: Settings, corpus: Path) -> dict:
    t0 = time.perf_counter()
    report = qa.index(corpus, settings=settings, rebuild=True, progress=False)
    ingest = time.perf_counter() - t0
    pipeline = qa.load(settings)
    pipeline.retrieve("warm up")
    times = []
    for _ in range(5):
        for q in QUESTIONS:
            t = time.perf_counter()
            pipeline.retrieve(q)
            times.append((time.perf_counter() - t) * 1000)
    return {
        "chunks": report.chunks,
        "ingest_s": round(ingest, 2),
        "chunks_per_s": round(report.chunks / ingest, 1),
        "retrieve_ms_p50": round(statistics.median(times), 1),
    }


def _answers(settings: Settings) -> dict:
    pipeline = qa.load(settings)
    totals, firsts = [], []
    for q in QUESTIONS:
        a = pipeline.ask(q)
        totals.append(a.timings["total"])
        firsts.append(a.timings.get("first_token", a.timings["total"]))
    return {"first_token_s_p50": round(statistics.median(firsts), 2), "total_s_p50": round(statistics.median(totals), 2)}


def main() -> None:
    from bench.servers import chroma_server, llama_server

    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=Path("seeds"))
    args = parser.parse_args()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        embedded = Settings().with_(store={"dir": Path(tmp) / "store", "collection": "bench"})
        out["chroma_embedded"] = _ingest_and_query(embedded, args.corpus)
        with chroma_server(Path(tmp) / "server") as url:
            out["chroma_server"] = _ingest_and_query(embedded.with_(store={"chroma_url": url}), args.corpus)
        out["llm_embedded"] = _answers(embedded)
        with llama_server(bundled_model(embedded.llm.cache_dir, progress=False)) as base:
            served = embedded.with_(llm={"base_url": base, "mode": "openai", "model": "qwen"})
            out["llm_server"] = _answers(served)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
