"""Compare two results files: the aggregated metrics side by side, and what improved or regressed per question."""

import json
from pathlib import Path

from eval.errors import EvalError
from eval.metrics import BASELINE, METRICS, aggregate

_FIELDS = {"id", "question", "answerable", "refused", "scores", "retrieval"}


def read_rows(path: Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise EvalError(f"No such results file: {path}")
    rows = []
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if not isinstance(row, dict) or not _FIELDS <= row.keys():
                    raise ValueError(f"a row lacks {', '.join(sorted(_FIELDS - set(row or ())))}")
                rows.append(row)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
        raise EvalError(f"{path} is not a results file of qa eval ({type(e).__name__}: {e})") from None
    if not rows:
        raise EvalError(f"{path} holds no results")
    return rows


def _rank(row: dict) -> int | None:
    return (row.get("retrieval") or {}).get("rank")


def changes(a: dict, b: dict) -> list[tuple[str, bool]]:
    """What changed for one question from run A to run B, each with True when it is an improvement."""
    out: list[tuple[str, bool]] = []
    ra, rb = _rank(a), _rank(b)
    if ra != rb and (a.get("retrieval") and b.get("retrieval")):
        better = rb is not None and (ra is None or rb < ra)
        out.append((f"gold rank {ra or '-'} -> {rb or '-'}", better))
    if a["refused"] != b["refused"] and None not in (a["refused"], b["refused"]):
        verb = "now refused" if b["refused"] else "now answered"
        out.append((verb, b["refused"] != b["answerable"]))
    sa, sb = a["scores"], b["scores"]
    for key, label in (("key_present", "key phrase"), ("f1", "F1"), ("citation_precision", "citation precision"),
                       ("citation_recall", "citation recall")):  # fmt: skip
        va, vb = sa.get(key), sb.get(key)
        if va is not None and vb is not None and abs(va - vb) > 1e-9:
            out.append((f"{label} {va:.2f} -> {vb:.2f}", vb > va))
    return out


def compare(path_a: Path, path_b: Path) -> dict:
    rows_a, rows_b = read_rows(path_a), read_rows(path_b)
    by_a = {r["id"]: r for r in rows_a}
    common = [r for r in rows_b if r["id"] in by_a]
    if not common:
        raise EvalError(f"{path_a} and {path_b} share no question")
    per_question = []
    for b in common:
        a = by_a[b["id"]]
        found = changes(a, b)
        if not found:
            continue
        good, bad = any(ok for _, ok in found), any(not ok for _, ok in found)
        verdict = "mixed" if good and bad else "improved" if good else "regressed"
        per_question.append({"id": b["id"], "question": b["question"], "verdict": verdict,
                             "changes": [c for c, _ in found]})  # fmt: skip
    ids = {r["id"] for r in common}
    agg_a = aggregate([r for r in rows_a if r["id"] in ids])
    agg_b = aggregate(common)
    return {
        "a": str(path_a),
        "b": str(path_b),
        "questions": len(common),
        "only_in_a": sorted(set(by_a) - ids),
        "only_in_b": sorted(r["id"] for r in rows_b if r["id"] not in by_a),
        "metrics": {name: {"a": agg_a.get(name), "b": agg_b.get(name)} for name in METRICS},
        "baseline": {name: {"a": agg_a["baseline"][name], "b": agg_b["baseline"][name]} for name in BASELINE},
        "improved": [q for q in per_question if q["verdict"] == "improved"],
        "regressed": [q for q in per_question if q["verdict"] == "regressed"],
        "mixed": [q for q in per_question if q["verdict"] == "mixed"],
    }


def _num(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def format_text(result: dict) -> str:
    lines = [f"A: {result['a']}", f"B: {result['b']}", f"{result['questions']} questions in both", ""]
    lines.append(f"{'metric':34} {'A':>8} {'B':>8} {'change':>8}")
    for name, (label, higher) in METRICS.items():
        a, b = result["metrics"][name]["a"], result["metrics"][name]["b"]
        change = "" if a is None or b is None else f"{b - a:+.3f}"
        if change and abs(b - a) > 1e-9:
            change += " better" if (b > a) == higher else " worse"
        lines.append(f"{label:34} {_num(a):>8} {_num(b):>8} {change:>8}")
    for verdict in ("improved", "regressed", "mixed"):
        found = result[verdict]
        lines += ["", f"{verdict} ({len(found)}):"]
        lines += [f"  {q['id']}: {q['question'][:70]} | {'; '.join(q['changes'])}" for q in found]
    for side in ("a", "b"):
        if result[f"only_in_{side}"]:
            lines.append(f"\nonly in {side.upper()}: {', '.join(result[f'only_in_{side}'])}")
    return "\n".join(lines)
