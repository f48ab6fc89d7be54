"""Unanswerable questions written by the bundled language model, as SQuAD 2.0 writes them by hand.

    python -m train.negatives --out /tmp/written.json --minutes 35     # then: train.verifier --extra /tmp/written.json

SQuAD 2.0's unanswerable questions are questions about a paragraph with one detail changed, so that
the paragraph no longer answers them while it still holds a plausible wrong answer (the decoy). This
asks the bundled model to do the same to each answerable question of the verifier's training articles
(never the validation or held-apart ones): change one detail of the question. A rewrite is kept only
when it adds a content word found neither in the original question nor in the paragraph (the changed
detail must be absent, or the paragraph may still answer it). Audited on 75 questions, 2 of the 14
kept were unanswerable, the rest paraphrases: not trained on (docs/verifier.md). Each kept question
is written as SQuAD 2.0 writes an unanswerable one: `is_impossible`, the original answer as its `plausible_answers`, so the
verifier's data (train/verifier_data.py) makes its `ask`, `easy` and `claim` negatives from it.
Rows are appended to OUT.jsonl as they come (a stopped run keeps what it wrote); OUT and
OUT.source.json (origin, licence, the prompt, counts) are written at the end.
"""

import json
import random
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from train import writer

PROMPT = (  # the instructions and the paragraph first: llama.cpp reuses them for the paragraph's next question
    "Rewrite the question at the end so that it still looks like a question about the passage, but the "
    "passage no longer answers it: change exactly one detail (a name, a date, a number, a place, or a word "
    "swapped for its opposite or for a related but different thing). Reply with the new question only.\n\n"
    "Passage: {paragraph}\n\nQuestion: {question}\nAnswer: {answer}"
)


def changed(original: str, rewritten: str, paragraph: str) -> bool:
    """A rewrite is kept when it is a question that adds a content word (stemmed) that neither the question nor
    the paragraph holds, and does not talk about the passage itself."""
    from qa.text import content_words

    rewritten = rewritten.strip()
    if not rewritten.endswith("?") or "passage" in rewritten.lower():
        return False
    return bool(content_words(rewritten) - content_words(original) - content_words(paragraph))


def main(argv: list[str] | None = None) -> int:
    args = writer.arguments(__doc__.splitlines()[0], minutes=30.0).parse_args(argv)
    train_articles = writer.training_articles()
    paragraphs = [(a["title"], p) for a in train_articles for p in a["paragraphs"]]
    random.Random(args.seed).shuffle(paragraphs)
    llm = writer.model(args.threads, context=2048)
    rows_path, done = writer.resume(args.out)
    started, asked = time.monotonic(), 0
    with rows_path.open("a", encoding="utf-8") as rows:
        for title, para in paragraphs:
            if time.monotonic() - started > args.minutes * 60:
                break
            for q in para["qas"]:
                if q.get("is_impossible") or not q.get("answers") or q["id"] in done:
                    continue
                prompt = PROMPT.format(paragraph=para["context"], question=q["question"].strip(), answer=q["answers"][0]["text"])
                reply = llm.create_chat_completion([{"role": "user", "content": prompt}], max_tokens=60, temperature=0.0)
                lines = (reply["choices"][0]["message"]["content"] or "").strip().splitlines()
                rewritten = lines[0].strip() if lines else ""
                row = {"id": q["id"], "title": title, "question": q["question"], "rewritten": rewritten,
                       "kept": changed(q["question"], rewritten, para["context"])}  # fmt: skip
                rows.write(json.dumps(row) + "\n")
                asked += 1
                print(f"{asked} ({time.monotonic() - started:.0f} s) {'kept' if row['kept'] else 'dropped'}: {rewritten}", flush=True)
            rows.flush()
    return write(train_articles, rows_path, args.out)


def write(train_articles: list[dict], rows_path: Path, out: Path) -> int:
    """OUT as SQuAD 2.0: each kept rewrite an unanswerable question on its paragraph, the original answer its decoy."""
    return writer.write(
        train_articles, rows_path, out, field="rewritten", version="written-unanswerable", prompt=PROMPT,
        rewrite=lambda q, new: {"id": f"written-{q['id']}", "question": new, "is_impossible": True, "answers": [],
                                "plausible_answers": q["answers"][:1]},
        origin="unanswerable rewrites of the training articles' answerable SQuAD 2.0 questions by the "
               "bundled Qwen2.5-Coder-1.5B-Instruct Q4_K_M (train/negatives.py, greedy)",
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
