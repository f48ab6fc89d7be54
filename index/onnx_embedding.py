"""The bundled embedding model in ONNX Runtime: no torch in the process that embeds.

The model is exported once from the installed package's weights (torch is needed for that step
only) into the cache, keyed by the model's files, so a changed model is exported again:

    <cache>/onnx/all-MiniLM-L6-v2-<key>/model.onnx        float32, attention fused (same vectors as torch)
    <cache>/onnx/all-MiniLM-L6-v2-<key>/model-int8.onnx   int8 weights (7 bits used), per channel (about twice as fast)

The graph ends with the model's own mean pooling and L2 normalisation, so its output is the
sentence embedding. Texts are tokenized by `tokenizers` (the model's tokenizer.json), sorted by
length so that a batch carries little padding (float32; the int8 model embeds one text per run, so
that a text's vector never depends on its batch), and embedded on `threads` threads; a few texts (a
question, an answer's sentences) on one thread, where more threads only wait on each other.
"""

import hashlib
import os
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from index.minilm import MAX_TOKENS, MODEL_NAME, model_folder

FILES = {False: "model.onnx", True: "model-int8.onnx"}
# 7-bit weights: a CPU without VNNI sums int8 products in pairs into a saturating int16, which 255 * 127 * 2
# overflows (0.6% of this model's products on a real sentence), so vectors would depend on the CPU; 255 * 64 * 2 does not.
QUANTIZATION = "int8 per channel, reduce_range"
SMALL_BATCH = 8  # up to this many texts are embedded on one thread (a question, an answer's sentences)


def model_key(folder: Path) -> str:
    """Names, sizes and modification times of the model's files, the content of the small ones, and how they are quantized."""
    h = hashlib.sha256(QUANTIZATION.encode())
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        st = f.stat()
        h.update(f"{f.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        if st.st_size < 1_000_000:
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def export_dir(cache_dir: Path, folder: Path | None = None) -> Path:
    folder = folder or model_folder()
    return Path(cache_dir) / "onnx" / f"{MODEL_NAME}-{model_key(folder)}"


def ensure_exported(cache_dir: Path, int8: bool, progress: bool = True, folder: Path | None = None) -> Path:
    """The ONNX file of the model, exported (both variants at once) if the cache does not hold it yet."""
    folder = folder or model_folder()
    target = export_dir(cache_dir, folder)
    path = target / FILES[int8]
    if not path.exists():
        if progress:
            print(f"note: exporting the embedding model to ONNX, once (about 15 s): {target}", file=sys.stderr, flush=True)
        export(folder, target)
    return path


def export(folder: Path, target: Path) -> None:
    """Export the model with its pooling to `target` (float32 fused, and int8). Needs torch, onnx."""
    import logging
    import warnings

    import torch
    import transformers
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    logging.getLogger("onnxruntime").setLevel(logging.ERROR)
    target.mkdir(parents=True, exist_ok=True)
    model = transformers.AutoModel.from_pretrained(str(folder)).eval()
    config = model.config
    tag = f".tmp-{os.getpid()}-{threading.get_ident()}"
    raw, fused, int8 = (target / f"{name}{tag}" for name in ("raw.onnx", FILES[False], FILES[True]))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    dynamic = {n: {0: "batch", 1: "tokens"} for n in names} | {"embedding": {0: "batch"}}
    example = (torch.ones(2, 16, dtype=torch.long), torch.ones(2, 16, dtype=torch.long), torch.zeros(2, 16, dtype=torch.long))
    root = logging.getLogger()
    level = root.level
    try:
        root.setLevel(logging.ERROR)  # the quantizer's advice is logged on the root logger
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(_pooled(model), example, str(raw), input_names=names, output_names=["embedding"],
                              dynamic_axes=dynamic, opset_version=17, dynamo=False)  # fmt: skip
        optimize_model(str(raw), model_type="bert", num_heads=config.num_attention_heads,
                       hidden_size=config.hidden_size, opt_level=1).save_model_to_file(str(fused))  # fmt: skip
        quantize_dynamic(str(raw), str(int8), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
        os.replace(fused, target / FILES[False])  # atomic: another process sees the whole file or none
        os.replace(int8, target / FILES[True])
    finally:
        root.setLevel(level)
        for f in (raw, fused, int8):
            f.unlink(missing_ok=True)


def _pooled_class():
    import torch

    class Pooled(torch.nn.Module):
        """The transformer, then mean pooling over real tokens and L2 normalisation (sentence-transformers' modules)."""

        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    return Pooled


def _pooled(model):
    return _pooled_class()(model)  # the class is built here, so that torch is imported only to export


class OnnxEmbedding(BaseEmbedding):
    """all-MiniLM-L6-v2 in ONNX Runtime, as a llama-index embedding model."""

    _file: Path = PrivateAttr()
    _threads: int = PrivateAttr()
    _tokenizer: Any = PrivateAttr()
    _counter: Any = PrivateAttr()
    _sessions: dict = PrivateAttr(default_factory=dict)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, model_file: Path, tokenizer_file: Path, threads: int, batch_size: int = 32) -> None:
        super().__init__(model_name=MODEL_NAME, embed_batch_size=batch_size)
        from tokenizers import Tokenizer

        self._file = Path(model_file)
        self._threads = threads
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()
        self._counter = Tokenizer.from_file(str(tokenizer_file))  # no truncation: the chunker needs true lengths
        self._counter.no_truncation()
        self._counter.no_padding()

    @classmethod
    def class_name(cls) -> str:
        return "OnnxEmbedding"

    def token_ids(self, text: str) -> list[int]:
        """Word pieces of `text` as the model sees them, special tokens included, never truncated."""
        return self._counter.encode(text, add_special_tokens=True).ids

    def _session(self, threads: int):
        with self._lock:
            if threads not in self._sessions:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                options.log_severity_level = 3
                if threads == 1:
                    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                self._sessions[threads] = ort.InferenceSession(str(self._file), options, providers=["CPUExecutionProvider"])
            return self._sessions[threads]

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of `texts` (rows in the same order)."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        session = self._session(1 if len(texts) <= SMALL_BATCH else self._threads)
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), 0), dtype=np.float32)
        # int8: one text per run. Its activations are quantised with one scale per run, so a text
        # embedded beside others would get a vector that depends on them (up to 0.02 per element);
        # alone it is always the same, and as fast here (no padding).
        step = 1 if self._file.name == FILES[True] else max(1, self.embed_batch_size)
        for at in range(0, len(order), step):
            rows = order[at : at + step]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            got = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
            if out.shape[1] == 0:
                out = np.zeros((len(texts), got.shape[1]), dtype=np.float32)
            out[rows] = got
        return out

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.embed([query])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.embed(texts).tolist()

    def get_text_embedding_batch(self, texts: list[str], show_progress: bool = False, **kwargs: Any) -> list[list[float]]:
        """All at once, so that the whole list is sorted by length (llama-index would cut it first)."""
        return self._get_text_embeddings(list(texts))


def load(cache_dir: Path, threads: int, int8: bool, batch_size: int = 32, progress: bool = True) -> OnnxEmbedding:
    folder = model_folder()
    path = ensure_exported(cache_dir, int8, progress, folder)
    return OnnxEmbedding(path, folder / "tokenizer.json", threads, batch_size)

