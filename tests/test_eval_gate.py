"""The CI gate: a fixed subset of the seed set through the real pipeline must meet eval/thresholds.json.

Same check as `qa eval --gate`. When a threshold fails, the message lists the failed questions
with their answers: compare with `qa eval --gate` before and after the change.
"""

import json

import pytest

from eval import gate, references, runner
from eval.metrics import aggregate

pytestmark = [pytest.mark.llm, pytest.mark.timeout(1800)]  # 16 questions through the model on 2 cores


def test_gate_subset_meets_the_thresholds(seed_settings):
    thresholds = gate.load()
    refs = references.select(references.load("seed").references, thresholds["questions"])
    rows = runner.run(refs, seed_settings, progress=False)
    measured = aggregate(rows)
    print(json.dumps({k: v for k, v in measured.items() if k in thresholds["at_least"] or k in thresholds["at_most"]}))
    failed = gate.check(measured, thresholds)
    details = [f"{r['id']} {r['question']!r}: {'; '.join(r['failures'])} -> {r['answer']!r}" for r in rows if r["failures"]]
    assert not failed, "\n".join(failed + ["failed questions:"] + details)
