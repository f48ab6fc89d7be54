"""Does a question get the same answer whatever ran before it in the process?

    .venv/bin/python -m bench.determinism [--questions N]

Temperature is 0 and sampling greedy, but llama.cpp reuses the key/value cache of the longest
prompt prefix shared with the previous call, so the same prompt can be evaluated in different
batches depending on what came before. This asks each seed question twice in one process: first
after a different question, then right after itself (its whole prompt cached), and prints, for
each, whether the two texts agree, as one JSON object.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    import qa
    from bench.llm import seed_questions

    parser = argparse.ArgumentParser(prog="python -m bench.determinism", description=__doc__)
    parser.add_argument("--questions", type=int, default=8)
    args = parser.parse_args(argv)
    questions = seed_questions(args.questions)
    seeds = Path(__file__).resolve().parents[1] / "seeds"
    with tempfile.TemporaryDirectory() as tmp:
        settings = qa.get_settings(store={"dir": Path(tmp) / "store", "collection": "determinism"})
        qa.index(seeds, settings=settings, progress=False)
        pipeline = qa.load(settings)
        rows = []
        for i, q in enumerate(questions):
            pipeline.ask(questions[i - 1])  # another question's prompt is what the cache holds
            after_other = pipeline.ask(q).text
            after_itself = pipeline.ask(q).text
            rows.append({"question": q, "same": after_other == after_itself, "after_other": after_other,
                         "after_itself": after_itself})  # fmt: skip
            print(f"{'same' if rows[-1]['same'] else 'DIFFERENT'}: {q}", file=sys.stderr)
    print(json.dumps({"questions": len(rows), "different": sum(not r["same"] for r in rows), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
