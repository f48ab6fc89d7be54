"""The verifier: a small cross-encoder that says whether a passage supports a claim.

A claim is a question ("Who built the lighthouse?") or a question with a proposed answer
("Who built the lighthouse? Answer: Robert Stevenson built it."); the score is the probability
that the evidence answers the question with that answer. It is the passage reranker
cross-encoder/ms-marco-MiniLM-L-12-v2 fine-tuned here on SQuAD 2.0 (`python -m train.verifier`), run
as int8 ONNX: milliseconds a pair on one core, where asking the language model took 0.5 to 0.9 s.
What it was trained on, how it scores and what it replaced: docs/verifier.md.
"""

import math
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.errors import UserError

FOLDER = Path(__file__).parent / "models" / "verifier"
ANSWER = " Answer: "  # as train/verifier_data.py writes claims
MAX_TOKENS = 256


def claim(question: str, answer: str | None = None) -> str:
    return question if not answer else f"{question}{ANSWER}{answer}"


class Verifier:
    """(claim, evidence) pairs in, probabilities out. Safe to share between threads."""

    def __init__(self, folder: Path = FOLDER, threads: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model, vocab = folder / "verifier.onnx", folder / "tokenizer.json"
        if not model.exists() or not vocab.exists():
            raise UserError(f"The verifier's weights are missing from {folder}: reinstall, or run `python -m train.verifier`.")
        self._tokenizer = Tokenizer.from_file(str(vocab))
        self._tokenizer.enable_truncation(MAX_TOKENS, strategy="longest_first")  # a long claim is cut too, never an error
        self._tokenizer.no_padding()  # tokenizer.json asks for padding
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()  # the tokenizer's truncation state is shared

    def logits(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Each pair is run alone. In a padded batch int8 dynamic quantization takes one activation scale
        over every pair and the padding, so a pair's score moved with the others asked beside it (by up to
        2.2 log-odds on the seed's answers); alone it is the same wherever it is asked, and no slower (no padding)."""
        with self._lock:
            encoded = self._tokenizer.encode_batch([(c, e) for c, e in pairs])
        out = np.zeros(len(encoded), dtype=np.float32)
        for i, e in enumerate(encoded):
            feed = {
                "input_ids": np.array([e.ids], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids], dtype=np.int64),
            }
            out[i] = float(np.asarray(self._session.run(None, feed)[0]).reshape(-1)[0])
        return out

    def __call__(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """The probability that each evidence supports its claim."""
        return [1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, float(z))))) for z in self.logits(pairs)]
