"""The bundled language model as a writer of training questions (train/negatives.py, train/paraphrases.py)."""

import argparse
import json
from pathlib import Path

from train import verifier as tv
from train import verifier_data as vd


def arguments(description: str, minutes: float) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", type=Path, required=True, help="the SQuAD-format file to write")
    p.add_argument("--minutes", type=float, default=minutes, help="stop asking after this long")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    return p


def training_articles() -> list[dict]:
    """The verifier's training articles of SQuAD 2.0: never the validation or held-apart ones."""
    path, _, _ = tv.SOURCES["squad2"]
    return vd.split(vd.load(path), tv.HELD_APART | tv.VALIDATION)[0]


def resume(out: Path) -> tuple[Path, set[str]]:
    """OUT.jsonl, where rows are appended as they come, and the ids it already holds (a stopped run goes on)."""
    rows_path = out.with_suffix(".jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    return rows_path, {json.loads(line)["id"] for line in rows_path.read_text().splitlines()} if rows_path.exists() else set()


def model(threads: int, context: int):
    """The bundled model in llama.cpp, as the product loads it."""
    from llama_cpp import Llama

    from qa.model_file import bundled_model
    from qa.settings import LLMSettings

    return Llama(model_path=str(bundled_model(LLMSettings().cache_dir)), n_ctx=context, n_threads=threads,
                 n_threads_batch=threads, verbose=False)  # fmt: skip


def write(train_articles: list[dict], rows_path: Path, out: Path, *, field: str, rewrite, version: str, origin: str,
          prompt: str) -> int:
    """OUT in SQuAD 2.0 format from the rows of OUT.jsonl: `rewrite(question, written)` for each question whose
    row was kept (`field` holds what the model wrote); OUT.source.json says where it came from."""
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()]
    kept = {row["id"]: row[field] for row in rows if row["kept"]}
    data = []
    for article in train_articles:
        paragraphs = []
        for para in article["paragraphs"]:
            qas = [rewrite(q, kept[q["id"]]) for q in para["qas"] if q["id"] in kept]
            if qas:
                paragraphs.append({"context": para["context"], "qas": qas})
        if paragraphs:
            data.append({"title": article["title"], "paragraphs": paragraphs})
    out.write_text(json.dumps({"version": version, "data": data}, indent=1) + "\n")
    source = {"origin": origin, "license": "CC BY-SA 4.0 (derived from SQuAD 2.0)", "prompt": prompt, "asked": len(rows), "kept": len(kept)}
    out.with_suffix(".source.json").write_text(json.dumps(source, indent=1) + "\n")
    print(f"{len(kept)} of {len(rows)} kept -> {out}", flush=True)
    return 0
