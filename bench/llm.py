"""Benchmark phases that run the language model: answer timings, raw llama.cpp speed, cold start, serving memory."""

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

from bench.stats import percentiles
from bench.servers import BIN

SEED_QUESTIONS = Path(__file__).resolve().parents[1] / "eval" / "seed.jsonl"


def seed_questions(n: int) -> list[str]:
    rows = [json.loads(line) for line in SEED_QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["question"] for r in rows if r.get("answerable", True)][:n]


def answers(settings, questions: list[str]) -> dict:
    """Where the wait for the first word goes, question by question, in a warm process.

    For each seed question: the prompt's tokens (instructions, passages, question), how many of them
    llama.cpp had to read (the rest it held from the warm-up), the reading speed, time to sources,
    to first token, generation speed and total. Then the very same prompt through raw llama-cpp-python
    (`create_completion`, same model object, greedy, same stop), from the same held instructions.
    The model is loaded before the clock starts.
    """
    import qa
    from qa.llm.llamacpp import STOP, LlamaCpp, chatml
    from qa.prompt import build_messages, instructions

    pipeline = qa.load(settings)
    t0 = time.perf_counter()
    model = pipeline.warm()
    load = time.perf_counter() - t0
    pipeline.retrieve("warm up")
    llama = model.llama if isinstance(model, LlamaCpp) else None
    count = (lambda text: len(llama.tokenize(text.encode(), special=True))) if llama else None
    system = count(chatml(instructions(settings.answer.style)[:1])) if count else None
    rows, ours_tok, ours_s, raw_tok, raw_s = [], 0, 0.0, 0, 0.0
    from tqdm import tqdm

    for q in tqdm(questions, desc="answers", unit="question", file=sys.stderr):
        held = list(llama.input_ids[: llama.n_tokens]) if llama else []
        stamps, answer = [], None
        for event in pipeline.stream(q):
            if isinstance(event, str):
                stamps.append(time.perf_counter())
            elif not isinstance(event, list):
                answer = event
        t = answer.timings
        row = {"question": q, "sources_s": t["sources"], "first_token_s": t.get("first_token"), "total_s": t["total"],
               "refused": answer.refused}  # fmt: skip
        if llama is not None and answer.context and len(stamps) > 2:
            excerpts = pipeline.excerpts(q, answer.passages)  # as the pipeline did
            prompt = chatml(build_messages(q, excerpts, settings.answer.style))
            tokens = llama.tokenize(prompt.encode(), special=True)
            shared = next((i for i, (a, b) in enumerate(zip(held, tokens)) if a != b), min(len(held), len(tokens)))
            question_tokens = count(f"Question: {q}<|im_end|>\n<|im_start|>assistant\n")
            read_s = t["first_token"] - t.get("excerpts", t["sources"])
            row.update(prompt_tokens=len(tokens), system_tokens=system, question_tokens=question_tokens,
                       passage_tokens=len(tokens) - system - question_tokens, read_tokens=len(tokens) - shared,
                       read_tok_s=round((len(tokens) - shared) / read_s, 1) if read_s > 0 else None,
                       gen_tok_s=round((len(stamps) - 1) / (stamps[-1] - stamps[0]), 1))  # fmt: skip
            ours_tok += len(stamps) - 1
            ours_s += stamps[-1] - stamps[0]
            model.restore()  # raw starts from the same held instructions as ours did
            raw, r0 = [], time.perf_counter()
            for _ in llama.create_completion(prompt, max_tokens=settings.llm.max_new_tokens, temperature=0.0, top_k=1,
                                             stop=[STOP], stream=True):  # fmt: skip
                raw.append(time.perf_counter())
            if len(raw) > 2:
                raw_tok += len(raw) - 1
                raw_s += raw[-1] - raw[0]
                row.update(raw_first_token_s=round(raw[0] - r0, 3), raw_gen_tok_s=round((len(raw) - 1) / (raw[-1] - raw[0]), 1))
            model.restore()
        rows.append(row)
    out = {
        "questions": len(rows),
        "model_load_s": round(load, 3),
        "sources_s": percentiles([r["sources_s"] for r in rows]),
        "first_token_s": percentiles([r["first_token_s"] for r in rows if r["first_token_s"] is not None]),
        "total_s": percentiles([r["total_s"] for r in rows]),
        "refused": sum(r["refused"] for r in rows),
        "first_question_first_token_s": rows[0]["first_token_s"] if rows else None,
        "rows": rows,
    }
    for key in ("prompt_tokens", "passage_tokens", "read_tokens", "read_tok_s", "raw_first_token_s"):
        out[key] = percentiles([r.get(key) for r in rows])
    if ours_s and raw_s:
        ours, raw = ours_tok / ours_s, raw_tok / raw_s
        out.update(tokens_per_s=round(ours, 2), raw_tokens_per_s=round(raw, 2), tokens_ratio=round(ours / raw, 3))
    return out


