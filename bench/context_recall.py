"""Does the short prompt keep the answer? For each budget, the share of answerable questions whose
reference answer is still in what the model reads, with the prompt's size. No language model runs.

    .venv/bin/python -m bench.context_recall --set seed --budgets 0,100,150,200
    .venv/bin/python -m bench.context_recall --set ../shared/data/xquad/xquad.en.json --sample 200

Budget 0 is the whole passages: its recall is the ceiling that retrieval sets.
"""

import argparse
import json
import sys

from eval.metrics import normalize


def measure(refs, settings, budgets: list[int]) -> dict:
    import qa
    from qa.excerpts import tokens

    pipeline = qa.load(settings)
    out = {b: {"kept": 0, "tokens": []} for b in budgets}
    asked = 0
    for ref in refs:
        if not ref.answerable:
            continue
        asked += 1
        passages = pipeline.retrieve(ref.question)
        for b in budgets:
            text = "\n".join(e.text for e in pipeline.excerpts(ref.question, passages, b))
            out[b]["tokens"].append(tokens(text))
            out[b]["kept"] += any(normalize(a) in normalize(text) for a in (*ref.answers, ref.key) if a)
    return {
        str(b): {"answer_kept": round(v["kept"] / max(asked, 1), 3),
                 "passage_tokens_mean": round(sum(v["tokens"]) / max(len(v["tokens"]), 1), 1)}
        for b, v in out.items()
    } | {"questions": asked}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    from eval import references, runner
    from eval.cli import runs_folder
    from qa.settings import get_settings

    p = argparse.ArgumentParser(prog="python -m bench.context_recall", description=__doc__)
    p.add_argument("--set", default="seed")
    p.add_argument("--sample", type=int)
    p.add_argument("--budgets", default="0,100,150,200,250")
    args = p.parse_args(argv)
    refset = references.load(args.set)
    refs = references.sample(refset.references, args.sample)
    runs = runs_folder()  # the eval's own store, so both index each set once
    settings = get_settings().with_(store={"dir": runs / "store", "collection": f"eval-{refset.name}"})
    runner.prepare(refset, settings, runs / "cache")
    result = measure(refs, settings, [int(b) for b in args.budgets.split(",")])
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
