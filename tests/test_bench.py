"""The benchmark runs end to end on tiny corpora and writes a well-formed results file (no time asserts)."""

import json
import subprocess
import sys

import pytest

from bench.stats import targets


def _positive(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0


@pytest.mark.slow
def test_quick_bench_writes_a_well_formed_results_file(tmp_path):
    out = tmp_path / "results.json"
    cmd = [sys.executable, "-m", "cli", "bench", "--quick", "--no-llm", "--out", str(out), "--work", str(tmp_path / "w")]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "| target |" in run.stdout and str(out) in run.stdout
    results = json.loads(out.read_text())
    m = results["machine"]
    assert m["cores"] >= 1 and m["cpu"] and m["python"] and m["packages"]["chromadb"] and m["date"]
    assert set(results["phases"]) == {"ingest", "retrieval"}
    assert set(results["ingest"]) == {"seed", "200"}
    for name, row in results["ingest"].items():
        for side in ("ours", "plain"):
            assert _positive(row[side]["chunks"]) and _positive(row[side]["seconds"]) and _positive(row[side]["chunks_per_s"])
        assert _positive(row["ratio"])
        again = results["reindex"][name]
        assert again["embedded"] == 0 and again["chunks"] == row["ours"]["chunks"]  # nothing re-embedded
        assert _positive(again["seconds"]) and 0 < again["share"]
    assert results["ingest"]["200"]["ours"]["chunks"] >= 100  # the generated corpus is about the size asked
    whole = results["ingest_process"]["seed"]  # `qa index` and the plain pipeline as whole processes
    assert whole["characters"] > 1000 and whole["documents"] >= 1
    for side in ("ours", "plain"):
        assert _positive(whole[side]["chunks"]) and _positive(whole[side]["seconds"]) and _positive(whole[side]["chars_per_s"])
    assert _positive(whole["ratio"]) and "| whole process |" in run.stdout
    assert {"seed", "gen-200"} <= set(results["retrieval"])
    for row in results["retrieval"].values():
        assert _positive(row["p50_ms"]) and row["p95_ms"] >= row["p50_ms"] and row["queries"] == 10
    names = {t["target"]: t for t in results["targets"]}
    assert names["unchanged re-index: chunks embedded"]["met"] is True
    assert names["web chat peak RSS"]["value"] is None  # not run with --no-llm


def test_unknown_phase_is_a_one_line_error(tmp_path):
    from tests.stores import one_line_error, qa_main

    line = one_line_error(qa_main("bench", "--only", "nope", "--out", str(tmp_path / "r.json"),
                                  store_dir=tmp_path / "store", collection="x"))  # fmt: skip
    assert "unknown phase" in line


def test_targets_are_judged_from_the_figures():
    results = {
        "ingest": {"xquad": {"ours": {"chunks": 459}, "ratio": 2.5}},
        "reindex": {"xquad": {"embedded": 0, "share": 0.05}},
        "retrieval": {"gen-10000": {"chunks": 10_100, "p50_ms": 12.0}},
        "serve": {"peak_rss_mb": 4000.0},
    }
    got = {t["target"]: t["met"] for t in targets(results)}
    assert got["ingest throughput vs plain pipeline"] is True
    assert got["unchanged re-index: share of full index time"] is False
    assert got["hybrid retrieval p50 at 10,000 chunks"] is True
    assert got["hybrid retrieval p50 at 100,000 chunks"] is None
    assert got["web chat peak RSS"] is False


@pytest.mark.llm
def test_bench_llm_phases_on_the_seed(tmp_path):
    out = tmp_path / "results.json"
    cmd = [sys.executable, "-m", "cli", "bench", "--quick", "--only", "answers,cold", "--out", str(out),
           "--work", str(tmp_path / "w")]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads(out.read_text())
    a = results["answers"]
    assert a["questions"] == 2 and _positive(a["sources_s"]["p50"]) and _positive(a["total_s"]["p95"])
    assert _positive(a["tokens_per_s"]) and _positive(a["raw_tokens_per_s"])
    c = results["cold_start"]
    assert _positive(c["to_first_token_s"]) and c["imports_gradio"] is False


def test_quick_scale_bench_against_real_servers(tmp_path):
    """`qa bench --scale --quick`: a Chroma server and the embeddings server started, every figure written."""
    out = tmp_path / "results.json"
    cmd = [sys.executable, "-m", "cli", "bench", "--scale", "--quick", "--out", str(out), "--work", str(tmp_path / "w")]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stderr[-2000:]
    scale = json.loads(out.read_text())["scale"]
    ingest = scale["ingest"]
    assert ingest["in_process"]["chunks"] == ingest["server"]["chunks"] >= 20
    assert _positive(ingest["in_process"]["chunks_per_s"]) and _positive(ingest["server"]["chunks_per_s"])
    row = scale["gen-200"]
    assert row["chunks"] == 200 and row["queries"] == 10 and _positive(row["p50_ms"])
    assert _positive(row["keyword"]["arrays_mb"]) and _positive(row["keyword"]["disk_mb"])
