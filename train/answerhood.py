"""Fit the answerhood decision (qa.answerhood) from recorded eval runs, and check the code holds it.

    python -m train.answerhood --collect RUN/results.jsonl ...   # add the runs' scores to the data file
    python -m train.answerhood                                   # fit, print WEIGHTS/BIAS/MEANS/THRESHOLD
    python -m train.answerhood --check                           # exit 1 unless qa/answerhood.py holds the fit
    python -m train.answerhood --draw RUN/results.jsonl ...      # the trade-off of whole runs, one curve each

The data file (train/answerhood.jsonl) holds one row per answer that reached the check: its set, whether
the question is answerable (the label) and the scores. It holds the validation article's run only
(eval/data/squad2/squad2.validation.json, never trained on by the verifier): the held-apart sets judge. A logistic regression (scikit-learn, L2, C=1) is
fitted on standardised scores and written back in raw units. The operating point is the threshold that
refuses the most unanswerable questions while wrongly refusing at most `--budget` (BUDGET) of the
answerable ones that reached the check, pooled over every set. The trade-off curve per set (of the
data file's rows, or with --draw of whole runs, where refusals before the check count at every
threshold) is drawn to docs/answerhood.svg with the operating point marked.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from qa import answerhood

DATA = Path(__file__).with_name("answerhood.jsonl")
FIGURE = Path(__file__).resolve().parents[1] / "docs" / "answerhood.svg"
# At most this share of the answerable questions that reach the check may be refused by it: the citations
# before it already refuse some, and every point beyond costs right answers (docs/answerhood.md).
BUDGET = 0.05


def collect(results: list[Path], data: Path = DATA) -> int:
    """Append the checked answers of recorded runs to `data` (rows already there, by set and id, are kept)."""
    rows = read(data)
    seen = {(r["set"], r["id"]) for r in rows}
    added = 0
    for path in results:
        name = _run_name(path)
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            check = row.get("check")
            if not check or check.get("method") != "verifier" or (name, row["id"]) in seen:
                continue
            if not all(k in check["scores"] for k in answerhood.FEATURES):
                continue  # an answer the model gave no token scores for (a server's)
            scores = {k: round(float(check["scores"][k]), 4) for k in answerhood.FEATURES if k in check["scores"]}
            rows.append({"set": name, "id": row["id"], "answerable": row["answerable"], "scores": scores})
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

    names = answerhood.FEATURES
    x = np.array([[r["scores"][k] for k in names] for r in rows], dtype=float)
    y = np.array([bool(r["answerable"]) for r in rows])
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / std, y)
    weights = model.coef_[0] / std
    bias = float(model.intercept_[0] - (model.coef_[0] * mean / std).sum())
    p = 1 / (1 + np.exp(-(x @ weights + bias)))
    threshold = operating_point(p, y, budget)
    return {
        "WEIGHTS": {k: round(float(w), 4) for k, w in zip(names, weights)},
        "BIAS": round(bias, 4),
        "MEANS": {k: round(float(m), 4) for k, m in zip(names, mean)},
        "THRESHOLD": threshold,
        "rows": len(rows),
        "auc": round(_auc(p, y), 3),
    }


def operating_point(p: np.ndarray, y: np.ndarray, budget: float) -> float:
    """The highest threshold (2 decimals) that refuses at most `budget` of the answerable rows."""
    best = 0.0
    for t in np.round(np.arange(0.0, 1.0, 0.01), 2):
        if (p[y] < t).mean() <= budget:
            best = float(t)
    return best


def _auc(p: np.ndarray, y: np.ndarray) -> float:
    pos, neg = p[y], p[~y]
    if not len(pos) or not len(neg):
        return float("nan")
    return float(((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()))


def curves(rows: list[dict]) -> dict[str, list[tuple[float, float, float]]]:
    """Per set: (threshold, unanswerable refused, answerable refused) over the rows that reached the check."""
    out: dict[str, list[tuple[float, float, float]]] = {}
    for name in sorted({r["set"] for r in rows}):
        mine = [r for r in rows if r["set"] == name]
        p = np.array([answerhood.probability(r["scores"]) for r in mine])
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
    title = "refusal trade-off per run" if args.draw else "answerhood trade-off per set (rows that reached the check)"
    args.figure.write_text(tradeoff_curves(drawn, answerhood.THRESHOLD, title), encoding="utf-8")
    print(f"figure: {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
