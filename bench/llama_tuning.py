"""llama.cpp settings measured, not guessed: prompt reading and generation speed for each variant.

    .venv/bin/python -m bench.llama_tuning [--tokens 600] [--repeats 3]

Each variant loads the bundled model with other `Llama(...)` arguments and reads the same prompt
(the seed article cut to `--tokens` tokens) from an empty cache, then generates 32 tokens. The
figures go to docs/performance.md by hand; `qa.llm` uses the fastest.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

VARIANTS = {
    "defaults (n_threads only)": {},
    "n_threads_batch set": {"n_threads_batch": "T"},
    "+ n_batch/n_ubatch 1024": {"n_threads_batch": "T", "n_batch": 1024, "n_ubatch": 1024},
    "+ flash_attn": {"n_threads_batch": "T", "flash_attn": True},
    "+ flash_attn, n_batch/n_ubatch 1024": {"n_threads_batch": "T", "flash_attn": True, "n_batch": 1024, "n_ubatch": 1024},
}


def measure(model: str, prompt: str, kwargs: dict, threads: int, repeats: int) -> dict:
    from llama_cpp import Llama

    kwargs = {k: threads if v == "T" else v for k, v in kwargs.items()}
    llama = Llama(model_path=model, n_ctx=2048, n_threads=threads, n_gpu_layers=0, verbose=False, **kwargs)
    tokens = llama.tokenize(prompt.encode())
    reads, gens = [], []
    for _ in range(repeats):
        llama.reset()  # the next eval overwrites the cache from the start
        t0 = time.perf_counter()
        llama.eval(tokens)
        reads.append(len(tokens) / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        n = 0
        for _ in llama.generate([], top_k=1, temp=0.0, reset=False):
            n += 1
            if n == 32:
                break
        gens.append(n / (time.perf_counter() - t0))
    llama.close()
    return {"prompt_tokens": len(tokens), "read_tok_s": round(max(reads), 1), "read_tok_s_all": [round(r, 1) for r in reads],
            "gen_tok_s": round(max(gens), 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    from qa.model_file import resolve_model
    from qa.settings import get_settings

    p = argparse.ArgumentParser(prog="python -m bench.llama_tuning", description=__doc__)
    p.add_argument("--tokens", type=int, default=600)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--only", help="comma-separated variant numbers (0-based)")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    settings = get_settings()
    model = str(resolve_model(settings.llm.model_path, settings.llm.cache_dir, True))
    seed = next(Path("seeds").glob("*")).read_text(encoding="utf-8")
    prompt = " ".join(seed.split()[: int(args.tokens * 0.72)])  # about 1.4 tokens a word in this article
    chosen = [int(x) for x in args.only.split(",")] if args.only else range(len(VARIANTS))
    results = {}
    for i, (name, kwargs) in enumerate(VARIANTS.items()):
        if i not in chosen:
            continue
        results[name] = measure(model, prompt, kwargs, settings.llm.threads, args.repeats)
        print(f"{name:40} {json.dumps(results[name])}", flush=True)
    if args.out:
        args.out.write_text(json.dumps({"build": os.environ.get("QA_BUILD_LABEL", ""), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
