"""The CI gate: a fixed fast subset of the seed set, and the thresholds its metrics must meet.

Thresholds live in eval/thresholds.json. They start at what was measured (rounded down to two
decimals: the model runs at temperature 0, so runs repeat) and are raised as the product improves;
lowering one needs its reason in the commit message.
"""

import json
from pathlib import Path

from eval.metrics import METRICS

THRESHOLDS = Path(__file__).resolve().parent / "thresholds.json"


def load(path: Path = THRESHOLDS) -> dict:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    unknown = (set(data.get("at_least", {})) | set(data.get("at_most", {}))) - set(METRICS)
    if unknown:
        raise ValueError(f"{path}: unknown metrics {', '.join(sorted(unknown))}")
    return data


def check(metrics: dict, thresholds: dict) -> list[str]:
    """One message per metric on the wrong side of its threshold (an empty list passes)."""
    failed = []
    for name, floor in thresholds.get("at_least", {}).items():
        value = metrics.get(name)
        if value is None or value < floor:
            failed.append(f"{METRICS[name][0]} ({name}) is {_show(value)}, below its threshold {floor}")
    for name, ceiling in thresholds.get("at_most", {}).items():
        value = metrics.get(name)
        if value is None or value > ceiling:
            failed.append(f"{METRICS[name][0]} ({name}) is {_show(value)}, above its threshold {ceiling}")
    return failed


def _show(v) -> str:
    return "not measured" if v is None else f"{v:.3f}"
