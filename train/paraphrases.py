"""The training questions asked in other words, by the bundled language model: people do not copy the text.

    python -m train.paraphrases --out /tmp/paraphrased.json --minutes 15    # then: train.verifier --extra /tmp/paraphrased.json

SQuAD 2.0's questions were written by people looking at the paragraph, and they borrow its words. Users
do not: "What share of its land has Kyiv already surrendered to Moscow?" asks what the article writes as
"Ukraine has lost one fifth of its territory". Each question of the verifier's training articles
(never the validation or held-apart ones), answerable or not, goes to the bundled model alone, without
its paragraph (so it cannot copy the paragraph's words or its answer), with the instruction to ask it
another way. The label is kept: an unanswerable question asked in other words is still unanswerable.
A paraphrase is kept when it is a question that changes at least one content word (qa.text).
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

PROMPT = (
    "Ask this question in other words, as someone who has not read the text would ask it: use synonyms "
    "and a different word order, and refer to people, places and things another way (by a title, a "
    "description or another name). Keep exactly the same meaning. Reply with the new question only.\n\n"
    "Question: {question}"
)


def reworded(original: str, paraphrase: str) -> bool:
    """A paraphrase is kept when it is a question whose content words (stemmed) are not the original's."""
    from qa.text import content_words

    paraphrase = paraphrase.strip()
    return paraphrase.endswith("?") and content_words(paraphrase) != content_words(original)


def main(argv: list[str] | None = None) -> int:
    args = writer.arguments(__doc__.splitlines()[0], minutes=15.0).parse_args(argv)
    train_articles = writer.training_articles()
    questions = [q for a in train_articles for para in a["paragraphs"] for q in para["qas"]]
    random.Random(args.seed).shuffle(questions)
    llm = writer.model(args.threads, context=512)
    rows_path, done = writer.resume(args.out)
    started, asked = time.monotonic(), 0
    with rows_path.open("a", encoding="utf-8") as rows:
        for q in questions:
            if time.monotonic() - started > args.minutes * 60:
                break
            if q["id"] in done:
                continue
            reply = llm.create_chat_completion([{"role": "user", "content": PROMPT.format(question=q["question"].strip())}],
                                               max_tokens=60, temperature=0.0)  # fmt: skip
            lines = (reply["choices"][0]["message"]["content"] or "").strip().splitlines()
            paraphrase = lines[0].strip() if lines else ""
            row = {"id": q["id"], "question": q["question"], "paraphrase": paraphrase, "kept": reworded(q["question"], paraphrase)}
            rows.write(json.dumps(row) + "\n")
            rows.flush()
            asked += 1
            print(f"{asked} ({time.monotonic() - started:.0f} s) {'kept' if row['kept'] else 'dropped'}: {paraphrase}", flush=True)
    return write(train_articles, rows_path, args.out)


def write(train_articles: list[dict], rows_path: Path, out: Path) -> int:
    """OUT in SQuAD 2.0 format: each kept paraphrase in its question's place, with its answers and label."""
    return writer.write(
        train_articles, rows_path, out, field="paraphrase", version="paraphrased", prompt=PROMPT,
        rewrite=lambda q, new: {**q, "id": f"paraphrase-{q['id']}", "question": new},
        origin="the training articles' SQuAD 2.0 questions asked in other words by the bundled "
               "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (train/paraphrases.py, greedy, without the paragraph)",
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
