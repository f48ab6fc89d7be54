"""The HTML report: one self-contained file (inline CSS and SVG), readable offline in any browser."""

from html import escape
from pathlib import Path

from eval import plots
from eval.metrics import BASELINE, METRICS
from qa.answer import highlight_segments

CSS = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#111827;padding:0 16px}
h1{font-size:22px;margin-bottom:4px} h2{font-size:18px;margin-top:32px;border-bottom:1px solid #e5e7eb}
.meta{color:#6b7280;font-size:13px} table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{border-bottom:1px solid #e5e7eb;padding:4px 10px;text-align:left} td.n{text-align:right;font-variant-numeric:tabular-nums}
.up{color:#16a34a} .down{color:#dc2626} .q{border:1px solid #e5e7eb;border-radius:6px;padding:10px 14px;margin:12px 0}
.q h3{font-size:14px;margin:0 0 6px} .why{color:#dc2626;font-size:13px} .src{font-size:12px;color:#374151;margin:6px 0 0 12px}
.src blockquote{margin:4px 0 0 0;padding-left:8px;border-left:3px solid #d1d5db;white-space:pre-wrap}
mark{background:#fef08a} .gold{color:#16a34a;font-weight:600} .answer{white-space:pre-wrap;background:#f9fafb;padding:6px}
"""


def _fmt(v, digits: int = 3) -> str:
    if v is None:
        return "–"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _delta(now, before, higher_better: bool) -> str:
    if now is None or before is None:
        return ""
    d = now - before
    if abs(d) < 1e-9:
        return "="
    good = (d > 0) == higher_better
    return f"<span class='{'up' if good else 'down'}'>{d:+.3f}</span>"


def metrics_table(metrics: dict, previous: dict | None) -> str:
    prev = (previous or {}).get("metrics", {})
    base = metrics.get("baseline", {})
    out = ["<table><tr><th>metric</th><th>this run</th><th>previous run</th><th>change</th><th>BM25 baseline</th></tr>"]
    for name, (label, higher) in METRICS.items():
        out.append(
            f"<tr><td>{escape(label)}</td><td class='n'>{_fmt(metrics.get(name))}</td>"
            f"<td class='n'>{_fmt(prev.get(name))}</td><td class='n'>{_delta(metrics.get(name), prev.get(name), higher)}</td>"
            f"<td class='n'>{_fmt(base.get(name)) if name in BASELINE else ''}</td></tr>"
        )
    return "".join(out) + "</table>"


def _marked(src: dict) -> str:
    """The source text (as in a results file) with its highlighted (supporting) sentences marked."""
    pieces = highlight_segments(src["text"], src["start"], src.get("highlights") or [])
    return "".join(f"<mark>{escape(t)}</mark>" if marked else escape(t) for t, marked in pieces)


def _question(row: dict) -> str:
    ref = row["reference"]
    parts = [f"<div class='q'><h3>{escape(row['id'])} · {escape(row['kind'])} · {escape(row['question'])}</h3>"]
    parts.append(f"<div class='why'>{escape('; '.join(row['failures']))}</div>")
    if row["answerable"]:
        ref_answer = " | ".join(ref["answers"])
        parts.append(f"<div class='meta'>reference: {escape(ref_answer)} (key phrase: <b>{escape(ref['key'])}</b>)</div>")
    else:
        parts.append("<div class='meta'>reference: not answered by the documents (should be refused)</div>")
    r, b = row.get("retrieval") or {}, row.get("bm25") or {}
    if r:
        parts.append(f"<div class='meta'>gold passage rank: {_fmt(r.get('rank'))} (BM25: {_fmt(b.get('rank'))})</div>")
    if row["answer"] is not None:
        times = ", ".join(f"{k} {v:.2f} s" for k, v in row["timings"].items())
        parts.append(f"<p class='answer'>{escape(row['answer'])}</p><div class='meta'>{escape(times)}</div>")
    for src in row["sources"]:
        gold = " <span class='gold'>gold</span>" if src.get("gold") else ""
        parts.append(
            f"<div class='src'>[{src['n']}] {escape(src['document'])}, characters {src['start']}-{src['end']}, "
            f"score {src['score']:.2f}{gold}<blockquote>{_marked(src)}</blockquote></div>"
        )
    if not row["sources"] and row["retrieved"]:
        shown = ", ".join(
            f"{escape(p['document'])} {p['start']}-{p['end']} ({p['score']:.2f}{', gold' if p['gold'] else ''})"
            for p in row["retrieved"][:4]
        )
        parts.append(f"<div class='src'>retrieved, none cited: {shown}</div>")
    return "".join(parts) + "</div>"


def _all_questions(rows: list[dict]) -> str:
    out = ["<table><tr><th>id</th><th>kind</th><th>rank</th><th>BM25 rank</th><th>refused</th><th>key</th>"
           "<th>F1</th><th>cit. P</th><th>cit. R</th><th>total s</th><th>question</th></tr>"]  # fmt: skip
    for r in rows:
        s = r["scores"]
        out.append(
            f"<tr><td>{escape(r['id'])}</td><td>{escape(r['kind'])}</td>"
            f"<td class='n'>{_fmt((r.get('retrieval') or {}).get('rank'))}</td>"
            f"<td class='n'>{_fmt((r.get('bm25') or {}).get('rank'))}</td><td>{_fmt(r['refused'])}</td>"
            f"<td class='n'>{_fmt(s.get('key_present'), 0)}</td><td class='n'>{_fmt(s.get('f1'), 2)}</td>"
            f"<td class='n'>{_fmt(s.get('citation_precision'), 2)}</td><td class='n'>{_fmt(s.get('citation_recall'), 2)}</td>"
            f"<td class='n'>{_fmt(r['timings'].get('total'), 2)}</td><td>{escape(r['question'])}</td></tr>"
        )
    return "".join(out) + "</table>"


def render(summary: dict, rows: list[dict], previous: dict | None = None) -> str:
    m = summary["metrics"]
    ratios = [name for name, (_, higher) in METRICS.items() if higher]
    prev = (previous or {}).get("metrics", {})
    series = {
        "this run": [m.get(n) for n in ratios],
        "previous run": [prev.get(n) for n in ratios],
        "BM25 baseline": [m["baseline"].get(n) if n in BASELINE else None for n in ratios],
    }
    bars = plots.metric_bars([METRICS[n][0] for n in ratios], series, "metrics against the previous run and BM25")
    timings = {
        label: [r["timings"][key] for r in rows if key in r["timings"]]
        for key, label in (("sources", "time to sources"), ("first_token", "time to first token"), ("total", "total time"))
    }
    failed = [r for r in rows if r["failures"]]
    s = summary.get("settings", {})
    compared = (
        f"previous run: {escape(previous['started'])} ({escape(previous.get('results', ''))})"
        if previous else "no previous run of these questions"
    )  # fmt: skip
    head = (
        f"<h1>Eval report · {escape(summary['set'])}</h1>"
        f"<div class='meta'>{escape(summary['started'])} · {m['questions']} questions ({m['answerable']} answerable, "
        f"{m['unanswerable']} unanswerable) · {summary['seconds']:.0f} s · top_k {s.get('top_k')}, chunk_size "
        f"{s.get('chunk_size')}, min_score {s.get('min_score')}, hybrid {s.get('hybrid')} · {escape(summary.get('source', ''))} · code {escape(str(summary.get('revision')))}<br>"
        f"{compared}</div>"
    )
    sections = [
        head,
        "<h2>Metrics</h2>",
        bars,
        metrics_table(m, previous),
        "<p class='meta'>Retrieval metrics rank the gold passage among the top 10 chunks; hit@k uses k = top_k, the "
        "passages the model sees. Answer and citation metrics are defined in docs/evaluation.md.</p>",
        *_tradeoff(summary, rows),
        "<h2>Latency</h2>",
        plots.latency_histograms(timings, "latency distribution") if any(timings.values()) else "<p>no answers timed</p>",
        f"<h2>Failed questions ({len(failed)} of {len(rows)})</h2>",
        *(_question(r) for r in failed),
        "<h2>All questions</h2><details><summary>show the table</summary>",
        _all_questions(rows),
        "</details>",
    ]
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Eval report · {escape(summary['set'])}</title><style>{CSS}</style></head><body>"
        + "".join(sections)
        + "</body></html>"
    )


def _tradeoff(summary: dict, rows: list[dict]) -> list[str]:
    from eval.metrics import check_threshold, refusal_curve

    threshold = check_threshold(rows)
    if threshold is None:
        return []
    curve = plots.tradeoff_curves({summary["set"]: refusal_curve(rows)}, threshold, "refusal trade-off of this run")
    return [
        "<h2>Refusal trade-off</h2>",
        curve,
        "<p class='meta'>As the answerhood threshold (qa.answerhood) moves from 0 to 1: the share of unanswerable "
        "questions refused against the share of answerable ones refused. Refusals before the check count at every "
        "threshold. Ringed: the threshold this run used.</p>",
    ]


def write(path: Path, summary: dict, rows: list[dict], previous: dict | None = None) -> Path:
    path.write_text(render(summary, rows, previous), encoding="utf-8")
    return path
