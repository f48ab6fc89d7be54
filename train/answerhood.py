"""Fit the answerhood decision (qa.answerhood) from recorded eval runs, and check the code holds it.

    python -m train.answerhood --collect RUN/results.jsonl ...   # add the runs' scores to the data file
    python -m train.answerhood                                   # fit, print WEIGHTS/BIAS/MEANS/THRESHOLD
    python -m train.answerhood --check                           # exit 1 unless qa/answerhood.py holds the fit
    python -m train.answerhood --draw RUN/results.jsonl ...      # the trade-off of whole runs, one curve each

The data file (train/answerhood.jsonl) holds one row per question of the runs: its set, whether the
question is answerable (the label), and the scores of an answer that reached the check, or `before`
(why it was refused before the check, or null where it was answered unchecked). It holds the validation article's run only
(eval/data/squad2/squad2.validation.json, never trained on by the verifier): the held-apart sets judge. A logistic regression (scikit-learn, L2, C=1) is
fitted on the rows with scores, standardised, and written back in raw units. The operating point is the
threshold that refuses the most unanswerable questions while refusing at most `--budget` (BUDGET) of
all the answerable ones, pooled over every set; those refused before the check count as refused at
every threshold. The trade-off curve per set (or with --draw of whole runs) is drawn to
docs/answerhood.svg with the operating point marked.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from qa import answerhood

DATA = Path(__file__).with_name("answerhood.jsonl")
FIGURE = Path(__file__).resolve().parents[1] / "docs" / "answerhood.svg"
# At most this share of all answerable questions may be refused, before the check or by it. A wrong answer
# shown is the worse mistake: 0.15, tried first, answered more unanswerable questions than the check before
# it did (docs/answerhood.md). The whole curve is there.
BUDGET = 0.20


def collect(results: list[Path], data: Path = DATA) -> int:
    """Append the checked answers of recorded runs to `data` (rows already there, by set and id, are kept)."""
    rows = read(data)
    seen = {(r["set"], r["id"]) for r in rows}
    added = 0
    for path in results:
        name = _run_name(path)
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            check = row.get("check") or {}
            if (name, row["id"]) in seen:
                continue
            if check.get("method") != "verifier":
                before = row.get("refusal") if row.get("refused") else None
                rows.append({"set": name, "id": row["id"], "answerable": row["answerable"], "before": before})
            elif all(k in check["scores"] for k in answerhood.FEATURES):
                scores = {k: round(float(check["scores"][k]), 4) for k in answerhood.FEATURES}
                rows.append({"set": name, "id": row["id"], "answerable": row["answerable"], "scores": scores})
            else:
                continue  # an answer the model gave no token scores for (a server's)
            seen.add((name, row["id"]))
            added += 1
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return added


def read(data: Path = DATA) -> list[dict]:
    if not data.exists():
        return []
    return [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]


def fit(rows: list[dict], budget: float = BUDGET) -> dict:
    """The decision's numbers, fitted on `rows`: weights, bias, means, threshold, and the figures behind them."""
    from sklearn.linear_model import LogisticRegression

    fixed = [r for r in rows if "scores" not in r]
    rows = [r for r in rows if "scores" in r]
    names = answerhood.FEATURES
    x = np.array([[r["scores"][k] for k in names] for r in rows], dtype=float)
    y = np.array([bool(r["answerable"]) for r in rows])
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / std, y)
    weights = model.coef_[0] / std
    bias = float(model.intercept_[0] - (model.coef_[0] * mean / std).sum())
    p = 1 / (1 + np.exp(-(x @ weights + bias)))
    threshold = operating_point(p, y, budget, fixed)
    return {
        "WEIGHTS": {k: round(float(w), 4) for k, w in zip(names, weights)},
        "BIAS": round(bias, 4),
        "MEANS": {k: round(float(m), 4) for k, m in zip(names, mean)},
        "THRESHOLD": threshold,
        "rows": len(rows),
        "auc": round(_auc(p, y), 3),
    }


