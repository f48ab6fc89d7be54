"""Read the documents of a folder: their names, text and content hash."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from index.errors import StoreError

SUFFIXES = (".txt", ".md")


@dataclass(frozen=True)
class Document:
    name: str  # path relative to the indexed folder, with forward slashes
    text: str
    sha256: str


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


def read_folder(path: Path, max_bytes: int) -> tuple[list[Document], list[Skipped]]:
    """Read every supported file under `path` (or `path` itself when it is a file).

    A file that cannot be read is skipped with its reason; the rest is still returned.
    """
    path = Path(path)
    if not path.exists():
        raise StoreError(f"No such file or folder: {path}")
    root = path if path.is_dir() else path.parent
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    docs: list[Document] = []
    skipped: list[Skipped] = []
    for file in files:
        name = file.relative_to(root).as_posix()
        if any(part.startswith(".") for part in file.relative_to(root).parts):
            continue
        if file.suffix.lower() not in SUFFIXES:
            skipped.append(Skipped(name, f"unsupported type (supported: {', '.join(SUFFIXES)})"))
            continue
        reason = _unreadable(file, root, max_bytes)
        if reason:
            skipped.append(Skipped(name, reason))
            continue
        data = file.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            skipped.append(Skipped(name, "not UTF-8 text"))
            continue
        if "\x00" in text:
            skipped.append(Skipped(name, "binary content"))
            continue
        if not text.strip():
            skipped.append(Skipped(name, "empty"))
            continue
        docs.append(Document(name, text, hashlib.sha256(data).hexdigest()))
    return docs, skipped


def _unreadable(file: Path, root: Path, max_bytes: int) -> str | None:
    if file.is_symlink() and not file.resolve().is_relative_to(root.resolve()):
        return "symlink pointing outside the folder"
    size = file.stat().st_size
    if size > max_bytes:
        return f"too large ({size:,} bytes; the limit is {max_bytes:,}, setting QA_MAX_FILE_BYTES)"
    return None