def breakdown(answers: dict) -> str:
    """The answers phase question by question, as a Markdown table."""
    lines = ["| question | prompt tok (system/passages/question) | read tok | read tok/s | sources s | first token s "
             "| raw first token s | gen tok/s | raw gen tok/s | total s |", "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in answers.get("rows", []):
        split = f"{r.get('prompt_tokens', '-')} ({r.get('system_tokens', '-')}/{r.get('passage_tokens', '-')}/{r.get('question_tokens', '-')})"
        lines.append(f"| {r['question'][:48]} | {split} | {r.get('read_tokens', '-')} | {r.get('read_tok_s', '-')} "
                     f"| {r['sources_s']:.3f} | {r['first_token_s'] or 0:.2f} | {r.get('raw_first_token_s', '-')} "
                     f"| {r.get('gen_tok_s', '-')} | {r.get('raw_gen_tok_s', '-')} | {r['total_s']:.2f} |")  # fmt: skip
    return "\n".join(lines)


def _env(settings) -> dict:
    env = {**os.environ, "QA_STORE_DIR": str(settings.store.dir), "QA_STORE_COLLECTION": settings.store.collection,
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}  # fmt: skip
    return env


def cold_start(settings, question: str, timeout: float = 300) -> dict:
    """`qa ask` in a fresh process, on a terminal: seconds until its first answer word appears.

    That bounds the cold start from above: imports, opening the store, loading both models, retrieval
    and reading the prompt all happen before it. A second run with `-X importtime` says whether
    gradio was imported and how long imports took.
    """
    import pty

    master, slave = pty.openpty()
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(BIN / "qa"), "ask", question], stdout=slave, stderr=subprocess.DEVNULL,
                            env=_env(settings))  # fmt: skip
    os.close(slave)
    first = None
    try:
        while time.perf_counter() - t0 < timeout:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    break
                if not data:
                    break
                if first is None and data.strip():
                    first = time.perf_counter() - t0
            elif proc.poll() is not None:
                break
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    total = time.perf_counter() - t0
    env = {**_env(settings), "PYTHONPROFILEIMPORTTIME": "1"}
    imports = subprocess.run([str(BIN / "qa"), "ask", question, "--json"], capture_output=True, text=True,
                             env=env, timeout=timeout)  # fmt: skip
    lines = [line for line in imports.stderr.splitlines() if line.startswith("import time:")]
    top = [line for line in lines if "|" in line and not line.split("|")[2].startswith("  ")]
    import_us = sum(int(line.split("|")[1]) for line in top if line.split("|")[1].strip().isdigit())
    return {
        "to_first_token_s": round(first, 3) if first is not None else None,
        "process_s": round(total, 3),
        "imports_s": round(import_us / 1e6, 3),
        "imports_gradio": any(line.split("|")[2].strip() == "gradio" for line in lines),
        "imports_torch": any(line.split("|")[2].strip() == "torch" for line in lines),
    }


def serve_memory(settings, question: str, timeout: float = 300) -> dict:
    """Peak RSS of `qa ui` after it has answered one question through its API (both models loaded)."""
    from gradio_client import Client

    from bench.servers import free_port, running

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with running([str(BIN / "qa"), "ui"], url, seconds=timeout, env={**_env(settings), "QA_WEB_PORT": str(port)}) as proc:
        t0 = time.perf_counter()
        Client(url, verbose=False).predict(question, api_name="/ask")
        answered = time.perf_counter() - t0
        status = Path(f"/proc/{proc.pid}/status").read_text()
    peak = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    return {"peak_rss_mb": round(peak / 1024, 1), "first_answer_s": round(answered, 2)}