def operating_point(p: np.ndarray, y: np.ndarray, budget: float, fixed: list[dict] = ()) -> float:
    """The highest threshold (2 decimals) that refuses at most `budget` of the answerable questions: those
    scored (`p`, `y`), and the `fixed` rows, refused (or answered) before the check at every threshold."""
    answerable = [r for r in fixed if r["answerable"]]
    before = sum(r["before"] is not None for r in answerable)
    total = int(y.sum()) + len(answerable)
    best = 0.0
    for t in np.round(np.arange(0.0, 1.0, 0.01), 2):
        if (before + int((p[y] < t).sum())) / max(total, 1) <= budget:
            best = float(t)
    return best


def _auc(p: np.ndarray, y: np.ndarray) -> float:
    pos, neg = p[y], p[~y]
    if not len(pos) or not len(neg):
        return float("nan")
    return float(((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()))


def curves(rows: list[dict]) -> dict[str, list[tuple[float, float, float]]]:
    """Per set: (threshold, unanswerable refused, answerable refused) over all its questions."""
    out: dict[str, list[tuple[float, float, float]]] = {}
    for name in sorted({r["set"] for r in rows}):
        mine = [r for r in rows if r["set"] == name]
        # refused before the check: refused at every threshold (p below all); answered unchecked: at none
        p = np.array([answerhood.probability(r["scores"]) if "scores" in r else (2.0 if r["before"] is None else -1.0)
                      for r in mine])  # fmt: skip
        y = np.array([bool(r["answerable"]) for r in mine])
        out[name] = [
            (float(t), float((p[~y] < t).mean()) if (~y).any() else float("nan"), float((p[y] < t).mean()) if y.any() else float("nan"))
            for t in np.round(np.arange(0.0, 1.001, 0.02), 2)
        ]
    return out


def run_curves(results: list[Path]) -> dict[str, list[tuple[float, float, float]]]:
    """Per recorded run (named by its set and style): the refusal trade-off over all its questions."""
    from eval.compare import read_rows
    from eval.metrics import refusal_curve

    return {_run_name(path): refusal_curve(read_rows(path)) for path in results}


def _run_name(results: Path) -> str:
    """A recorded run's set and answer style ("seed sentence"): the same question in two styles is two rows."""
    summary = json.loads((results.parent / "summary.json").read_text(encoding="utf-8"))
    style = summary.get("settings", {}).get("answer", {}).get("style", "")
    return f"{summary['set']} {style}".strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collect", nargs="+", type=Path, metavar="RESULTS", help="add recorded runs to the data file")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--budget", type=float, default=BUDGET, help=f"answerable refused at most this share (default {BUDGET})")
    parser.add_argument("--check", action="store_true", help="exit 1 unless qa/answerhood.py holds what this fit gives")
    parser.add_argument("--figure", type=Path, default=FIGURE, help="where the trade-off curves are drawn")
    parser.add_argument("--draw", nargs="+", type=Path, metavar="RESULTS", help="draw the trade-off of these runs instead")
    args = parser.parse_args(argv)
    if args.collect:
        print(f"added {collect(args.collect, args.data)} rows to {args.data}")
    rows = read(args.data)
    if not rows:
        print(f"error: no rows in {args.data}: collect recorded runs first (--collect)", file=sys.stderr)
        return 2
    fitted = fit(rows, args.budget)
    if args.check:
        code = {"WEIGHTS": answerhood.WEIGHTS, "BIAS": answerhood.BIAS, "MEANS": answerhood.MEANS, "THRESHOLD": answerhood.THRESHOLD}
        differ = [k for k in code if code[k] != fitted[k]]
        for k in differ:
            print(f"{k}: code has {code[k]}, the fit gives {fitted[k]}", file=sys.stderr)
        return 1 if differ else 0
    print(f"# {fitted['rows']} rows, AUC {fitted['auc']} (in-sample)")
    for k in ("WEIGHTS", "BIAS", "MEANS", "THRESHOLD"):
        print(f"{k} = {fitted[k]!r}")
    from eval.plots import tradeoff_curves

    drawn = run_curves(args.draw) if args.draw else curves(rows)
    title = "refusal trade-off per run" if args.draw else "answerhood trade-off per set (refusals before the check counted)"
    args.figure.write_text(tradeoff_curves(drawn, answerhood.THRESHOLD, title), encoding="utf-8")
    print(f"figure: {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
